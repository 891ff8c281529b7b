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
