#!/usr/bin/env bash
# The pre-commit hook's first install, as a user's repository sees it: size of the hook's
# environment and the time of `pre-commit run --all-files` with an empty PRE_COMMIT_HOME.
# Round 1 warms pip's cache, round 2 is the figure ("from a warm cache").
#   benchmarks/precommit_install.sh REV [REPO]     (needs pre-commit on PATH: pip install pre-commit)
# REV is a commit of this repository (the hook is installed from it, as `rev:` would).
set -euo pipefail
rev=$(git -C "${2:-$(dirname "$0")/..}" rev-parse "$1")
charter=$(cd "${2:-$(dirname "$0")/..}" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git init -q -b main "$work/proj"
git -C "$charter" archive "$rev" specs charter.yaml schemas | tar -x -C "$work/proj"  # the example at REV
cat > "$work/proj/.pre-commit-config.yaml" <<YAML
repos:
  - repo: $charter
    rev: "$rev"
    hooks:
      - id: charter-validate
YAML
git -C "$work/proj" add -A && git -C "$work/proj" -c user.name=b -c user.email=b@e commit -qm init
for round in warm measure; do
  export PRE_COMMIT_HOME="$work/home-$round"
  start=$(python3 -c 'import time; print(time.time())')
  (cd "$work/proj" && pre-commit run --all-files > "$work/$round.log" 2>&1) || { cat "$work/$round.log"; exit 1; }
  took=$(python3 -c "import time; print(round(time.time() - $start, 1))")
  echo "${rev:0:12} $round: ${took} s, hook environment $(du -sm "$PRE_COMMIT_HOME" | cut -f1) MB"
done
