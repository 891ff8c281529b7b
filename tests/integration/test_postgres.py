"""Integration tier: a real PostgreSQL server as a DataSource.

The server is the `postgres` fixture of tests/integration/conftest.py: a throwaway cluster on
a Unix socket, which skips without PostgreSQL's binaries but fails under CI=true.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import REPO, give_pods, run_charter
from tests.integration.conftest import PASSWORD, ROLE

pytestmark = pytest.mark.integration


def test_postgres_source_end_to_end(postgres, example_repo):
    data = example_repo / "specs/churn/data.yaml"
    text = data.read_text().replace("  format: csv\n  path: specs/data/customers.csv\n",
                                    "  format: sql\n  query: select * from customers order by customer_id\n"
                                    "  connection: {url_env: CHURN_DB_URL}\n")
    data.write_text(text)
    give_pods(example_repo, "CHURN_DB_URL")
    assert run_charter("validate", cwd=example_repo).returncode == 0
    result = run_charter("run", "churn", cwd=example_repo, env={"CHURN_DB_URL": postgres})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "372 rows, 9 columns" in result.stdout
    assert "promoted" in result.stdout


def test_postgres_errors_do_not_leak_the_url(postgres, example_repo):
    data = example_repo / "specs/churn/data.yaml"
    data.write_text(data.read_text().replace("  format: csv\n  path: specs/data/customers.csv\n",
                                             "  format: sql\n  table: no_such_table\n"
                                             "  connection: {url_env: CHURN_DB_URL}\n"))
    give_pods(example_repo, "CHURN_DB_URL")
    secret_url = postgres.replace("postgres@", "postgres:s3cr3t-pw@")
    result = run_charter("check-data", "customers", cwd=example_repo, env={"CHURN_DB_URL": secret_url})
    assert result.returncode == 1
    assert "query failed" in result.stdout
    assert "s3cr3t-pw" not in result.stdout + result.stderr
    missing = run_charter("check-data", "customers", cwd=example_repo, env={"CHURN_DB_URL": ""})
    assert missing.returncode == 1 and "`CHURN_DB_URL` is not set" in missing.stdout


def _sql_source(repo: Path, spec: str) -> None:
    text = (REPO / "specs/churn/data.yaml").read_text()
    (repo / "specs/churn/data.yaml").write_text(text.replace(
        "  format: csv\n  path: specs/data/customers.csv\n",
        f"  format: sql\n  {spec}\n  connection: {{url_env: CHURN_DB_URL}}\n"))
    give_pods(repo, "CHURN_DB_URL")


def _as_role(url: str, password: str) -> str:
    return url.replace("postgres@", f"{ROLE}:{password}@")


def test_postgres_with_the_right_password_reads_the_table(postgres, example_repo):
    _sql_source(example_repo, "table: customers")
    result = run_charter("check-data", "customers", cwd=example_repo,
                         env={"CHURN_DB_URL": _as_role(postgres, PASSWORD)})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "372 rows, 9 columns" in result.stdout


def test_postgres_wrong_password_says_authentication_failed(postgres, example_repo):
    _sql_source(example_repo, "table: customers")
    result = run_charter("check-data", "customers", cwd=example_repo,
                         env={"CHURN_DB_URL": _as_role(postgres, "wrong-pw-123")})
    out = result.stdout + result.stderr
    assert result.returncode == 2, out
    socket = postgres.split("host=")[1].split("&")[0]
    assert f"the database `postgres` on `{socket}:55432` refused the credentials in `CHURN_DB_URL` " \
           "(authentication failed)" in out
    assert "customers-quality/ingest" in out and "failed" in out
    assert "wrong-pw-123" not in out and ROLE not in out and "internal error" not in out


def test_postgres_missing_table_and_column_are_named(postgres, example_repo):
    _sql_source(example_repo, "table: customer")
    result = run_charter("check-data", "customers", cwd=example_repo, env={"CHURN_DB_URL": postgres})
    assert result.returncode == 1, result.stdout + result.stderr
    assert "source `customers`: the query failed: table `customer` does not exist" in result.stdout
    _sql_source(example_repo, "query: select customer_id, churn from customers")
    result = run_charter("check-data", "customers", cwd=example_repo,
                         env={"CHURN_DB_URL": _as_role(postgres, PASSWORD)})
    assert result.returncode == 1, result.stdout + result.stderr
    assert "source `customers`: the query failed: column `churn` does not exist" in result.stdout
    assert PASSWORD not in result.stdout + result.stderr


def test_postgres_server_not_running_is_a_connection_error(postgres, example_repo):
    _sql_source(example_repo, "table: customers")
    url = _as_role(postgres, PASSWORD).replace("port=55432", "port=55439")
    result = run_charter("check-data", "customers", cwd=example_repo, env={"CHURN_DB_URL": url})
    out = result.stdout + result.stderr
    assert result.returncode == 2, out
    socket = postgres.split("host=")[1].split("&")[0]
    assert f"cannot connect to the database `postgres` on `{socket}:55439`" in out
    assert PASSWORD not in out and ROLE not in out


def test_a_watermark_shows_new_rows_to_status_and_run(postgres, example_repo):
    """`watermark`: the fingerprint of a database source covers its rows (count and newest value).

    `charter status --data` (what the data-change poll runs) sees rows arrive; `charter run`
    re-reads and retrains then, and is cached while nothing changed.
    """
    import sqlalchemy

    engine = sqlalchemy.create_engine(postgres)
    with engine.begin() as conn:
        conn.exec_driver_sql("drop table if exists customers_live")
        conn.exec_driver_sql("create table customers_live as select * from customers")
    _sql_source(example_repo, "query: select * from customers_live order by customer_id")
    data = example_repo / "specs/churn/data.yaml"
    data.write_text(data.read_text().replace("  connection: {url_env: CHURN_DB_URL}\n",
                                             "  connection: {url_env: CHURN_DB_URL}\n  watermark: signup_date\n", 1))
    model = example_repo / "specs/churn/model.yaml"
    model.write_text(model.read_text().replace("  guardrails:\n", "  retrain: {on_data_change: true}\n  guardrails:\n",
                                               1))
    env = {"CHURN_DB_URL": postgres}
    assert run_charter("validate", cwd=example_repo).returncode == 0
    first = run_charter("run", "churn", cwd=example_repo, env=env)
    assert first.returncode == 0 and "promoted" in first.stdout, first.stdout + first.stderr
    quiet = run_charter("status", "--data", cwd=example_repo, env=env)
    assert quiet.returncode == 0 and "unchanged since charter.lock's run" in quiet.stdout, quiet.stdout + quiet.stderr
    cached = run_charter("run", "churn", cwd=example_repo, env=env)
    assert cached.returncode == 0 and "promoted" not in cached.stdout and "cached" in cached.stdout, cached.stdout

    with engine.begin() as conn:  # the newest customers arrive
        conn.exec_driver_sql("insert into customers_live select 'C9' || substr(customer_id, 3), '2026-11-30', "
                             "tenure_months, contract, monthly_charges, total_charges, support_calls, region, churned "
                             "from customers order by customer_id limit 30")
    changed = run_charter("status", "--data", "churn", "--format", "json", cwd=example_repo, env=env)
    assert changed.returncode == 2, changed.stdout + changed.stderr
    import json

    [entry] = json.loads(changed.stdout)["data"]
    assert entry["state"] == "changed" and entry["now"] != entry["recorded"]
    again = run_charter("run", "churn", cwd=example_repo, env=env)
    assert again.returncode == 0 and "402 rows" in again.stdout and "promoted" in again.stdout, again.stdout
    assert run_charter("status", "--data", cwd=example_repo, env=env).returncode == 0

    unreadable = run_charter("status", "--data", cwd=example_repo, env={"CHURN_DB_URL": ""})
    assert unreadable.returncode == 1 and "`CHURN_DB_URL` is not set" in unreadable.stderr + unreadable.stdout
    assert "Traceback" not in unreadable.stderr
    engine.dispose()
