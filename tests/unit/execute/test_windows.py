"""Evaluation windows: which rows a window holds, its gates, the lock entry, and what re-runs."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest

pl = pytest.importorskip("polars")
pytest.importorskip("sklearn")

from compiler.driver import compile_tree  # noqa: E402
from compiler.execute import windows  # noqa: E402
from compiler.execute.failure import RunError  # noqa: E402
from compiler.execute.gate import check_gates  # noqa: E402
from compiler.execute.runner import Runner  # noqa: E402
from tests.conftest import REPO, copy_example  # noqa: E402

MODEL = "specs/delivery/model.yaml"
WINDOW = "    - {name: last-14d, last: 14d, column: created_at, relative_to: newest}\n"


def _frame(*stamps: datetime) -> pl.DataFrame:
    return pl.DataFrame({"at": list(stamps), "y": list(range(len(stamps)))}, schema={"at": pl.Datetime("us"),
                                                                                   "y": pl.Int64})


def test_a_window_is_closed_at_its_end_and_open_at_its_start():
    end = datetime(2024, 5, 30, 12)
    frame = _frame(end - timedelta(days=7), end - timedelta(days=7, microseconds=-1), end, end - timedelta(days=3))
    start, stop = windows.bounds({"last": "7d", "column": "at"}, [frame], datetime(2030, 1, 1, tzinfo=UTC))
    assert (start, stop) == (end - timedelta(days=7), end)
    kept = windows.select(frame, "at", start, stop)
    # a row exactly `last` before the newest is out (as pandas' rolling windows), the newest is in
    assert kept.get_column("y").to_list() == [1, 2, 3]


def test_ties_at_the_newest_row_all_count():
    end = datetime(2024, 5, 30)
    frame = _frame(end, end, end - timedelta(hours=1))
    start, stop = windows.bounds({"last": "1h", "column": "at"}, [frame], datetime.now(UTC))
    assert windows.select(frame, "at", start, stop).height == 2


def test_relative_to_run_ends_with_the_run_s_utc_day_whatever_its_zone():
    # 23:30 in New York on the 30th is 03:30 UTC on the 31st: the window ends with the 31st (UTC)
    now = datetime(2024, 5, 30, 23, 30, tzinfo=timezone(timedelta(hours=-4)))
    assert windows.run_end(now) == datetime(2024, 6, 1)
    assert windows.run_end(datetime(2024, 5, 30, 0, 0, tzinfo=UTC)) == datetime(2024, 5, 31)
    start, stop = windows.bounds({"last": "2d", "column": "at", "relative_to": "run"}, [], now)
    assert (start, stop) == (datetime(2024, 5, 30), datetime(2024, 6, 1))


def test_zoned_timestamps_compare_in_utc_and_dates_at_midnight():
    zoned = pl.DataFrame({"at": [datetime(2024, 5, 30, 1, tzinfo=UTC)]}).with_columns(
        pl.col("at").dt.convert_time_zone("Europe/Paris"))
    assert windows.newest([zoned], "at") == datetime(2024, 5, 30, 1)  # 03:00 in Paris is 01:00 UTC
    days = pl.DataFrame({"at": [date(2024, 5, 1), date(2024, 5, 30)]})
    start, stop = windows.bounds({"last": "29d", "column": "at"}, [days], datetime.now(UTC))
    assert windows.select(days, "at", start, stop).height == 1


def test_a_window_on_a_column_that_is_no_time_is_a_run_error():
    with pytest.raises(RunError, match="not dates or timestamps"):
        windows.newest([pl.DataFrame({"at": [1, 2]})], "at")


def test_a_window_without_timestamps_is_empty():
    frame = _frame().clear()
    assert windows.bounds({"last": "7d", "column": "at"}, [frame], datetime.now(UTC)) == (None, None)
    assert windows.select(_frame(datetime(2024, 1, 1)), "at", None, None).height == 0


def _metrics(window_mae: float | None, rows: int = 10) -> dict:
    nc = {} if window_mae is not None else {"mae": windows.EMPTY}
    return {"metrics": {"mae": 3.0}, "not_computable": {}, "slices": {}, "business": {}, "rows": {"test": 50},
            "windows": {"recent": {"rows": rows, "metrics": {"mae": window_mae}, "not_computable": nc,
                                   "slices": {"far": {"rows": rows, "metrics": {"mae": 9.0}}}}}}


_GATES = {"gates": [
    {"id": "q:mae[recent]", "metric": "mae", "slice": None, "window": "recent", "max": 5, "higher_is_better": False},
    {"id": "q:mae@far[recent]", "metric": "mae", "slice": "far", "window": "recent", "max": 8,
     "higher_is_better": False},
    {"id": "q:mae[recent]:drop", "metric": "mae", "slice": None, "window": "recent", "max_drop": 0.5,
     "versus": "production", "higher_is_better": False}], "business": []}


def test_gates_read_their_window_and_its_slices_and_its_baseline():
    results = {r.id: r for r in check_gates(_GATES, _metrics(4.0), {"production": _metrics(3.8)})}
    assert results["q:mae[recent]"].passed and results["q:mae[recent]"].value == 4.0
    assert not results["q:mae@far[recent]"].passed and results["q:mae@far[recent]"].value == 9.0
    assert results["q:mae[recent]:drop"].passed and "3.8" in results["q:mae[recent]:drop"].threshold


def test_an_empty_window_fails_its_gate_and_says_why():
    results = {r.id: r for r in check_gates(_GATES, _metrics(None, rows=0), {"production": None})}
    assert not results["q:mae[recent]"].passed
    assert results["q:mae[recent]"].note == f"not computable: {windows.EMPTY}"


def test_live_metrics_have_no_windows_and_do_not_fail_window_gates():
    live = {"metrics": {"mae": 3.0}, "slices": {}, "business": {}}
    results = check_gates(_GATES, live, {"production": None})
    assert all(r.passed and "judged by `charter run`" in r.note for r in results)


# -- end to end on a copy of the example ----------------------------------------------------


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return copy_example(tmp_path / "repo", ("charter.yaml", "specs"))


def _run(root: Path, **kw):
    diags, graph = compile_tree(root)
    assert graph is not None, diags
    runner = Runner(graph, root, **kw)
    return runner, runner.run("delivery-time")


def _status(result) -> dict[str, str]:
    return {o.id.split("/", 1)[1]: o.status for o in result.outcomes}


def _edit(root: Path, old: str, new: str) -> None:
    path = root / MODEL
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


def test_the_lock_records_each_window_s_bounds_and_rows_and_a_changed_window_re_runs_evaluate_only(repo):
    _, first = _run(repo)
    assert first.exit_code == 0, first.failed
    entry = json.loads((repo / "charter.lock").read_text())["models"]["delivery-time"]["metrics"]
    window = entry["windows"]["last-14d"]
    assert (window["start"], window["end"]) == ("2024-05-16T03:16:00", "2024-05-30T03:16:00")
    assert 0 < window["rows"] < entry["rows"]["test"]
    assert set(window["slices"]) == {"long-distance", "bad-weather"} and window["metrics"]["mae"] is not None

    _edit(repo, "last: 14d,", "last: 7d,")
    _, second = _run(repo)
    assert _status(second) == {"ingest": "cached", "prepare": "cached", "validate": "cached", "split": "cached",
                               "train": "cached", "evaluate": "ran", "gate": "ran", "package": "ran"}
    shorter = json.loads((repo / "charter.lock").read_text())["models"]["delivery-time"]["metrics"]["windows"]
    assert shorter["last-14d"]["rows"] < window["rows"] and shorter["last-14d"]["start"] == "2024-05-23T03:16:00"


def test_a_window_relative_to_the_run_date_with_no_rows_fails_its_gate(repo):
    _edit(repo, "relative_to: newest", "relative_to: run")
    _, result = _run(repo, now=datetime(2026, 1, 5, tzinfo=UTC))
    assert result.exit_code == 1 and "gate(s) failed" in (result.failed or "")
    assert f"not computable: {windows.EMPTY}" in result.report
    evaluate = next(o for o in result.outcomes if o.id.endswith("/evaluate"))
    assert "window `last-14d` has no rows between 2025-12-23T00:00:00 and 2026-01-06T00:00:00" in evaluate.detail


def test_a_window_relative_to_the_run_date_re_evaluates_on_a_new_day_only(repo):
    _edit(repo, "relative_to: newest", "relative_to: run")
    _edit(repo, "    - {metric: mae, window: last-14d, max: 9}\n", "")
    runner, _ = _run(repo, now=datetime(2024, 5, 30, 8, tzinfo=UTC))
    again, later = _run(repo, now=datetime(2024, 5, 30, 22, tzinfo=UTC))
    assert _status(later)["evaluate"] == "cached"
    _, tomorrow = _run(repo, now=datetime(2024, 5, 31, 8, tzinfo=UTC))
    assert _status(tomorrow)["train"] == "cached" and _status(tomorrow)["evaluate"] == "ran"


def test_a_source_window_is_scored_whole_and_its_new_data_re_runs_evaluate_not_train(repo):
    data = repo / "specs/data/recent.csv"
    rows = (REPO / "specs/data/deliveries.csv").read_text().splitlines()
    data.write_text("\n".join(rows[:41]) + "\n")
    source = (repo / "specs/delivery/data.yaml").read_text().split("---")[0]
    extra = source.replace("name: deliveries\n", "name: recent-deliveries\n").replace("deliveries.csv", "recent.csv")
    (repo / "specs/delivery/recent.yaml").write_text(extra)
    _edit(repo, WINDOW, WINDOW + "    - {name: recent, source: recent-deliveries, slices: false}\n")
    _edit(repo, "covers: [deliveries,", "covers: [recent-deliveries, deliveries,")
    _, first = _run(repo)
    assert first.exit_code == 0, (first.failed, first.report)
    recent = json.loads((repo / "charter.lock").read_text())["models"]["delivery-time"]["metrics"]["windows"]["recent"]
    assert recent["source"] == "recent-deliveries" and recent["slices"] == {} and 30 < recent["rows"] <= 40
    assert "start" not in recent

    data.write_text("\n".join(rows[:1] + rows[41:81]) + "\n")
    _, second = _run(repo)
    status = _status(second)
    assert status["train"] == "cached" and status["evaluate"] == "ran" and status["gate"] == "ran"
