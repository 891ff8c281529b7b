"""End to end: the `charter` command on the worked example in a temporary git repository."""

from __future__ import annotations

import json
import re
import subprocess

from tests.conftest import REPO, run_charter


def test_example_validates_clean(example_repo):
    result = run_charter("validate", cwd=example_repo)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no problems" in result.stdout


def test_version():
    result = run_charter("--version", cwd=REPO)
    assert result.returncode == 0
    assert re.fullmatch(r"charter \d+\.\d+\.\d+\n", result.stdout)


def test_typo_in_reference_is_reported_with_position(example_repo):
    model = example_repo / "specs/churn/model.yaml"
    model.write_text(model.read_text().replace("source: customers\n", "source: custmers\n"))
    result = run_charter("validate", "--format", "short", cwd=example_repo)
    assert result.returncode == 1
    expected = "specs/churn/model.yaml:10:13: error X301 unknown data source `custmers` [unknown-reference]"
    assert expected in result.stdout


def test_json_format(example_repo):
    (example_repo / "specs/extra.yaml").write_text("apiVersion: charter/v1\nkind: Modle\nmetadata: {name: x}\n")
    result = run_charter("validate", "--format", "json", cwd=example_repo)
    doc = json.loads(result.stdout)
    assert result.returncode == 1
    assert doc["status"] == "fail"
    [diag] = doc["diagnostics"]
    assert (diag["code"], diag["span"]["line"], diag["span"]["col"]) == ("S201", 2, 7)
    assert diag["help"] == "did you mean `Model`?"


def test_missing_path_is_a_usage_error(example_repo):
    result = run_charter("validate", "no-such-dir", cwd=example_repo)
    assert result.returncode == 2
    assert "path not found" in result.stderr
    assert "Traceback" not in result.stderr


def test_init_scaffolds_a_clean_repository(tmp_path):
    result = run_charter("init", "new-repo", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    check = run_charter("validate", cwd=tmp_path / "new-repo")
    assert check.returncode == 0, check.stdout
    again = run_charter("init", "new-repo", cwd=tmp_path)
    assert again.returncode == 2
    assert "already has" in again.stderr


def test_init_sets_up_git_and_the_editor(tmp_path):
    result = run_charter("init", "my ml", cwd=tmp_path)
    repo = tmp_path / "my ml"
    assert "next: cd 'my ml' && git init -b main && git add -A" in result.stdout
    ignored = (repo / ".gitignore").read_text().splitlines()
    assert ".charter/" in ignored and "mlruns/" in ignored
    schemas = json.loads((repo / ".vscode/settings.json").read_text())["yaml.schemas"]
    for schema, globs in schemas.items():
        assert (repo / schema).is_file() and globs
    assert "specs/**/*.yaml" in schemas["./schemas/charter.schema.json"]
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True)
    assert run_charter("compile", cwd=repo).returncode == 0
    assert run_charter("compile", "--check", cwd=repo).returncode == 0
    for path in (".charter/artifacts/x", ".charter/mlflow.db", "mlruns/0/meta.yaml"):
        assert subprocess.run(["git", "check-ignore", "-q", path], cwd=repo).returncode == 0, path
    for path in ("charter.lock", "generated/ir.json", ".github/CODEOWNERS", "specs/example/example.yaml"):
        assert subprocess.run(["git", "check-ignore", "-q", path], cwd=repo).returncode == 1, path


def test_every_spec_document_names_its_schema():
    """A `yaml-language-server` modeline covers one document: each document carries its own."""
    files = sorted((REPO / "specs").rglob("*.yaml")) + sorted((REPO / "compiler/templates/init/specs").rglob("*.yaml"))
    assert files
    for path in files:
        for doc in path.read_text().split("\n---\n"):
            assert doc.lstrip("-\n").startswith("# yaml-language-server: $schema="), (path, doc[:60])


def test_schema_check_passes_on_committed_schemas():
    result = run_charter("schema", "--out", "schemas", "--check", cwd=REPO)
    assert result.returncode == 0, result.stderr + "\nrun `charter schema --out schemas/` to regenerate"


def test_warnings_pass_unless_strict(example_repo):
    rollout = example_repo / "specs/churn/rollout.yaml"
    analysis = "        analysis: {gates: churn-quality, on_failure: rollback}\n"
    rollout.write_text(rollout.read_text().replace(analysis, ""))
    relaxed = run_charter("validate", cwd=example_repo)
    assert relaxed.returncode == 0 and "warning[S222]" in relaxed.stdout
    strict = run_charter("validate", "--strict", cwd=example_repo)
    assert strict.returncode == 1


def test_github_format_is_default_under_actions(example_repo):
    model = example_repo / "specs/churn/model.yaml"
    model.write_text(model.read_text().replace("task: binary_classification", "task: binary"))
    result = run_charter("validate", cwd=example_repo, env={"GITHUB_ACTIONS": "true"})
    assert result.returncode == 1
    assert result.stdout.startswith("::error file=specs/churn/model.yaml,line=8,col=9,")


def test_all_files_reported_in_one_run(example_repo):
    (example_repo / "specs/a.yaml").write_text("a: [1\n")
    (example_repo / "specs/b.yaml").write_bytes(b"a: \xff\n")
    (example_repo / "specs/c.yaml").write_text("apiVersion: charter/v1\nkind: Nope\n")
    result = run_charter("validate", "--format", "short", cwd=example_repo)
    assert result.returncode == 1
    files = [line.split(":")[0] for line in result.stdout.splitlines()]
    assert files == ["specs/a.yaml", "specs/b.yaml", "specs/c.yaml"]


def test_compile_out_writes_only_under_the_folder(example_repo, tmp_path):
    """`--out DIR` moves where the files go, never what they say, and touches nothing else."""
    assert run_charter("compile", cwd=example_repo).returncode == 0
    subprocess.run(["git", "add", "-A"], cwd=example_repo, check=True)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "generated"],
                   cwd=example_repo, check=True)
    for dest in (tmp_path / "elsewhere", example_repo / "build"):
        for _ in range(2):  # a second compile into the same folder works
            result = run_charter("compile", "--out", str(dest), cwd=example_repo)
            assert result.returncode == 0, result.stderr
        assert run_charter("compile", "--check", "--out", str(dest), cwd=example_repo).returncode == 0
        written = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file())
        assert ".github/workflows/charter-pr.yml" in written and "kubernetes/production/churn.yaml" in written
        for name in written:  # the same bytes as in the repository
            here = example_repo / (name if name.startswith(".github/") else f"generated/{name}")
            assert (dest / name).read_text() == here.read_text(), name
        (dest / "stray.txt").write_text("x")
        stale = run_charter("compile", "--check", "--out", str(dest), cwd=example_repo)
        assert stale.returncode == 1 and "stray.txt: no longer generated" in stale.stderr
    status = subprocess.run(["git", "status", "--porcelain"], cwd=example_repo, capture_output=True, text=True)
    assert status.stdout.splitlines() == ["?? build/"]
    for bad in (".", ".."):
        refused = run_charter("compile", "--out", bad, cwd=example_repo)
        assert refused.returncode == 2 and "name a folder of its own" in refused.stderr


def test_empty_spec_file_warns_but_fails_strict(example_repo):
    """An empty file (a spec being written) must not break the tree, but strict CI catches it."""
    (example_repo / "specs/empty.yaml").write_text("")
    (example_repo / "specs/comments.yaml").write_text("# to do: the returns model\n")
    relaxed = run_charter("validate", "--format", "short", cwd=example_repo)
    assert relaxed.returncode == 0, relaxed.stdout + relaxed.stderr
    assert relaxed.stdout.count("warning L111") == 2, relaxed.stdout
    strict = run_charter("validate", "--strict", "--format", "short", cwd=example_repo)
    assert strict.returncode == 1 and "specs/empty.yaml:1:1: warning L111" in strict.stdout, strict.stdout
