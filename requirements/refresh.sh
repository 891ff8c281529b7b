#!/usr/bin/env bash
# The pinned dependency sets, resolved again from their ranges with uv (in the dev extra):
#   requirements/constraints.txt  every extra of pyproject.toml but `feast` (core, run, dev,
#                                 duckdb, postgres, spark, serve, mlflow, site, browser, bench), for
#                                 Python 3.11 and later on any platform; the README's commands
#                                 and .ci/run install with `-c` on it
#   requirements/airflow.txt      the integration tier's Airflow venv (.ci/airflow.sh)
#   requirements/feast.txt        the core, the `feast` extra (run + Feast), `serve` and
#                                 requirements/feast.in, resolved together: Feast's range for
#                                 prometheus-client excludes constraints.txt's pin, so it cannot share
#                                 that file; with serve in, an image with both installs from this one
#
#   requirements/refresh.sh          rewrite both files with the newest versions the ranges allow
#   requirements/refresh.sh --check  write nothing: print what a refresh would change, exit 1 if anything
set -euo pipefail
cd "$(dirname "$0")/.."
uv=${UV:-uv}
command -v "$uv" >/dev/null || { echo "refresh.sh needs uv: pip install uv (it is in the dev extra)" >&2; exit 2; }

out=requirements
if [ "${1:-}" = "--check" ]; then
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
elif [ -n "${1:-}" ]; then
  echo "usage: requirements/refresh.sh [--check]" >&2
  exit 2
fi

compile() {  # compile SOURCE OUTPUT [ARGS...]
  local src=$1 dest=$2
  shift 2
  "$uv" pip compile "$src" "$@" --universal --python-version 3.11 --upgrade --quiet \
    --custom-compile-command "requirements/refresh.sh" -o "$dest"
}
# Every extra but feast, read from pyproject.toml so that a new extra is pinned without editing this.
read -ra extras < <(python3 -c 'import tomllib
extras = tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]
print(" ".join(f"--extra {name}" for name in extras if name != "feast"))')
compile pyproject.toml "$out/constraints.txt" "${extras[@]}"
compile requirements/airflow.in "$out/airflow.txt"
compile pyproject.toml "$out/feast.txt" requirements/feast.in --extra feast --extra serve

if [ "$out" != requirements ]; then
  changed=0
  for name in constraints.txt airflow.txt feast.txt; do
    if ! diff -u "requirements/$name" "$out/$name" --label "requirements/$name (committed)" \
         --label "requirements/$name (refreshed)"; then
      changed=1
    fi
  done
  [ "$changed" = 0 ] && echo "ok: the pinned versions are the newest the ranges allow"
  exit "$changed"
fi
