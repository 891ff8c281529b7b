"""Integration tier: a real PostgreSQL server as a DataSource.

The test starts a throwaway cluster from the machine's PostgreSQL binaries (Debian's
`postgresql` package; `.ci/run` installs it) on a Unix socket in a temporary folder, so no
TCP port and no other server are involved. Without the binaries or the driver it skips, but
under CI=true it fails instead.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, run_charter

pytestmark = pytest.mark.integration
ROLE, PASSWORD = "charter_reader", "right-horse-battery"


def _missing(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so this integration test may not skip)")
    pytest.skip(reason)


def _binary(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


@pytest.fixture(scope="module")
def postgres() -> str:
    pytest.importorskip("polars")
    try:
        import psycopg  # noqa: F401
        import sqlalchemy  # noqa: F401
    except ImportError:
        _missing("SQLAlchemy and psycopg are not installed (pip install -e '.[postgres]')")
    initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
    if not initdb or not pg_ctl:
        _missing("PostgreSQL server binaries not found (apt-get install postgresql)")
    import tempfile

    # Not under pytest's tmp folder: that one is private to the current user, and the server
    # may have to run as the `postgres` user.
    base = Path(tempfile.mkdtemp(prefix="charter-pg-"))
    data, sock = base / "data", base / "sock"
    sock.mkdir()
    prefix: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root: use the package's system user
        prefix = ["runuser", "-u", "postgres", "--"]
        shutil.chown(base, "postgres")
        shutil.chown(sock, "postgres")
    subprocess.run([*prefix, initdb, "-D", str(data), "-A", "trust", "-U", "postgres"], check=True,
                   capture_output=True)
    # One role that must give its password (the first matching line of pg_hba.conf wins), for
    # the wrong-password case; `postgres` keeps trust.
    hba = data / "pg_hba.conf"
    hba.write_text(f"local all {ROLE} scram-sha-256\n" + hba.read_text())
    port = "55432"
    subprocess.run([*prefix, pg_ctl, "-D", str(data), "-l", str(base / "log"), "-w", "-o",
                    f"-p {port} -k {sock} -c listen_addresses=''", "start"], check=True, capture_output=True)
    url = f"postgresql+psycopg://postgres@/postgres?host={sock}&port={port}"
    try:
        import sqlalchemy

        engine = sqlalchemy.create_engine(url)
        for _ in range(50):
            try:
                with engine.begin() as conn:
                    conn.exec_driver_sql("select 1")
                break
            except sqlalchemy.exc.OperationalError:
                time.sleep(0.1)
        rows = (REPO / "specs/data/customers.csv").read_text().splitlines()
        with engine.begin() as conn:
            conn.exec_driver_sql("create table customers (customer_id text, signup_date text, tenure_months integer,"
                                 " contract text, monthly_charges double precision, total_charges double precision,"
                                 " support_calls integer, region text, churned text)")
            for line in rows[1:]:
                v = line.split(",")
                conn.exec_driver_sql("insert into customers values (%s,%s,%s,%s,%s,%s,%s,%s,%s)",
                                     (v[0], v[1], int(v[2]), v[3], float(v[4]) if v[4] else None, float(v[5]),
                                      int(v[6]), v[7], v[8]))
            conn.exec_driver_sql(f"create role {ROLE} login password '{PASSWORD}'")
            conn.exec_driver_sql(f"grant select on customers to {ROLE}")
        engine.dispose()
        yield url
    finally:
        subprocess.run([*prefix, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def test_postgres_source_end_to_end(postgres, example_repo):
    data = example_repo / "specs/churn/data.yaml"
    text = data.read_text().replace("  format: csv\n  path: specs/data/customers.csv\n",
                                    "  format: sql\n  query: select * from customers order by customer_id\n"
                                    "  connection: {url_env: CHURN_DB_URL}\n")
    data.write_text(text)
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
