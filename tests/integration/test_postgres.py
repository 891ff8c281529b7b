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
