"""Target `site`: its pages, byte-identical across runs, paths and locales, and spec text kept as text.

The browser test (tests/integration/test_site_browser.py) loads these pages in Chromium; here
the HTML itself: a golden copy of the example's pages for fixed inputs (`pytest --update-golden`
rewrites it), the same bytes from two copies of a repository, every script element one of the
site's own, and the vendored libraries as their README says.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import os
import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

pytest.importorskip("jinja2")

from compiler.driver import compile_tree  # noqa: E402
from compiler.gitops.site import _judge, collect  # noqa: E402
from compiler.render.site import ASSETS, SiteInputs, render_site, script_json  # noqa: E402
from tests.conftest import COMMITTED, EXAMPLE, REPO, copy_example, run_charter  # noqa: E402

GOLDEN = REPO / "tests" / "golden" / "site" / "example" / "expected"
HOSTILE = '</script><script>alert(1)</script><img src=x onerror=alert(2)> <!-- & "\' \u2028'
_GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@example.com", "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z",
            "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z"}


def _inputs(graph) -> SiteInputs:
    """Fixed inputs: the committed lock, one earlier promotion per model, a run and a monitor report."""
    lock = json.loads((REPO / "charter.lock").read_text(encoding="utf-8"))["models"]
    history, gates = {}, {}
    for name, entry in sorted(lock.items()):
        earlier = copy.deepcopy(entry["metrics"])
        earlier["metrics"] = {k: v * 0.98 for k, v in earlier["metrics"].items()}
        entries = [{"version": "000000000001", "commit": "a" * 40, "date": "2026-01-01T00:00:00+00:00",
                    "subject": "first promotion", "metrics": earlier["metrics"], "business": earlier["business"],
                    "doc": earlier},
                   {"version": entry["version"], "commit": "b" * 40, "date": "2026-02-01T00:00:00+00:00",
                    "subject": "second promotion", "metrics": entry["metrics"]["metrics"],
                    "business": entry["metrics"]["business"], "doc": entry["metrics"]}]
        gates[name] = _judge(graph.model(name), entries)
        history[name] = [{k: v for k, v in e.items() if k != "doc"} for e in entries]
    drift = {"distance_km": {"statistic": "ks", "value": 0.41, "rows": 120, "status": "alert", "alert": True},
             "items": {"statistic": "ks", "value": 0.05, "rows": 120, "status": "ok", "alert": False}}
    return SiteInputs(
        lock=lock, history=history, gates=gates,
        maturity={m.name: {"level": 1, "level_name": "automated training pipeline", "next": {"level": 2}}
                  for m in graph.models},
        runs={"churn": {"outcome": "passed", "finished": "2026-02-01T06:00:00Z", "version": lock["churn"]["version"]}},
        monitors={"delivery-time": {"recorded": "2026-02-02T05:30:00Z", "report": {
            "version": lock["delivery-time"]["version"], "rows": 120, "method": "ks", "alert_above": 0.3,
            "status": "alert", "drift": drift}}},
        commit="c" * 40, store=".charter/artifacts")


@pytest.fixture(scope="module")
def graph():
    _, built = compile_tree(REPO)
    assert built is not None
    return built


def test_golden_pages(graph, update_golden: bool):
    pages = {p: t for p, t in render_site(graph, _inputs(graph)).items() if p.endswith(".html")}
    if update_golden:
        for path, text in pages.items():
            (GOLDEN / path).parent.mkdir(parents=True, exist_ok=True)
            (GOLDEN / path).write_text(text, encoding="utf-8")
    on_disk = {p.relative_to(GOLDEN).as_posix(): p.read_text(encoding="utf-8") for p in GOLDEN.rglob("*.html")}
    assert on_disk == pages, "run `pytest --update-golden` and review the diff"


def test_pages_and_links(graph):
    files = render_site(graph, _inputs(graph))
    names = sorted(m.name for m in graph.models)
    assert sorted(files) == sorted(["index.html", *(f"models/{n}.html" for n in names),
                                    *(f"assets/{a}" for a in ASSETS)])
    index = files["index.html"]
    assert [m for m in re.findall(r'href="models/([^"]+)\.html"', index)] == [m.name for m in graph.models]
    delivery = files["models/delivery-time.html"]
    for section in ("lineage", "owners", "gates", "metrics", "windows", "history", "drift", "card"):
        assert f'<section id="{section}">' in delivery
    assert "last-14d" in delivery and "2024-05-16T03:16:00" in delivery  # the example's evaluation window
    for page in (p for p in files if p.endswith(".html")):
        for ref in re.findall(r'(?:src|href)="([^"#]+)"', files[page]):
            if not ref.startswith("data:"):
                target = os.path.normpath(os.path.join(os.path.dirname(page), ref))
                assert target in files, (page, ref)  # every link and script is a file of the site


def test_a_repository_with_nothing_to_show_yet(graph):
    files = render_site(graph, SiteInputs(notes=("no git",)))
    index, churn = files["index.html"], files["models/churn.html"]
    assert index.count(">not promoted<") == len(graph.models) and "<li>no git</li>" in index
    assert "no run in the store" in index and "no monitor report" in index
    assert "No promoted version yet" in churn and "data-chart" not in churn and "vega.min.js" not in churn


def test_a_report_of_another_version_is_not_taken_for_todays(graph):
    from compiler.render.site.health import health

    inputs = _inputs(graph)
    moved = {**inputs.lock, "delivery-time": {**inputs.lock["delivery-time"], "version": "newer"}}
    signal = health("delivery-time", dataclasses.replace(inputs, lock=moved)).drift
    assert signal.state == "warn" and signal.text == "report of another version"
    assert health("delivery-time", inputs).drift.text == "alert: 1 feature(s) drift"


def test_vendored_libraries_are_the_npm_builds():
    vendor = REPO / "compiler" / "templates" / "site" / "vendor"
    table = dict(re.findall(r"\| `([\w.-]+\.min\.js)` \| [^|]+ \| `([0-9a-f]{64})` \|",
                            (vendor / "README.md").read_text(encoding="utf-8")))
    assert sorted(table) == ["vega-embed.min.js", "vega-lite.min.js", "vega.min.js"]
    for name, digest in table.items():
        assert hashlib.sha256((vendor / name).read_bytes()).hexdigest() == digest, name
        assert (vendor / name.replace(".min.js", ".LICENSE")).is_file()


class _Scripts(HTMLParser):
    def __init__(self):
        super().__init__()
        self.scripts: list[tuple[dict, str]] = []
        self._open: dict | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self._open = dict(attrs)
            self.scripts.append((self._open, ""))

    def handle_data(self, data):
        if self._open is not None:
            attrs, text = self.scripts[-1]
            self.scripts[-1] = (attrs, text + data)

    def handle_endtag(self, tag):
        if tag == "script":
            self._open = None


def test_hostile_text_is_escaped(graph):
    first = graph.models[0]
    owners = {stage: {**r, "accountable": HOSTILE, "responsible": [HOSTILE]} for stage, r in first.owners.items()}
    hostile = dataclasses.replace(graph, project={**graph.project, "name": HOSTILE}, models=(
        dataclasses.replace(first, description=HOSTILE, owners=owners), *graph.models[1:]))
    inputs = _inputs(graph)
    report = {"version": HOSTILE, "rows": 1, "method": HOSTILE, "alert_above": 0.2, "status": HOSTILE,
              "drift": {HOSTILE: {"statistic": HOSTILE, "value": 0.5, "rows": 1, "status": HOSTILE, "note": HOSTILE}}}
    inputs = dataclasses.replace(inputs, monitors={first.name: {"recorded": HOSTILE, "report": report}},
                                 runs={first.name: {"outcome": "failed", "failed": HOSTILE, "finished": HOSTILE}},
                                 notes=(HOSTILE,), store=HOSTILE)
    files = render_site(hostile, inputs)
    for path, text in files.items():
        if not path.endswith(".html"):
            continue
        assert "<script>alert" not in text and "<img src=x" not in text and "<!-- &" not in text, path
        parser = _Scripts()
        parser.feed(text)
        for attrs, body in parser.scripts:
            if "src" in attrs:
                assert not body and attrs["src"].startswith("../assets/"), (path, attrs)
            else:  # a chart spec: data only, and it reads back whole
                assert attrs == {"type": "application/json", "id": attrs["id"]}, (path, attrs)
                assert "<" not in body and "\u2028" not in body
                json.loads(body)
    page = files[f"models/{first.name}.html"]
    assert "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in page  # shown as text
    drift = json.loads(_script_body(page, "chart-drift"))
    assert drift["datasets"]["points"][0]["feature"] == HOSTILE  # the data, whole


def _script_body(page: str, script_id: str) -> str:
    parser = _Scripts()
    parser.feed(page)
    return next(body for attrs, body in parser.scripts if attrs.get("id") == script_id)


def test_script_json_cannot_close_its_element():
    text = script_json({"a": "</script><!--<script>", "b": "\u2028\u2029&"})
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text) == {"a": "</script><!--<script>", "b": "\u2028\u2029&"}


def _repository(dest: Path) -> Path:
    """A copy of the example as a git repository whose commit is the same wherever it is made."""
    copy_example(dest, (*EXAMPLE, *COMMITTED))
    env = {**os.environ, **_GIT_ENV}
    for argv in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "example"]):
        subprocess.run(["git", *argv], cwd=dest, check=True, env=env)
    store = dest / ".charter" / "artifacts"
    (store / "runs" / "churn").mkdir(parents=True)
    (store / "runs" / "churn" / "latest.json").write_text(json.dumps(
        {"outcome": "passed", "finished": "2026-01-01T06:00:00Z", "version": "v"}), encoding="utf-8")
    return dest


def test_same_bytes_from_two_paths_and_locales(tmp_path: Path):
    one, two = _repository(tmp_path / "one"), _repository(tmp_path / "elsewhere" / "two")
    assert run_charter("compile", "--target", "site", cwd=one).returncode == 0
    other = {"LC_ALL": "C.UTF-8", "LANG": "de_DE.UTF-8", "TZ": "Asia/Tokyo"}
    result = run_charter("compile", "--target", "site", "--out", str(tmp_path / "out"), cwd=two, env=other)
    assert result.returncode == 0, result.stderr
    built = one / ".charter" / "site"
    first = {p.relative_to(built).as_posix(): p.read_bytes() for p in built.rglob("*") if p.is_file()}
    second = {p.relative_to(tmp_path / "out").as_posix(): p.read_bytes()
              for p in (tmp_path / "out").rglob("*") if p.is_file()}
    assert first == second and "index.html" in first
    assert b"passed 2026-01-01 06:00 UTC" in first["index.html"]  # the store was read
    assert str(tmp_path).encode() not in first["index.html"]
    # unchanged: --check agrees; a page edited by hand is found
    assert run_charter("compile", "--target", "site", "--check", cwd=one).returncode == 0
    (built / "index.html").write_text("edited", encoding="utf-8")
    stale = run_charter("compile", "--target", "site", "--check", cwd=one)
    assert stale.returncode == 1 and ".charter/site/index.html: stale or edited by hand" in stale.stderr


def test_site_is_built_on_its_own(tmp_path: Path):
    repo = _repository(tmp_path / "repo")
    mixed = run_charter("compile", "--target", "site", "ir", cwd=repo)
    assert mixed.returncode == 2 and "on its own" in mixed.stderr
    stdout = run_charter("compile", "--target", "site", "--out", "-", cwd=repo)
    assert stdout.returncode == 2 and "folder of files" in stdout.stderr
    assert run_charter("compile", "--target", "site", cwd=repo).returncode == 0
    # the site is not committed output: the compile of the other targets neither checks nor flags it
    assert run_charter("compile", "--check", cwd=repo).returncode == 0


def test_without_jinja2_the_site_says_what_to_install(tmp_path: Path, monkeypatch, capsys):
    import importlib.util

    from compiler import cli

    repo = copy_example(tmp_path / "repo")
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "jinja2" else real(name, *a))
    assert cli.main(["compile", "--target", "site", "--root", str(repo)]) == 2
    assert "pip install 'charter[site]'" in capsys.readouterr().err
    assert not (repo / ".charter" / "site").exists()


def test_site_cannot_be_listed_in_the_committed_targets(tmp_path: Path):
    from compiler.driver import validate_tree

    repo = copy_example(tmp_path / "repo")
    config = repo / "charter.yaml"
    config.write_text(config.read_text(encoding="utf-8") + "  targets: [docs, site]\n", encoding="utf-8")
    found = [d for d in validate_tree(repo).diagnostics if d.code == "S206"]
    assert [(d.span.file, d.message) for d in found] == [("charter.yaml", "`site` is not a target of the committed "
                                                                          "output")]
    assert "charter compile --target site" in (found[0].help or "")


def test_collect_reads_the_lock_history(tmp_path: Path):
    repo = _repository(tmp_path / "repo")
    lock_path = repo / "charter.lock"
    lock = json.loads(lock_path.read_text(encoding="utf-8"))
    lock["models"]["churn"]["version"] = "0123456789ab"
    lock_path.write_text(json.dumps(lock, indent=2), encoding="utf-8")  # promoted, not committed yet
    _, graph = compile_tree(repo)
    inputs = collect(repo, graph)
    churn = inputs.history["churn"]
    assert [e["version"] for e in churn][-1] == "0123456789ab" and churn[-1]["commit"] is None
    assert churn[0]["commit"] == inputs.commit and churn[0]["date"].startswith("2026-01-01")
    assert inputs.runs["churn"]["outcome"] == "passed" and inputs.store == ".charter/artifacts"
    assert inputs.gates["churn"]["passed"] is True and inputs.maturity["churn"]["level"] >= 0
    assert not inputs.notes
