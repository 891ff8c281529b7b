"""Integration tier: `engine: postgres` against polars, on a real PostgreSQL server.

The table is the engine parity test's (tests/unit/execute/test_engine_parity.py): injected
violations, nulls, NaN, duplicates, empty and non-ASCII text, future timestamps and dates,
loaded into PostgreSQL with native column types. Polars reads it through ingest (the reference,
in primary-key order); `engine: postgres` runs the same rules inside the server. Every rule
type must give the same failing count and the same sample rows, and every table rule the same
verdict and measure. The server is the `postgres` fixture of conftest.py.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import give_pods, run_charter

pytestmark = pytest.mark.integration
try:
    import polars  # noqa: F401
    import sqlglot  # noqa: F401
except ImportError as exc:  # under CI the tier must run, not skip (as the server fixture does)
    if os.environ.get("CI"):
        raise
    pytest.skip(f"{exc.name} is not installed (pip install -e '.[dev,postgres]')", allow_module_level=True)

from compiler.execute.engines.postgres import check_source  # noqa: E402
from compiler.execute.errors import DataError  # noqa: E402
from compiler.execute.ingest import read_source  # noqa: E402
from compiler.execute.prepare import apply_prepare, finalize_types  # noqa: E402
from compiler.execute.rules import check_rules, reader  # noqa: E402
from tests.unit.execute.test_engine_parity import (  # noqa: E402
    KEY_SCHEMA,
    NOW,
    PREPARE_CASES,
    RULES,
    SCHEMA,
    _data,
    _keys,
    _renamed,
    _same,
    prepare_rules,
    with_keys,
)

ENV = "EVENTS_DB_URL"
COLUMNS = ('pk integer primary key, id bigint, amount double precision, name text, code text, seen timestamp, '
           'day date, flag boolean, "limit" double precision')


@pytest.fixture(scope="module")
def events(postgres) -> str:
    """The URL of the server, holding `events` (the parity data) and `texts` (typed as text, some values bad)."""
    import sqlalchemy

    engine = sqlalchemy.create_engine(postgres)
    rows = _data().with_row_index("pk").to_dicts()
    with engine.begin() as conn:
        conn.exec_driver_sql("drop table if exists events, texts, hostile, keys")
        conn.exec_driver_sql("create table keys (pk integer primary key, k_code text, k_flag boolean, k_id bigint)")
        conn.execute(sqlalchemy.text("insert into keys values (:pk, :k_code, :k_flag, :k_id)"),
                     _keys().with_row_index("pk").to_dicts())
        conn.exec_driver_sql("create sequence if not exists events_seq")
        conn.exec_driver_sql(f"create table events ({COLUMNS})")
        conn.execute(sqlalchemy.text("insert into events values (:pk, :id, :amount, :name, :code, :seen, :day, "
                                     ":flag, :limit)"), rows)
        conn.exec_driver_sql("create table texts (pk integer primary key, i text, f text, d text, t text, b text, "
                             "c text, n double precision)")
        conn.execute(sqlalchemy.text("insert into texts values (:pk, :i, :f, :d, :t, :b, :c, :n)"), _texts())
        conn.exec_driver_sql('create table hostile (pk integer primary key, "select" text, "Order" integer, '
                             '"user" text)')
        conn.execute(sqlalchemy.text('insert into hostile values (:pk, :s, :o, :u)'), [
            {"pk": i, "s": s, "o": o, "u": u} for i, (s, o, u) in enumerate([
                ("x'); drop table events; --", 3, "100%"), ("a\"b", 1, "it's; select 1"), (None, 2, "%s"),
                ("ok", 2, "\\' or 1=1 --"), ("ok", None, "ünïcødé")])])
    engine.dispose()
    return postgres


def _texts() -> list[dict]:
    ints = [" 12 ", "+3", "1e2", "4.5", "abc", "", None, "-0", "1e400", "nan", "7"]
    floats = ["1.5", " -2 ", ".5", "5.", "inf", "-Infinity", "NaN", "1,5", "x", "", None]
    dates = ["2024-01-02", "2024-1-2", "2024-02-30", "2023-02-29", " 2024-03-04 ", "24-01-02", "2024/01/02",
             "2024-13-01", "", None, "+2024-05-06"]
    times = ["2024-01-02T03:04:05.1234567", "2024-01-02 03:04", "2024-01-02", "2024-01-02 25:00",
             "2024-01-02 03:04:60", "2024-01-02T3:4:5", "2024-01-02T03:04:05Z", "2024-01-02 03:04:05.", "", None,
             "2024-02-29 23:59:59.999999"]
    bools = ["true", "T", "0", "yes", "FALSE", " 1 ", "", None, "f", "x", "TRUE"]
    cats = ["a", "b", "c", "d", None, "a", "e", "", "b", "a", "zz"]
    nums = [1.0, 2.5, None, 4.0, 1e19, float("nan"), 7.0, 8.0, 9.0, 10.0, float("inf")]
    return [{"pk": i, "i": ints[i], "f": floats[i], "d": dates[i], "t": times[i], "b": bools[i], "c": cats[i],
             "n": nums[i]} for i in range(11)]


def _source(table: str | None = "events", query: str | None = None, schema=None) -> dict:
    return {"source": "events", "format": "sql", "table": None if query else table, "query": query,
            "primary_key": ["pk"], "connection": {"url_env": ENV}, "schema": schema or SCHEMA, "limits": {}}


def _both(monkeypatch, url: str, ingest: dict, rules: list[dict], steps: list[dict] | None = None):
    monkeypatch.setenv(ENV, url)
    steps = steps or []
    schema = _renamed(ingest["schema"], steps)
    # the foreign keys' referenced source: a table of the same database
    rules = with_keys(rules, {"source": "keys", "format": "sql", "table": "keys", "query": None, "primary_key": ["pk"],
                              "connection": {"url_env": ENV}, "schema": [{"name": "pk", "type": "integer"},
                                                                         *KEY_SCHEMA], "limits": {}})
    reference = finalize_types(apply_prepare(read_source(ingest, Path.cwd()), steps), schema)
    pushed, rows = check_source(ingest, {"steps": steps, "schema": schema}, rules, {}, Path.cwd(), now=NOW)
    assert rows == reference.height
    return check_rules(reference, rules, now=NOW, read=reader(Path.cwd())), pushed


@pytest.mark.parametrize("rule", RULES, ids=[r["id"] for r in RULES])
def test_rule_agrees_with_polars_on_a_table(events, monkeypatch, rule):
    [a], [b] = _both(monkeypatch, events, _source(), [rule])
    _same(a, b)


def test_every_rule_at_once_from_a_query_with_its_own_order(events, monkeypatch):
    query = "select * from events where pk % 7 <> 3 order by pk desc"
    polars_results, pushed = _both(monkeypatch, events, _source(query=query), RULES)
    assert sum(r.failing > 0 for r in pushed) >= 20  # the data really fails: a parity of zeros proves nothing
    for a, b in zip(polars_results, pushed, strict=True):
        _same(a, b)


@pytest.mark.parametrize("case", list(PREPARE_CASES))
def test_prepare_steps_agree(events, monkeypatch, case):
    steps = PREPARE_CASES[case]
    for a, b in zip(*_both(monkeypatch, events, _source(), prepare_rules(steps), steps), strict=True):
        _same(a, b)


TEXT_COLUMNS = [("i", "integer"), ("f", "float"), ("d", "date"), ("t", "datetime"), ("c", "category"),
                ("n", "integer")]


@pytest.mark.parametrize(("column", "kind"), TEXT_COLUMNS, ids=[f"{c}-{k}" for c, k in TEXT_COLUMNS])
def test_declared_types_fail_with_ingests_message(events, monkeypatch, column, kind):
    declared = {"name": column, "type": kind, **({"values": ["a", "b"]} if kind == "category" else {})}
    schema = [{"name": "pk", "type": "integer"}, declared]
    rules = [{"id": "x", "severity": "error", "rule": "not_null", "columns": [column]}]
    with pytest.raises(DataError) as polars_error:
        _both(monkeypatch, events, _source("texts", schema=schema), rules)
    with pytest.raises(DataError) as pushed_error:
        check_source(_source("texts", schema=schema), {"steps": [], "schema": schema}, rules, {}, Path.cwd(),
                     now=NOW)
    assert str(pushed_error.value) == str(polars_error.value)


GOOD = {
    "i": ("integer", [" 12 ", "+3", "1e2", "-0", "7", None, "", "5.0"]),
    "f": ("float", ["1.5", " -2 ", ".5", "5.", "inf", "-Infinity", "NaN", None]),
    "d": ("date", ["2024-01-02", "2024-1-2", " 2024-03-04 ", "24-01-02", "+2024-05-06", "2024-02-29", None, ""]),
    "t": ("datetime", ["2024-01-02T03:04:05.1234567", "2024-01-02 03:04", "2024-01-02", "2024-01-02 03:04:60",
                       "2024-01-02T3:4:5", "2024-02-29 23:59:59.999999", None, "2024-12-31T23:59"]),
    "b": ("boolean", ["true", "T", "0", "FALSE", " 1 ", "f", None, ""]),
}


@pytest.mark.parametrize("column", list(GOOD))
def test_text_that_converts_is_typed_as_ingest_types_it(events, monkeypatch, column):
    """Every spelling ingest takes becomes the same value in PostgreSQL, row for row."""
    import sqlalchemy
    from sqlglot import exp

    from compiler.execute.engines import pgtypes

    kind, values = GOOD[column]
    engine = sqlalchemy.create_engine(events)
    with engine.begin() as conn:
        conn.exec_driver_sql("drop table if exists good")
        conn.exec_driver_sql(f"create table good (pk integer primary key, {column} text)")
        conn.execute(sqlalchemy.text(f"insert into good values (:pk, :{column})"),
                     [{"pk": k, column: v} for k, v in enumerate(values)])
        declared = {"name": column, "type": kind}
        query = exp.select(pgtypes.typed(declared, "text")).from_("good").order_by("pk")
        pushed = [v for (v,) in conn.exec_driver_sql(query.sql("postgres")).fetchall()]
    engine.dispose()
    monkeypatch.setenv(ENV, events)
    schema = [{"name": "pk", "type": "integer"}, declared]
    reference = finalize_types(read_source(_source("good", schema=schema), Path.cwd()), schema)
    expected = reference.get_column(column).to_list()
    assert [repr(v) for v in pushed] == [repr(v) for v in expected]


@pytest.mark.parametrize("zone", ["UTC", "Europe/Paris"])
def test_timestamptz_is_the_wall_time_ingest_gets(events, monkeypatch, zone):
    """The driver hands ingest a `timestamptz` in the session's time zone; the pushed-down check uses the same."""
    import sqlalchemy

    engine = sqlalchemy.create_engine(events)
    with engine.begin() as conn:
        conn.exec_driver_sql("drop table if exists stamped")
        conn.exec_driver_sql("create table stamped (pk integer primary key, at timestamptz, day timestamptz)")
        conn.exec_driver_sql("insert into stamped values (0, '2025-05-31 23:30:00+00', '2025-05-31 23:30:00+00'), "
                             "(1, '2025-06-01 11:30:00+00', '2025-05-01 22:30:00-02'), (2, null, null)")
    engine.dispose()
    schema = [{"name": "pk", "type": "integer"}, {"name": "at", "type": "datetime"}, {"name": "day", "type": "date"}]
    rules = [{"id": "fresh", "severity": "error", "rule": "freshness", "column": "at", "max_age": "1h"},
             {"id": "days", "severity": "error", "rule": "freshness", "column": "day", "max_age": "1d"},
             {"id": "future", "severity": "error", "rule": "not_in_future", "column": "at"},
             {"id": "order", "severity": "error", "rule": "monotonic", "column": "day", "strict": True}]
    url = events + "&options=" + f"-c timezone={zone}".replace(" ", "%20").replace("=", "%3D").replace("/", "%2F")
    polars_results, pushed = _both(monkeypatch, url, _source("stamped", schema=schema), rules)
    for a, b in zip(polars_results, pushed, strict=True):
        _same(a, b)


def test_hostile_names_and_literals_are_quoted_not_run(events, monkeypatch):
    schema = [{"name": "pk", "type": "integer"}, {"name": "select", "type": "string"},
              {"name": "Order", "type": "integer"}, {"name": "user", "type": "string"}]
    rules = [{"id": "in", "severity": "error", "rule": "in_set", "column": "select",
              "values": ["x'); drop table events; --", 'a"b', "ok"]},
             {"id": "re", "severity": "error", "rule": "regex", "column": "user", "pattern": "[^;']*%?"},
             {"id": "ex", "severity": "error", "rule": "expression",
              "check": "user != \"it's; select 1\" and select + '%' != 'ok%'"},
             {"id": "u", "severity": "error", "rule": "unique", "columns": ["Order"]},
             {"id": "n", "severity": "error", "rule": "not_null", "columns": ["select", "Order"]}]
    polars_results, pushed = _both(monkeypatch, events, _source("hostile", schema=schema), rules)
    for a, b in zip(polars_results, pushed, strict=True):
        _same(a, b)
    assert [r.failing for r in pushed] == [0, 2, 4, 1, 2]
    _still_there(events)


def test_the_query_is_one_select_in_a_read_only_transaction(events, monkeypatch):
    monkeypatch.setenv(ENV, events)
    rules = [{"id": "n", "severity": "error", "rule": "not_null", "columns": ["id"]}]
    two = _source(query="select * from events order by pk; drop table events")
    with pytest.raises(DataError, match="one SELECT"):
        check_source(two, {"steps": [], "schema": SCHEMA}, rules, {}, Path.cwd(), now=NOW)
    deletes = _source(query="with gone as (delete from events returning *) select * from gone order by pk")
    with pytest.raises(DataError, match="the query failed"):
        check_source(deletes, {"steps": [], "schema": SCHEMA}, rules, {}, Path.cwd(), now=NOW)
    writes = _source(query="select *, nextval('events_seq') as n from events order by pk")
    with pytest.raises(DataError, match="cannot execute nextval.. in a read-only transaction"):
        check_source(writes, {"steps": [], "schema": SCHEMA}, rules, {}, Path.cwd(), now=NOW)
    _still_there(events)


def _still_there(url: str) -> None:
    import sqlalchemy

    engine = sqlalchemy.create_engine(url)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("select count(*) from events").scalar() == len(_data())
    engine.dispose()


SPECS = """\
apiVersion: charter/v1
kind: DataSource
metadata: {name: events}
spec:
  format: sql
  table: events
  primary_key: [pk]
  connection: {url_env: EVENTS_DB_URL}
  engine: postgres
  schema:
    - {name: pk, type: integer}
    - {name: id, type: integer}
    - {name: amount, type: float}
    - {name: name, type: string}
    - {name: seen, type: datetime}
---
apiVersion: charter/v1
kind: ValidationSuite
metadata: {name: events-quality}
spec:
  source: events
  prepare:
    - drop_null: {columns: [seen]}
  rules:
    - {rule: unique, columns: [id], severity: warn}
    - {rule: between, column: amount, min: 0, max: 40, severity: warn}
    - {rule: regex, column: name, pattern: "[a-z]+", severity: warn}
    - {rule: expression, check: "amount / 0 > 1 or id // 4 != 2", severity: warn}
    - {rule: row_count, min: 1}
---
apiVersion: charter/v1
kind: Ownership
metadata: {name: events-owners}
spec:
  covers: [events, events-quality]
  raci:
    data: {responsible: ["@acme/data"], accountable: "@dana"}
"""


def test_check_data_reports_the_same_document_on_both_engines(events, example_repo):
    specs = example_repo / "specs/events.yaml"
    specs.write_text(SPECS)
    give_pods(example_repo, ENV, "events-db")
    assert run_charter("validate", cwd=example_repo).returncode == 0
    env = {ENV: events}
    pushed = run_charter("check-data", "events-quality", "--format", "json", cwd=example_repo, env=env)
    assert pushed.returncode == 0, pushed.stdout + pushed.stderr
    specs.write_text(SPECS.replace("  engine: postgres\n", ""))
    local = run_charter("check-data", "events-quality", "--format", "json", cwd=example_repo, env=env)
    assert local.returncode == 0, local.stdout + local.stderr
    a, b = json.loads(pushed.stdout), json.loads(local.stdout)
    assert (a["engine"], b["engine"]) == ("postgres", "polars")
    assert a["rules"] == b["rules"] and a["rows"] == b["rows"]
    assert sum(not r["passed"] for r in a["rules"]) >= 3


def test_the_argo_check_pod_reads_the_database_through_its_secret(events, example_repo, tmp_path):
    """Item 6 of issue 12: the rendered check pod, run as a process with exactly its argv and env.

    The URL reaches the pod only through the Secret that `compute.secrets` names; the test plays
    the cluster's part by resolving every `secretKeyRef` (and nothing of its own shell).
    """
    import shutil
    import subprocess

    import yaml

    (example_repo / "specs/events.yaml").write_text(SPECS)
    refused = run_charter("validate", "--format", "short", cwd=example_repo)
    assert refused.returncode == 1 and "X323" in refused.stdout  # no pod would get the URL
    give_pods(example_repo, ENV, "events-db")
    compiled = run_charter("compile", cwd=example_repo)
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
    docs = yaml.safe_load((example_repo / "generated/argo/_checks.yaml").read_text())
    [template] = [t for t in docs["spec"]["templates"] if t["name"] == "check-events-quality"]
    container = template["container"]
    secrets = {("events-db", "url"): events, ("charter-store", "access-key-id"): "AKID-TEST",
               ("charter-store", "secret-access-key"): "not-a-secret"}
    env = {}
    for e in container["env"]:
        ref = (e.get("valueFrom") or {}).get("secretKeyRef")
        env[e["name"]] = secrets[(ref["name"], ref["key"])] if ref else e["value"]
    assert env[ENV] == events
    env["CHARTER_STORE"] = (tmp_path / "store").as_uri()  # the shared bucket, as a folder
    charter = shutil.which("charter") or pytest.fail("the charter command is not on PATH")
    path = f"{Path(charter).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    pod = subprocess.run([*container["command"], *container["args"]], cwd=example_repo, capture_output=True,
                         text=True, env={"PATH": path, "HOME": str(tmp_path), "LANG": "C.UTF-8", **env}, timeout=300)
    assert pod.returncode == 0, pod.stdout + pod.stderr
    assert "read by postgres in the validate step" in pod.stdout
    assert events not in pod.stdout + pod.stderr  # the URL is never printed
