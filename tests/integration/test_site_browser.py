"""Integration tier: the `site` target in a real browser, headless Chromium from `file://`.

The bundled example is cloned (its `charter.lock` history included), both models run and are
monitored (delivery-time on a batch that drifts), and `charter compile --target site` builds the
site; a second project carries hostile text in a description, a slice expression and its store.
Debian's `chromium`, driven by Playwright's sync API, loads every page: no console error, no
uncaught exception, no failed request, no request to anything but the site's own files; every
chart drawn with as many marks as it has points; a screenshot per page, kept in
`.charter/test-artifacts/site/` (printed). `pytest --update-golden` also refreshes the
screenshots of docs/targets/site.md. Skips without chromium or playwright; fails under CI=true.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import COMMITTED, EXAMPLE, REPO, run_charter

pytestmark = pytest.mark.integration

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
ARTIFACTS = REPO / ".charter" / "test-artifacts" / "site"
DOCS = REPO / "docs" / "targets"
HOSTILE = '</script><script>window.pwned=1</script><img src=x onerror="window.pwned=2"> & <!-- "q" \u2028'

# Every chart's marks drawn from data: points (symbols) and bars (rects), not lines, rules or legends.
_MARKS = """id => {
  const figure = document.querySelector(`figure[data-chart="${id}"]`);
  const marks = figure.querySelectorAll("svg g.role-mark.mark-symbol > path, svg g.role-mark.mark-rect > path");
  return {rendered: figure.dataset.rendered, points: Number(figure.dataset.points), marks: marks.length,
          data: window.charterCharts[id].data("points").length};
}"""


@pytest.fixture(scope="module")
def browser():
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")  # never a browser of Playwright's own
    missing = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing = "playwright is not installed (pip install -e '.[browser]')"
    if missing is None and not CHROMIUM.is_file():
        missing = "Debian's chromium is not installed (apt-get install chromium)"
    if missing is not None:
        if os.environ.get("CI"):
            pytest.fail(f"{missing} and CI is set")
        pytest.skip(missing)
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield launched
        launched.close()


def _charter(*args: str, cwd: Path, ok: tuple[int, ...] = (0,)) -> str:
    result = run_charter(*args, cwd=cwd)
    assert result.returncode in ok, (args, result.stdout, result.stderr)
    return result.stdout


def _load(browser, page_path: Path, shot: Path) -> tuple[object, dict]:
    """Open one page from file:// and wait for its charts; return the page and what went wrong on it."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    seen: dict[str, list[str]] = {"errors": [], "failed": [], "foreign": [], "dialogs": []}
    page.on("console", lambda m: seen["errors"].append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: seen["errors"].append(str(e)))
    page.on("requestfailed", lambda r: seen["failed"].append(f"{r.url} {r.failure}"))
    page.on("request", lambda r: None if r.url.startswith(("file://", "data:")) else seen["foreign"].append(r.url))
    page.on("dialog", lambda d: (seen["dialogs"].append(d.message), d.dismiss()))
    page.goto(page_path.as_uri())
    page.wait_for_load_state("load")
    for figure in page.query_selector_all("figure[data-chart]"):
        page.wait_for_function("f => f.dataset.rendered", arg=figure, timeout=20000)
    shot.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shot), full_page=True)
    print(f"screenshot: {shot}")
    return page, seen


def _clone_example(dest: Path) -> Path:
    """The repository's own example with its git history (the lock's promotions), in a fresh clone."""
    subprocess.run(["git", "clone", "-q", "--no-hardlinks", str(REPO), str(dest)], check=True)
    shutil.rmtree(dest / "compiler")  # `python -m compiler` in the clone runs this working tree's code
    for name in (*EXAMPLE, *COMMITTED):  # this working tree's specs and lock, as a developer sees them
        target = dest / name
        if (REPO / name).is_dir():
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(REPO / name, target)
        elif (REPO / name).is_file():
            shutil.copy(REPO / name, target)
    return dest


def _drifting_batch(repo: Path) -> Path:
    """The deliveries, twice as far and in the snow: distance and weather drift, items do not."""
    rows = list(csv.DictReader((repo / "specs/data/deliveries.csv").open(encoding="utf-8")))
    for row in rows:
        if row["distance_km"]:
            row["distance_km"] = f"{min(float(row['distance_km']) * 2 + 5, 99):.1f}"
        row["weather"] = "snow"
    out = repo / "batch.csv"
    with out.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return out


def _expected_lineage(model) -> int:
    evaluate = model.step("evaluate").params
    windows = sum(isinstance(w.get("source"), dict) for w in evaluate.get("windows") or [])
    metric_sets = len({g["metric_set"] for g in model.step("gate").params["gates"]})
    suite = 1 if model.step("validate").params.get("suite") else 0
    rollouts = sum(1 + len(r["environments"]) + (1 if model.monitoring else 0) for r in model.rollouts)
    return 2 + suite + windows + metric_sets + rollouts


def test_example_site_in_chromium(browser, tmp_path: Path, update_golden: bool):
    repo = _clone_example(tmp_path / "example")
    for model in ("churn", "delivery-time"):
        _charter("run", model, cwd=repo)
    _charter("monitor", "churn", "--data", "customers", cwd=repo)
    _charter("monitor", "delivery-time", "--data", str(_drifting_batch(repo)), cwd=repo, ok=(1,))  # an alert
    site = tmp_path / "site"
    assert "file(s) of the site written" in _charter("compile", "--target", "site", "--out", str(site), cwd=repo)

    from compiler.driver import compile_tree
    from compiler.gitops.site import collect

    _, graph = compile_tree(repo)
    inputs = collect(repo, graph)
    lock = json.loads((repo / "charter.lock").read_text(encoding="utf-8"))["models"]
    pages = sorted(site.rglob("*.html"))
    assert [p.relative_to(site).as_posix() for p in pages] == [
        "index.html", *(f"models/{m.name}.html" for m in sorted(graph.models, key=lambda m: m.name))]
    for path in pages:
        page, seen = _load(browser, path, ARTIFACTS / "example" / f"{path.stem}.png")
        assert seen == {"errors": [], "failed": [], "foreign": [], "dialogs": []}, (path.name, seen)
        if path.name == "index.html":
            text = page.inner_text("table.health")
            for m in graph.models:
                assert m.name in text and lock[m.name]["version"] in text
                assert f"level {inputs.maturity[m.name]['level']}" in text
            assert "alert: 2 feature(s) drift" in text and "no drift" in text and "passed " in text
            page.close()
            continue
        model = graph.model(path.stem)
        entry = lock[model.name]["metrics"]
        expected = {
            "chart-scopes": len(entry["metrics"]) * (1 + len(entry["slices"])) + sum(
                len(w["metrics"]) * (1 + len(w["slices"])) for w in (entry.get("windows") or {}).values()),
            "chart-history": sum(len(e["metrics"]) + len(e["business"]) for e in inputs.history[model.name]),
            "chart-drift": sum(d["value"] is not None
                               for d in inputs.monitors[model.name]["report"]["drift"].values()),
        }
        for chart, points in expected.items():
            drawn = page.evaluate(_MARKS, chart)
            assert drawn == {"rendered": "true", "points": points, "marks": points, "data": points}, (chart, drawn)
        assert page.locator("svg.lineage g.node").count() == _expected_lineage(model)
        assert len(inputs.history[model.name]) >= 2  # promotions from the lock's git history
        if model.step("evaluate").params.get("windows"):  # the example's evaluation window, with its bounds
            window = next(iter(entry["windows"]))
            windows = page.inner_text("#windows")
            assert window in windows and entry["windows"][window]["start"] in windows
        page.close()
    if update_golden:  # the screenshots of docs/targets/site.md
        shutil.copy(ARTIFACTS / "example" / "index.png", DOCS / "site-index.png")
        shutil.copy(ARTIFACTS / "example" / "delivery-time.png", DOCS / "site-model.png")


def test_hostile_text_stays_text_in_chromium(browser, tmp_path: Path):
    repo = tmp_path / "hostile"
    repo.mkdir()
    for name in (*EXAMPLE, "charter.lock"):
        (shutil.copytree if (REPO / name).is_dir() else shutil.copy)(REPO / name, repo / name)
    model = repo / "specs/churn/model.yaml"
    text = model.read_text(encoding="utf-8")
    line = "description: Predicts which customers cancel within the next month."
    assert line in text
    model.write_text(text.replace(line, f"description: {json.dumps(HOSTILE)}"), encoding="utf-8")
    store = repo / ".charter/artifacts"
    (store / "monitor/churn").mkdir(parents=True)
    feature = {"statistic": "psi", "value": 0.5, "rows": 200, "status": "alert", "alert": True, "note": HOSTILE}
    (store / "monitor/churn/latest.json").write_text(json.dumps({"format_version": 1, "recorded": HOSTILE, "report": {
        "model": "churn", "version": HOSTILE, "rows": 200, "method": "psi", "alert_above": 0.2, "status": "alert",
        "drift": {HOSTILE: feature, "tenure_months": {**feature, "note": ""}}}}), encoding="utf-8")
    (store / "runs/churn").mkdir(parents=True)
    (store / "runs/churn/latest.json").write_text(json.dumps({"outcome": "failed", "failed": HOSTILE,
                                                              "finished": HOSTILE}), encoding="utf-8")
    site = tmp_path / "site"
    _charter("compile", "--target", "site", "--out", str(site), cwd=repo)
    for path in sorted(site.rglob("*.html")):
        page, seen = _load(browser, path, ARTIFACTS / "hostile" / f"{path.stem}.png")
        assert seen == {"errors": [], "failed": [], "foreign": [], "dialogs": []}, (path.name, seen)
        assert page.evaluate("() => window.pwned") is None
        assert page.locator("main script:not([type='application/json']):not([src])").count() == 0
        if path.stem == "churn":
            assert "window.pwned=1" in page.inner_text("p.lead")  # shown as text, whole
            assert page.evaluate(_MARKS, "chart-drift")["marks"] == 2
        page.close()
