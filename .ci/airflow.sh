#!/usr/bin/env bash
# Integration tier of the `airflow` target: a real Airflow 3 imports the generated DAG files
# (DagBag), and runs the BashOperator ones with the real `charter` (dag.test()).
#
# Airflow's dependencies clash with charter's, so it lives in its own venv (AIRFLOW_VENV,
# default .venv-airflow). Charter's venv renders the DAG files first: run this with charter's
# venv active (as .ci/run does), or point CHARTER_PYTHON at a python that imports charter.
# PyPI is the only index used; the versions are pinned in requirements/airflow.txt (Airflow's own
# constraints files live on GitHub, which may be unreachable).
set -euo pipefail
cd "$(dirname "$0")/.."

charter_python=${CHARTER_PYTHON:-python3}
charter_bin=${CHARTER_BIN:-$(command -v charter || true)}
venv=${AIRFLOW_VENV:-.venv-airflow}

echo "== airflow: venv $venv"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q -r requirements/airflow.txt  # pinned: requirements/refresh.sh

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== airflow: render the DAG files with charter"
PYTHONPATH="$PWD" "$charter_python" -m tests.integration.test_airflow_dags "$work/dags"

echo "== airflow: import and run them with Airflow"
# PYTHONPATH lets pytest import `tests`; the tests read the rendered files and never need
# charter's dependencies, which this venv does not have.
CHARTER_AIRFLOW_DAGS="$work/dags" CHARTER_BIN="$charter_bin" PYTHONPATH="$PWD" \
  "$venv/bin/python" -m pytest -q -p no:cacheprovider -p no:warnings -m integration tests/integration/test_airflow_dags.py
