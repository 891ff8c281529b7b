"""End to end: `charter check-data` of a foreign key into another DataSource, on polars and on DuckDB."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_charter

pl = pytest.importorskip("polars")

SPECS = """\
apiVersion: charter/v1
kind: DataSource
metadata: {name: accounts}
spec:
  format: csv
  path: data/accounts.csv
  primary_key: [account_id]
  schema:
    - {name: account_id, type: integer, nullable: false}
    - {name: plan, type: category}
---
apiVersion: charter/v1
kind: DataSource
metadata: {name: payments}
spec:
  format: parquet
  path: data/payments.parquet
ENGINE  schema:
    - {name: payment_id, type: integer, nullable: false}
    - {name: account_id, type: integer}
    - {name: amount, type: float}
---
apiVersion: charter/v1
kind: ValidationSuite
metadata: {name: payments-quality}
spec:
  source: payments
  rules:
    - {rule: foreign_key, id: known-account, columns: [account_id], references: {source: accounts}}
    - {rule: unique, columns: [payment_id]}
---
apiVersion: charter/v1
kind: Ownership
metadata: {name: payments-owners}
spec:
  covers: [accounts, payments, payments-quality]
  raci:
    data: {responsible: ["@acme/data"], accountable: "@dana"}
"""


@pytest.fixture(params=["polars", "duckdb"])
def repo(request, example_repo):
    engine = "  engine: duckdb\n  duckdb: {memory_limit: 256MiB, threads: 1}\n" if request.param == "duckdb" else ""
    (example_repo / "specs/payments.yaml").write_text(SPECS.replace("ENGINE", engine))
    (example_repo / "data").mkdir()
    (example_repo / "data/accounts.csv").write_text("account_id,plan\n1,free\n2,team\n3,team\n")
    pl.DataFrame({"payment_id": [10, 11, 12, 13, 14], "account_id": [1, 4, None, 3, 4],
                  "amount": [5.0, 7.5, 1.0, 2.0, 3.0]}).write_parquet(example_repo / "data/payments.parquet")
    return example_repo


def test_an_unknown_key_fails_and_new_keys_in_the_referenced_source_rerun_the_check(repo):
    result = run_charter("check-data", "payments-quality", "--format", "json", cwd=repo)
    assert result.returncode == 1, result.stdout + result.stderr
    doc = json.loads(result.stdout)
    rule = next(r for r in doc["rules"] if r["id"] == "known-account")
    # account 4 is not among the accounts (twice); a payment without an account is not judged here
    assert (rule["type"], rule["kind"], rule["failing"], rule["sample_rows"]) == ("foreign_key", "row", 2, [2, 5])
    assert rule["message"] == "2 row(s) have a key (account_id) not found in `accounts` (account_id)"

    with (repo / "data/accounts.csv").open("a") as fh:  # the referenced data changes, not the checked file
        fh.write("4,business\n")
    again = run_charter("check-data", "payments-quality", cwd=repo)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "cached" not in again.stdout.split("validate", 1)[1].splitlines()[0]
    cached = run_charter("check-data", "payments-quality", cwd=repo)
    assert cached.returncode == 0 and "cached" in cached.stdout, cached.stdout


def test_a_type_error_in_the_referenced_source_is_ingests_error(repo):
    (repo / "data/accounts.csv").write_text("account_id,plan\n1,free\nabc,team\n")
    result = run_charter("check-data", "payments-quality", cwd=repo)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "account_id" in result.stdout + result.stderr and "abc" in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
