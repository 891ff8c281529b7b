"""Servers of the integration tier, shared by its tests.

`postgres` starts a throwaway PostgreSQL cluster from the machine's binaries (Debian's
`postgresql` package; `.ci/run` installs it) on a Unix socket in a temporary folder, so no TCP
port and no other server are involved. It loads the worked example's customers table and a
role that must give its password. Without the binaries or the driver it skips, but under
CI=true it fails instead.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import REPO

ROLE, PASSWORD = "charter_reader", "right-horse-battery"


def missing(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so this integration test may not skip)")
    pytest.skip(reason)


def _binary(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


@pytest.fixture(scope="session")
def postgres() -> str:
    """The URL of a running server (user `postgres`, no password) holding the example's `customers`."""
    pytest.importorskip("polars")
    try:
        import psycopg  # noqa: F401
        import sqlalchemy  # noqa: F401
    except ImportError:
        missing("SQLAlchemy and psycopg are not installed (pip install -e '.[postgres]')")
    initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
    if not initdb or not pg_ctl:
        missing("PostgreSQL server binaries not found (apt-get install postgresql)")
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
