#!/usr/bin/env bash
# Integration tier of `format: feast`: a real Feast builds and applies a local feature repository
# (file offline store over Parquet, SQLite registry), and the real `charter validate`, `check-data`
# and `run` read it (tests/integration/test_feast.py).
#
# Feast cannot share requirements/constraints.txt (its range for prometheus-client excludes that
# file's pin), so it lives in its own venv (FEAST_VENV, default .venv-feast), installed as a user
# installs it: this checkout with the `feast` extra, pinned by requirements/feast.txt.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=${FEAST_VENV:-.venv-feast}

echo "== feast: venv $venv"
start=$(date +%s)
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q -c requirements/feast.txt -e '.[feast]' pytest  # pinned: requirements/refresh.sh
echo "feast: venv ready in $(( $(date +%s) - start )) s, $(du -sm "$venv" | cut -f1) MB"

echo "== feast: a real feature repository, joined by charter"
# PYTHONPATH lets pytest import `tests` (the repository builder in tests/feastrepo.py).
PYTHONPATH="$PWD" CHARTER_FEAST=1 "$venv/bin/python" -m pytest -q -p no:cacheprovider -p no:warnings -m integration \
  tests/integration/test_feast.py
