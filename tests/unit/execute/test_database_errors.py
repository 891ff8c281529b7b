"""Database sources say what failed, in the user's terms, and never show the URL's password.

Before, an unparsable URL, an unknown dialect and a missing driver escaped as internal errors
(`create_engine` was outside the error handling), and a missing table or column was only
`query failed: ProgrammingError`. SQLite needs no server; the PostgreSQL cases (wrong password,
missing table and column, connection refused) are in tests/integration/test_postgres.py.
"""

from __future__ import annotations

import importlib.util
import sqlite3
from pathlib import Path

import pytest

pytest.importorskip("polars")
pytest.importorskip("sqlalchemy")

from compiler.execute.errors import DataError  # noqa: E402
from compiler.execute.failure import RunError  # noqa: E402
from compiler.execute.ingest import read_source  # noqa: E402

SECRET = "hunter2-s3cr3t"
SCHEMA = [{"name": "a", "type": "integer"}, {"name": "b", "type": "string"}]


def _params(**spec) -> dict:
    return {"source": "orders", "format": "sql", "path": None, "schema": SCHEMA,
            "connection": {"url_env": "ORDERS_DB_URL"}, **spec}


def _fails(monkeypatch, tmp_path: Path, url: str, params: dict, kind: type[Exception] = RunError) -> str:
    monkeypatch.setenv("ORDERS_DB_URL", url)
    with pytest.raises(kind) as info:
        read_source(params, tmp_path)
    text = str(info.value)
    assert SECRET not in text and "Traceback" not in text
    if kind is RunError:
        assert info.value.exit_code == 2
    return text


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "orders.db"
    with sqlite3.connect(path) as conn:
        conn.execute("create table orders (a integer, b text)")
        conn.executemany("insert into orders values (?, ?)", [(1, "x"), (2, "y")])
    return path


def test_an_unparsable_url_says_so_without_showing_it(monkeypatch, tmp_path):
    text = _fails(monkeypatch, tmp_path, f"alice:{SECRET} at db.example.com", _params(table="orders"))
    assert "`ORDERS_DB_URL` does not hold a database URL (its value is not shown" in text
    assert "dialect+driver://user:password@host:port/database" in text


def test_an_unknown_dialect_is_named(monkeypatch, tmp_path):
    text = _fails(monkeypatch, tmp_path, f"postgress://alice:{SECRET}@db/orders", _params(table="orders"))
    assert "`ORDERS_DB_URL` names an unknown database dialect `postgress`" in text


@pytest.mark.skipif(importlib.util.find_spec("MySQLdb") is not None, reason="the MySQL driver is installed here")
def test_a_missing_driver_is_named_with_what_to_install(monkeypatch, tmp_path):
    text = _fails(monkeypatch, tmp_path, f"mysql+mysqldb://alice:{SECRET}@db/orders", _params(table="orders"))
    assert "the database driver `MySQLdb` for `mysql+mysqldb` URLs is not installed" in text


@pytest.mark.skipif(importlib.util.find_spec("psycopg2") is not None, reason="psycopg2 is installed here")
def test_postgresql_without_a_driver_names_the_one_charter_installs(monkeypatch, tmp_path):
    text = _fails(monkeypatch, tmp_path, f"postgresql+psycopg2://alice:{SECRET}@db/orders", _params(table="orders"))
    assert "driver `psycopg2`" in text and "pip install 'charter[postgres]'" in text
    assert "postgresql+psycopg://" in text


def test_a_missing_table_or_column_through_a_url(monkeypatch, tmp_path, db):
    url = f"sqlite:///{db}"
    text = _fails(monkeypatch, tmp_path, url, _params(table="order"), DataError)
    assert "source `orders`: the query failed: table `order` does not exist" in text
    text = _fails(monkeypatch, tmp_path, url, _params(query="select a, c from orders"), DataError)
    assert "the query failed: column `c` does not exist" in text


def test_a_missing_table_in_a_sqlite_file_of_the_repository(tmp_path, db):
    params = {"source": "orders", "format": "sql", "path": "orders.db", "table": "order", "schema": SCHEMA}
    with pytest.raises(DataError) as info:
        read_source(params, tmp_path)
    assert "the query failed in `orders.db`: table `order` does not exist" in str(info.value)


def test_an_unreachable_database_is_a_connection_error(monkeypatch, tmp_path):
    text = _fails(monkeypatch, tmp_path, f"sqlite:///{tmp_path}/no/such/folder/x.db",
                  _params(table="orders"))
    assert "cannot connect to the database" in text and "unable to open database file" in text


@pytest.mark.skipif(importlib.util.find_spec("psycopg") is None, reason="psycopg is not installed")
def test_a_refused_connection_names_host_and_port_not_credentials(monkeypatch, tmp_path):
    text = _fails(monkeypatch, tmp_path, f"postgresql+psycopg://alice:{SECRET}@127.0.0.1:9/orders",
                  _params(table="orders"))
    assert "cannot connect to the database `orders` on `127.0.0.1:9`" in text and "alice" not in text
