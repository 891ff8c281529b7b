"""Incremental compile: the memos stand for exactly what a full render and a fresh parse give.

`render/memo.py` reuses a model's files while its IR is unchanged and skips a compile whose tree
and files are as the last one left them; `load/memo.py` reuses parsed documents per file text.
Each must change nothing but the time: the same bytes, the same diagnostics, and every hand edit
of a generated file still found.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import time
from pathlib import Path

from compiler.cli import _lock_versions
from compiler.driver import compile_tree, validate_tree
from compiler.render import TARGETS, render_graph
from compiler.render.memo import MEMO, RenderMemo, text_of
from tests.conftest import run_charter

ALL = sorted(TARGETS)


def _texts(bundle) -> dict[str, str]:
    return {path: text_of(value) for path, value in bundle.files.items()}


def test_memo_renders_what_a_full_render_renders(example_repo: Path) -> None:
    _, graph = compile_tree(example_repo)
    assert graph is not None
    versions = {"churn": "v-one"}
    plain = render_graph(graph, ALL, "generated", versions).files
    cold = RenderMemo()
    assert _texts(render_graph(graph, ALL, "generated", versions, cold)) == plain
    cold.save(example_repo)

    warm = RenderMemo.load(example_repo)
    assert _texts(render_graph(graph, ALL, "generated", versions, warm)) == plain
    assert warm.rendered == 0

    # one model edited, another version promoted: only what depends on them is rendered again
    first = graph.models[0]
    edited = dataclasses.replace(graph, models=(dataclasses.replace(first, description="Edited."), *graph.models[1:]))
    moved = {"churn": "v-two", "delivery-time": "v-three"}
    again = RenderMemo.load(example_repo)
    assert _texts(render_graph(edited, ALL, "generated", moved, again)) == render_graph(edited, ALL, "generated",
                                                                                        moved).files
    assert 0 < again.rendered
    again.save(example_repo)

    # a data check edited: the checks' files (keyed by the checks alone) are rendered again
    check = edited.checks[0]
    checked = dataclasses.replace(edited, checks=(dataclasses.replace(check, description="Checked."),
                                                  *edited.checks[1:]))
    last = RenderMemo.load(example_repo)
    assert _texts(render_graph(checked, ALL, "generated", moved, last)) == render_graph(checked, ALL, "generated",
                                                                                        moved).files


def test_a_model_sees_only_its_own_version() -> None:
    from compiler.render.common import model_view

    project = {"image": "x", "versions": {"a": "1", "b": "2"}}
    assert model_view(project, "a") == {"image": "x", "versions": {"a": "1"}}
    assert model_view(project, "c") == {"image": "x", "versions": {}}
    assert model_view({"image": "x"}, "a") == {"image": "x"}


def test_hand_edits_orphans_and_removals_are_found_after_a_memoised_compile(example_repo: Path) -> None:
    def charter(*args: str):
        return run_charter(*args, cwd=example_repo)

    assert charter("compile").returncode == 0
    first = {p: p.read_bytes() for p in (example_repo / "generated").rglob("*") if p.is_file()}
    skipped = charter("compile")  # the tree and its files as the last compile left them
    assert skipped.returncode == 0 and "up to date" in skipped.stdout

    manifest = next(p for p in first if p.suffix == ".yaml" and "kubernetes" in p.parts)
    manifest.write_text(manifest.read_text() + "# edited by hand\n")
    check = charter("compile", "--check")
    assert check.returncode == 1
    assert f"{manifest.relative_to(example_repo).as_posix()}: stale or edited by hand" in check.stderr

    orphan = example_repo / "generated" / "argo" / "old-model.yaml"
    orphan.write_text("kind: Workflow\n")
    gone = next(p for p in first if p.name.endswith(".md"))
    gone.unlink()
    rewritten = charter("compile")
    assert rewritten.returncode == 0
    assert "generated/argo/old-model.yaml is no longer generated" in rewritten.stderr
    orphan.unlink()
    assert {p: p.read_bytes() for p in (example_repo / "generated").rglob("*") if p.is_file()} == first
    assert charter("compile", "--check").returncode == 0


def _memo_saved_later(root: Path) -> None:
    """Date the memo file a second after now: every recorded stat is then older than it (no racy entry)."""
    later = time.time_ns() + 1_000_000_000
    os.utime(root / MEMO, ns=(later, later))


def test_a_file_whose_stat_is_unchanged_is_trusted_and_any_write_is_seen(example_repo: Path) -> None:
    assert run_charter("compile", cwd=example_repo).returncode == 0
    _memo_saved_later(example_repo)
    memo = RenderMemo.load(example_repo)
    key = RenderMemo.bundle_key(None, _lock_versions(example_repo))
    manifest = next(p for p in sorted((example_repo / "generated" / "kubernetes").rglob("*.yaml")))
    path = manifest.relative_to(example_repo).as_posix()
    right = hashlib.sha256(manifest.read_bytes()).hexdigest()
    assert memo.unchanged_on_disk(key, path, right, manifest)
    assert not memo.unchanged_on_disk(key, path, "0" * 64, manifest)
    assert memo.on_disk(key, path, manifest) == right  # so a render of another digest is stale, unread

    # a hand edit of the same size, its mtime set back: the ctime the kernel set gives it away
    before = manifest.stat()
    text = manifest.read_bytes()
    manifest.write_bytes(text.replace(b"name:", b"nime:", 1))
    os.utime(manifest, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert manifest.stat().st_size == before.st_size and manifest.stat().st_mtime_ns == before.st_mtime_ns
    assert not memo.unchanged_on_disk(key, path, right, manifest)
    assert memo.on_disk(key, path, manifest) is None  # read it
    check = run_charter("compile", "--check", cwd=example_repo)
    assert check.returncode == 1
    assert f"{path}: stale or edited by hand" in check.stderr
    assert run_charter("compile", cwd=example_repo).returncode == 0
    assert manifest.read_bytes() == text


def test_an_entry_recorded_as_the_file_changed_is_not_trusted(example_repo: Path) -> None:
    import hashlib
    assert run_charter("compile", cwd=example_repo).returncode == 0
    manifest = next(p for p in sorted((example_repo / "generated" / "kubernetes").rglob("*.yaml")))
    changed = manifest.stat().st_ctime_ns
    os.utime(example_repo / MEMO, ns=(changed, changed))  # the memo written in the tick of the file's last change
    memo = RenderMemo.load(example_repo)
    key = RenderMemo.bundle_key(None, _lock_versions(example_repo))
    right = hashlib.sha256(manifest.read_bytes()).hexdigest()
    assert not memo.unchanged_on_disk(key, manifest.relative_to(example_repo).as_posix(), right, manifest)


def test_an_edited_spec_rewrites_its_files_as_a_fresh_compile_would(example_repo: Path, tmp_path: Path) -> None:
    assert run_charter("compile", cwd=example_repo).returncode == 0
    model = example_repo / "specs" / "churn" / "model.yaml"
    model.write_text(model.read_text().replace("description: ", "description: Edited. ", 1))
    assert run_charter("compile", cwd=example_repo).returncode == 0
    fresh = run_charter("compile", "--out", str(tmp_path / "fresh"), cwd=example_repo)
    assert fresh.returncode == 0
    for path in (tmp_path / "fresh").rglob("*"):
        if path.is_file():
            relative = path.relative_to(tmp_path / "fresh")
            target = example_repo / "generated" / relative
            if not target.is_file():
                target = example_repo / relative  # .github/... goes to its repository path below --out
            assert target.read_bytes() == path.read_bytes(), relative


def _parse_memo_holds(repo: Path, spec: Path) -> bool:
    from compiler.load import decode
    from compiler.load.memo import ParseMemo, _key

    source, _ = decode(spec.relative_to(repo).as_posix(), spec.read_bytes())
    assert source is not None
    return _key(source) in ParseMemo.read(repo)._old


def test_an_edit_writes_every_cache_even_when_the_specs_have_errors(example_repo: Path) -> None:
    """A one-spec compile writes the parse memo and the IR cache beside its render (in a child)."""
    from compiler.ir.cache import forget, lookup

    assert run_charter("compile", cwd=example_repo).returncode == 0
    model = example_repo / "specs" / "churn" / "model.yaml"
    model.write_text(model.read_text().replace("description: ", "description: Edited. ", 1))
    assert not _parse_memo_holds(example_repo, model)
    assert run_charter("compile", cwd=example_repo).returncode == 0
    assert _parse_memo_holds(example_repo, model)
    forget()
    assert lookup(example_repo)[0] is not None  # the IR cache holds this very tree
    model.write_text(model.read_text().replace("description: ", "colour: red\n  description: ", 1))
    failed = run_charter("compile", cwd=example_repo)
    assert failed.returncode == 2 and "S203" in failed.stderr, failed.stderr
    assert _parse_memo_holds(example_repo, model)  # parsed without problems: remembered, though invalid


def test_damaged_memos_are_ignored(example_repo: Path) -> None:
    assert run_charter("compile", cwd=example_repo).returncode == 0
    for name in (MEMO, Path(".charter/cache/parse.marshal"), Path(".charter/cache/ir.marshal")):
        (example_repo / name).write_bytes(b"\x00garbage{")
    model = example_repo / "specs" / "churn" / "model.yaml"
    model.write_text(model.read_text().replace("description: ", "description: Edited. ", 1))
    done = run_charter("compile", cwd=example_repo)
    assert done.returncode == 0, done.stderr
    assert run_charter("compile", "--check", cwd=example_repo).returncode == 0


def test_the_parse_memo_reports_the_same_problems_every_time(example_repo: Path) -> None:
    bad = example_repo / "specs" / "bad.yaml"
    bad.write_text("apiVersion: charter/v1\nkind: Model\nmetadata: {name: x\n")  # a YAML syntax error
    first = validate_tree(example_repo)
    second = validate_tree(example_repo)  # the memo now holds every other file
    assert (example_repo / ".charter" / "cache" / "parse.marshal").is_file()
    assert first.diagnostics == second.diagnostics and first.errors >= 1
    assert [d.code for d in first.diagnostics] == [d.code for d in second.diagnostics]
    kinds = ("DataSource", "ValidationSuite", "Model", "MetricSet", "Ownership", "RolloutPolicy")
    assert [first.specset.names(k) for k in kinds] == [second.specset.names(k) for k in kinds]
    _, memoised = compile_tree(example_repo)
    bad.unlink()
    _, fresh = compile_tree(example_repo)
    assert memoised is None and fresh is not None  # the bad file stopped the build, and only it


def test_commands_run_one_after_another_in_one_process_see_edits(example_repo: Path, capsys) -> None:
    """The spec tree's hash is remembered for one command only (an editor or a test runs several)."""
    from compiler.cli import main

    assert main(["compile", "--root", str(example_repo)]) == 0
    capsys.readouterr()
    model = example_repo / "specs" / "churn" / "model.yaml"
    model.write_text(model.read_text().replace("description: ", "description: Edited. ", 1))
    assert main(["compile", "--root", str(example_repo)]) == 0
    assert "wrote generated/" in capsys.readouterr().out
    assert main(["compile", "--check", "--root", str(example_repo)]) == 0


def _build_with_memo(repo: Path):
    """The IR as `charter compile` builds it after an edit: from the IR cache's entry of the last tree."""
    from compiler.ir.cache import forget, lookup, store

    forget()
    cached, previous = lookup(repo)
    assert cached is None  # the tree changed since the last store
    result, graph = compile_tree(repo, previous=previous)
    assert graph is not None and previous.built is not None
    store(repo, graph, previous.built)
    return graph, previous.built


def test_the_ir_memo_builds_what_a_fresh_build_builds(example_repo: Path) -> None:
    """Edits of a model, of a spec it only looks up, of charter.yaml and of owners: the same IR as a fresh build."""
    from compiler.ir.cache import forget, store

    _, graph = compile_tree(example_repo)
    assert graph is not None
    store(example_repo, graph)  # no memo yet: the next build builds everything once
    model = example_repo / "specs" / "churn" / "model.yaml"
    edits = [
        (model, "description: ", "description: Edited. "),  # the model itself
        (example_repo / "specs" / "churn" / "data.yaml", "max: 600", "max: 700"),  # a suite it reads by name
        (model, "min: 0.70", "min: 0.65"),  # a MetricSet of the model
        (example_repo / "charter.yaml", "timeout: 30m", "timeout: 40m"),  # the settings every pipeline sees
    ]
    for number, (path, old, new) in enumerate(edits):
        text = path.read_text()
        assert old in text, (path, old)
        path.write_text(text.replace(old, new, 1))
        memoised, memo = _build_with_memo(example_repo)
        forget()
        fresh = compile_tree(example_repo)[1]
        assert memoised == fresh and memoised.to_json() == fresh.to_json(), (path, old)
        if number == 0:
            assert memo.reused == 0  # the cache held no memo: everything was built, and recorded
        elif path.name != "charter.yaml":
            assert memo.reused > 0 and memo.built > 0, (path, old)  # the other product's were not built again
        else:
            assert memo.reused == 0, (path, old)  # every pipeline sees the settings
    owners = example_repo / "specs" / "delivery" / "model.yaml"  # the owners of a model, in its own file
    owners.write_text(owners.read_text().replace('accountable: "@erin"', 'accountable: "@frank"', 1))
    memoised, _ = _build_with_memo(example_repo)
    forget()
    assert memoised == compile_tree(example_repo)[1]


def test_a_damaged_ir_memo_is_ignored(example_repo: Path) -> None:
    from compiler.ir.cache import CACHE, forget

    assert run_charter("compile", cwd=example_repo).returncode == 0
    cache = example_repo / CACHE
    head, _, body = cache.read_bytes().partition(b"\n")
    model = example_repo / "specs" / "churn" / "model.yaml"
    model.write_text(model.read_text().replace("description: ", "description: Edited. ", 1))
    for damaged in (body[: len(body) // 2], body.replace(b"reads", b"raeds"), body.replace(b"steps", b"stpes")):
        cache.write_bytes(head + b"\n" + damaged)
        forget()
        memoised, _ = _build_with_memo(example_repo)
        forget()
        assert memoised == compile_tree(example_repo)[1]


def test_the_rule_memo_reports_what_a_fresh_check_reports(example_repo: Path) -> None:
    """Findings of an edited spec, of a spec whose lookups changed, and of fixed ones: as without the memo."""
    from compiler.validate.memo import MEMO as RULES

    model = example_repo / "specs" / "churn" / "model.yaml"
    data = example_repo / "specs" / "churn" / "data.yaml"
    model_text, data_text = model.read_text(), data.read_text()
    steps = [
        (model, model_text.replace('"tenure_months < 6"', '"tenur_months < 6"')),  # X304 in a slice: models
        (data, data_text.replace("{rule: unique, columns: [customer_id]}",
                                 "{rule: unique, columns: [customer]}")),  # X304 in a suite: suites
        (data, data_text.replace("name: tenure_months,", "name: tenure,")),  # a looked-up source changed
        (model, model_text.replace("description: ", "description: password=hunter2 ", 1)),  # S223: text
        (model, model_text + "# token: ghp_0123456789abcdefghijklmnopqrstuvwxyzAB\n"),  # a comment masked
        (data, data_text),
        (model, model_text),
    ]
    validate_tree(example_repo)  # the memo holds every spec's findings
    for number, (path, text) in enumerate(steps):
        path.write_text(text)
        memoised = validate_tree(example_repo)
        assert (example_repo / RULES).is_file()
        (example_repo / RULES).unlink()
        fresh = validate_tree(example_repo)
        assert memoised.diagnostics == fresh.diagnostics, path
        assert memoised.redactions == fresh.redactions, path
        assert (memoised.errors > 0) == (number < 5), [d.code for d in memoised.diagnostics]
        assert bool(memoised.redactions) == (number in (3, 4, 5)), number
    assert fresh.errors == 0
    (example_repo / RULES).write_bytes(b"\x80\x05garbage")
    assert validate_tree(example_repo).diagnostics == fresh.diagnostics


def test_rules_with_a_subject_check_every_spec_of_it() -> None:
    """`check` and `check_one` of a memoised rule say the same: the memo calls `check_one` per subject."""
    from compiler.validate.rules import load_rules

    for rule in load_rules():
        if hasattr(rule, "check_one"):
            assert rule.SUBJECT in ("DataSource", "ValidationSuite", "Model", "MetricSet", "RolloutPolicy",
                                    "Ownership"), rule.__name__


def test_memoised_documents_have_the_positions_of_parsed_ones(example_repo: Path) -> None:
    """Positions unpacked on demand (and re-parsed when their bytes are damaged) are the parser's own."""
    from compiler.load import discover, load_documents
    from compiler.load.memo import ParseMemo

    files, _ = discover([example_repo / "specs"], example_repo)
    _, fresh, _ = load_documents(files, example_repo)
    memo = ParseMemo()
    load_documents(files, example_repo, memo)
    memo.save(example_repo)
    warm = ParseMemo.load(example_repo)
    _, memoised, _ = load_documents(files, example_repo, warm)
    assert warm.parsed == 0 and len(memoised) == len(fresh)
    for new, old in zip(memoised, fresh, strict=True):
        assert (new.file, new.index, new.data, new.suspect) == (old.file, old.index, old.data, old.suspect)
        assert new.span("") == old.span("")
        assert new.values == old.values and new.keys == old.keys
        for pointer in list(old.values)[:50]:
            assert new.span(pointer) == old.span(pointer) and new.span(pointer, key=True) == old.span(pointer, key=True)
    damaged = type(memoised[0])(next(s for s in load_documents(files, example_repo)[0] if s.path == memoised[0].file),
                                memoised[0].index, memoised[0].data, b"\x00", None, True)
    assert damaged.values == fresh[0].values and damaged.span("/spec") == fresh[0].span("/spec")


def test_parts_of_a_yaml_file_are_written_as_without_the_memo() -> None:
    """`Parts` values, written again from memory, and a document that PyYAML must write: the same text."""
    from compiler.render import common

    jobs = {"a": {"steps": [{"run": "x\ny\n"}, {"name": "1.5"}], "if": "yes"}, "b": {"needs": ["a"], "n": 1.5},
            "c": {}, "d": {"k": [1, 2.0, True, None]}}
    plain = common.dump_yaml({"name": "w", "jobs": jobs})
    for _ in range(2):  # written, then from memory
        assert common.dump_yaml({"name": "w", "jobs": common.Parts(jobs)}) == plain
    odd = {"jobs": common.Parts({"a": {"x": float("nan")}, "b": {"y": " lead"}})}  # PyYAML writes these
    assert common.dump_yaml(odd) == common.dump_yaml({"jobs": {"a": {"x": float("nan")}, "b": {"y": " lead"}}})
    keys = {"jobs": common.Parts({"a": {1: "x"}, "b": {"y": 1}})}  # a key JSON cannot hold: PyYAML, no memo
    assert common.dump_yaml(keys) == common.dump_yaml({"jobs": {"a": {1: "x"}, "b": {"y": 1}}})


def test_the_output_scan_finds_what_rglob_finds(tmp_path: Path) -> None:
    """`compiler.cli._files_under`, the orphan scan: every file below, links to files too, as `rglob`."""
    from compiler.cli import _files_under

    for rel in ("a.yaml", "airflow/x.py", "kubernetes/dev/deep/y.yaml", "kubernetes/.hidden", "odd name é.md"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x")
    (tmp_path / "empty").mkdir()
    (tmp_path / "link.yaml").symlink_to(tmp_path / "a.yaml")
    (tmp_path / "dangling.yaml").symlink_to(tmp_path / "nowhere")
    expected = sorted(str(p) for p in tmp_path.rglob("*") if p.is_file())
    assert sorted(_files_under(tmp_path)) == expected
    assert list(_files_under(tmp_path / "missing")) == []


def test_a_reused_pipeline_carries_the_digest_of_its_content(example_repo: Path) -> None:
    """The render memo's key of a pipeline reused from the IR cache is the one its content gives."""
    from compiler.ir import graph as ir_graph
    from compiler.ir.cache import forget, lookup

    assert run_charter("compile", cwd=example_repo).returncode == 0
    model = example_repo / "specs" / "churn" / "model.yaml"
    model.write_text(model.read_text().replace("description: ", "description: Edited. ", 1))
    forget()
    _, previous = lookup(example_repo)
    _, graph = compile_tree(example_repo, previous=previous)
    assert graph is not None and previous.built is not None and previous.built.reused >= 1
    carried = {m.name: ir_graph._DIGESTS[id(m)][1] for m in graph.models if id(m) in ir_graph._DIGESTS}
    assert "churn" not in carried and len(carried) == previous.built.reused - len(graph.checks)
    ir_graph.forget_digests()
    assert carried == {name: ir_graph.pipeline_digest(m) for name in carried if (m := graph.model(name))}


def test_an_ir_cache_of_another_python_is_not_read(example_repo: Path) -> None:
    """Its body is marshal, whose format is the Python version's: neither the graph nor the memo is read."""
    import orjson

    from compiler.ir.cache import CACHE, forget, lookup

    assert run_charter("compile", cwd=example_repo).returncode == 0
    cache = example_repo / CACHE
    head, _, body = cache.read_bytes().partition(b"\n")
    forget()
    assert lookup(example_repo)[0] is not None
    cache.write_bytes(orjson.dumps({**orjson.loads(head), "python": "2.7.18"}) + b"\n" + body)
    forget()
    graph, previous = lookup(example_repo)
    assert graph is None and previous.memo({}).reused == 0 and previous._body is None


def test_after_an_edit_the_memo_records_each_files_stat_as_it_is(example_repo: Path) -> None:
    """Files written again are stat'ed afresh; the others keep the stat `on_disk` verified."""
    from compiler.render.memo import _signature

    assert run_charter("compile", cwd=example_repo).returncode == 0
    _memo_saved_later(example_repo)  # every file trusted by its stat in the next compile
    model = example_repo / "specs" / "churn" / "model.yaml"
    model.write_text(model.read_text().replace("description: ", "description: Edited. ", 1))
    done = run_charter("compile", cwd=example_repo)
    assert done.returncode == 0 and "wrote generated/" in done.stdout
    memo = RenderMemo.load(example_repo)
    (bundle,) = memo._bundles.values()
    assert bundle["stat"].keys() == bundle["files"].keys()
    for path, recorded in bundle["stat"].items():
        assert recorded == _signature(os.stat(example_repo / path)), path


def test_a_cache_write_that_fails_beside_the_render_leaves_no_file_aside(example_repo: Path, monkeypatch,
                                                                        capsys) -> None:
    """The caches' child of an edit fails: reported as Charter's bug, the files written aside removed."""
    import compiler.ir.cache as cache
    from compiler.cli import main

    assert main(["compile", "--root", str(example_repo)]) == 0
    before = (example_repo / "generated" / "ir.json").read_bytes()
    model = example_repo / "specs" / "churn" / "model.yaml"
    model.write_text(model.read_text().replace("description: ", "description: Edited. ", 1))

    def broken(*args, **kwargs):
        raise RuntimeError("a bug in the cache")

    monkeypatch.setattr(cache, "store", broken)
    capsys.readouterr()
    assert main(["compile", "--root", str(example_repo)]) == 2
    assert "internal error: RuntimeError: a bug in the cache" in capsys.readouterr().err
    assert not [p for p in example_repo.rglob("*.tmp")]
    assert (example_repo / "generated" / "ir.json").read_bytes() == before  # nothing switched in


def test_an_interrupt_while_the_caches_are_written_leaves_no_file_aside(example_repo: Path, monkeypatch,
                                                                       capsys) -> None:
    import compiler.fork as fork
    from compiler.cli import main

    assert main(["compile", "--root", str(example_repo)]) == 0
    model = example_repo / "specs" / "churn" / "model.yaml"
    model.write_text(model.read_text().replace("description: ", "description: Edited. ", 1))
    real = fork.Pending.join

    def interrupted(self):
        real(self)
        raise KeyboardInterrupt

    monkeypatch.setattr(fork.Pending, "join", interrupted)
    assert main(["compile", "--root", str(example_repo)]) == 130
    assert not [p for p in (example_repo / "generated").rglob("*.tmp")]
    monkeypatch.undo()
    capsys.readouterr()
    assert main(["compile", "--root", str(example_repo)]) == 0  # and the next compile writes the edit


def test_a_command_keeps_no_spec_bytes_for_later_callers(example_repo: Path, capsys) -> None:
    """The bytes the tree's hash read are the loader's within one command, never a later one's."""
    from compiler.cli import main
    from compiler.load import _READ

    assert main(["compile", "--root", str(example_repo)]) == 0
    assert main(["compile", "--root", str(example_repo)]) == 0  # up to date: hashed, never loaded
    assert not _READ
    model = example_repo / "specs" / "churn" / "model.yaml"
    model.write_text(model.read_text().replace("description: ", "colour: red\n  description: ", 1))
    assert validate_tree(example_repo).errors >= 1


def test_a_spec_saved_while_a_compile_runs_is_compiled_by_the_next(example_repo: Path, monkeypatch, capsys) -> None:
    """The tree is hashed before it is loaded: an edit saved after the load is never cached as compiled."""
    import compiler.ir as ir
    from compiler.cli import main

    model = example_repo / "specs" / "churn" / "model.yaml"
    text = model.read_text()
    real = ir.build_graph

    def saved_meanwhile(*args, **kwargs):
        model.write_text(text.replace("description: ", "description: Saved meanwhile. ", 1))
        return real(*args, **kwargs)

    monkeypatch.setattr(ir, "build_graph", saved_meanwhile)
    assert main(["compile", "--root", str(example_repo)]) == 0  # cold: of the text loaded
    monkeypatch.undo()
    assert "Saved meanwhile." not in (example_repo / "generated" / "ir.json").read_text()
    assert main(["compile", "--root", str(example_repo)]) == 0
    assert "Saved meanwhile." in (example_repo / "generated" / "ir.json").read_text()
