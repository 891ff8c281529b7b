"""A literal secret is reported without ever being echoed, in every output format."""

from __future__ import annotations

import pytest

from tests.conftest import run_charter

SECRET = "hunter2-very-secret"


@pytest.mark.parametrize("fmt", ["text", "short", "json", "github", "sarif"])
def test_secret_is_never_echoed(example_repo, fmt):
    (example_repo / "specs/warehouse.yaml").write_text(f"""\
apiVersion: charter/v1
kind: DataSource
metadata: {{name: warehouse, labels: {{api_key: {SECRET}}}}}
spec:
  format: sql
  query: select 1
  connection: {{url_env: "postgresql://etl:{SECRET}@db/prod"}}
  schema: [{{name: a, type: string}}]
""")
    result = run_charter("validate", "--format", fmt, "--color", "always", cwd=example_repo)
    assert result.returncode == 1
    assert "S223" in result.stdout
    assert SECRET not in result.stdout + result.stderr
    assert "hunter2" not in result.stdout + result.stderr


def test_key_value_credentials_in_any_string_are_found(example_repo):
    (example_repo / "specs/warehouse.yaml").write_text("""\
apiVersion: charter/v1
kind: DataSource
metadata:
  name: warehouse
  description: "read with pwd=hunter2 or api_key=hunter3"
  labels: {team: "password: hunter4"}
spec:
  format: sql
  path: db.sqlite
  query: "select 1 as a -- password=hunter5"
  schema: [{name: a, type: string}]
""")
    result = run_charter("validate", "--format", "short", cwd=example_repo)
    assert result.returncode == 1
    assert [ln.split(":")[1] for ln in result.stdout.splitlines() if "S223" in ln] == ["5", "6", "10"]
    assert "hunter" not in result.stdout + result.stderr


def test_keys_and_comments_are_masked_in_snippets(example_repo):
    (example_repo / "specs/warehouse.yaml").write_text("""\
apiVersion: charter/v1
kind: DataSource
metadata:
  name: warehouse
  labels: {"token=hunter7": x}
spec:
  format: sql
  path: db.sqlite
  query: select 1 as a
  schema: [{name: a, type: strin}]  # password=hunter6
""")
    result = run_charter("validate", "--format", "text", cwd=example_repo)
    assert "schema: [{name: a, type: strin}]  *" in result.stdout  # the snippet is shown, its comment masked
    assert result.returncode == 1 and "S223" in result.stdout and "S206" in result.stdout
    assert "hunter" not in result.stdout + result.stderr


def test_skops_trusts_an_exact_list_of_types(tmp_path):
    pytest.importorskip("skops")
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    from compiler.execute import package

    sio.dump({"model": LogisticRegression(), "f": eval}, tmp_path / "model.skops")  # builtins.eval by prefix
    with pytest.raises(ValueError, match="unexpected types builtins.eval"):
        package.trusted_types(tmp_path / "model.skops")
