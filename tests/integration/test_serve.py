"""Integration tier: `charter serve` answers over HTTP with KServe's server, as a user starts it.

Both example models are trained in a copy of the example, served by the real command in
their own processes, and asked over loopback: the served predictions equal the evaluate
step's (after guardrails) row for row, over V1 records, V1 lists and V2 tensors; every bad
request is a 4xx naming the row and the field; /metrics carries Charter's series.
Skips without the serve extra (`pip install -e '.[serve]'`), fails under CI=true.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import REPO, copy_example, run_charter

pytestmark = pytest.mark.integration
pl = pytest.importorskip("polars")


def _need_kserve() -> None:
    from importlib.util import find_spec

    if find_spec("kserve") is None:
        if os.environ.get("CI"):
            pytest.fail("kserve is not installed and CI is set (pip install -e '.[serve]')")
        pytest.skip("kserve is not installed (pip install -e '.[serve]')")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method: str, url: str, body: bytes | str | dict | None = None, headers: dict | None = None):
    """(status, parsed JSON or text) of one request."""
    data = json.dumps(body).encode() if isinstance(body, dict | list) else (body.encode() if isinstance(body, str)
                                                                             else body)
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if isinstance(body, dict | list):
        req.add_header("content-type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            status, text = resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        status, text = err.code, err.read().decode()
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


class Server:
    def __init__(self, root: Path, model: str, *extra: str):
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        self.proc = subprocess.Popen([sys.executable, "-m", "compiler", "serve", model, "--port", str(self.port),
                                      *extra], cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"charter serve exited {self.proc.returncode}: {self.proc.stdout.read()}")
            try:
                if http("GET", self.base + "/v2/health/ready")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        self.stop()
        raise AssertionError("charter serve did not become ready in 90 s")

    def stop(self) -> str:
        self.proc.terminate()
        try:
            out, _ = self.proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate()
        return out or ""


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    _need_kserve()
    root = copy_example(tmp_path_factory.mktemp("serve") / "repo")
    spec = root / "specs/churn/model.yaml"  # a second guardrail, one that fires on the test split
    spec.write_text(spec.read_text().replace(
        '    - {name: no-churn-for-fresh-signups, when: "tenure_months < 1", predict: false}\n',
        '    - {name: no-churn-for-fresh-signups, when: "tenure_months < 1", predict: false}\n'
        '    - {name: heavy-support-churns, when: "support_calls >= 6", predict: true}\n'))
    for model in ("churn", "delivery-time"):
        result = run_charter("run", model, cwd=root)
        assert result.returncode == 0, result.stdout + result.stderr
    servers = {m: Server(root, m) for m in ("churn", "delivery-time")}
    yield root, servers
    for s in servers.values():
        s.stop()


def _evaluated(root: Path, model: str) -> tuple[pl.DataFrame, pl.DataFrame, dict]:
    lock = json.loads((root / "charter.lock").read_text())["models"][model]
    package = root / ".charter/artifacts/models" / model / lock["version"]
    record = json.loads((package / "run.json").read_text())
    steps = root / ".charter/artifacts/steps"
    key = record["run_keys"]
    test = pl.read_parquet(steps / key[f"{model}/split"][:2] / key[f"{model}/split"] / "test_set.parquet")
    predictions = pl.read_parquet(steps / key[f"{model}/evaluate"][:2] / key[f"{model}/evaluate"]
                                  / "predictions.parquet")
    contract = json.loads((package / "predictor.json").read_text())
    return test, predictions, contract


def _records(test: pl.DataFrame, contract: dict) -> list[dict]:
    names = [c["name"] for c in contract["inputs"]]
    out = []
    for row in test.select(names).iter_rows(named=True):
        out.append({k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()})
    return out


@pytest.mark.parametrize("model", ["churn", "delivery-time"])
def test_served_predictions_equal_the_evaluate_steps_row_for_row(served, model):
    root, servers = served
    server = servers[model]
    test, evaluated, contract = _evaluated(root, model)
    records = _records(test, contract)
    names = [c["name"] for c in contract["inputs"]]
    status, v1 = http("POST", f"{server.base}/v1/models/{model}:predict", {"instances": records})
    assert status == 200, v1
    expected = evaluated.get_column("prediction").to_list()
    assert v1["predictions"] == expected
    assert v1["guardrails"] == evaluated.get_column("guardrail").to_list()
    status, lists = http("POST", f"{server.base}/v1/models/{model}:predict",
                         {"instances": [[r[n] for n in names] for r in records]})
    assert status == 200 and lists["predictions"] == expected
    types = {c["name"]: c["type"] for c in contract["inputs"]}
    v2types = {"integer": "INT64", "float": "FP64", "boolean": "BOOL"}
    inputs = [{"name": n, "shape": [len(records)], "datatype": v2types.get(types[n], "BYTES"),
               "data": [r[n] for r in records]} for n in names]
    status, v2 = http("POST", f"{server.base}/v2/models/{model}/infer", {"inputs": inputs})
    assert status == 200, v2
    outputs = {o["name"]: o["data"] for o in v2["outputs"]}
    assert outputs["predict"] == expected
    assert outputs["guardrail"] == [g or "" for g in evaluated.get_column("guardrail").to_list()]
    if model == "churn":
        assert v1["probabilities"][0] == pytest.approx({"false": evaluated["probability_false"][0],
                                                        "true": evaluated["probability_true"][0]})
        assert outputs["probability_true"] == pytest.approx(evaluated["probability_true"].to_list())
        assert "heavy-support-churns" in v1["guardrails"]


def _row(**changes):
    row = {"tenure_months": 3, "contract": "monthly", "monthly_charges": 70.5, "total_charges": 211.5,
           "support_calls": 1, "region": "north"}
    row.update(changes)
    return row


BAD = [
    ("not json", "{nope", None, 400, None, None),
    ("no instances", {"rows": []}, None, 400, None, "instances"),
    ("instances not a list", {"instances": {"a": 1}}, None, 400, None, None),
    ("unknown column", {"instances": [_row(), _row(colour="red")]}, None, 400, 1, "colour"),
    ("missing column", {"instances": [_row(), {k: v for k, v in _row().items() if k != "region"}]}, None, 400, 1,
     "region"),
    ("wrong type", {"instances": [_row(tenure_months="three")]}, None, 400, 0, "tenure_months"),
    ("null not allowed", {"instances": [_row(tenure_months=None)]}, None, 400, 0, "tenure_months"),
    ("unknown category", {"instances": [_row(), _row(), _row(contract="weekly")]}, None, 400, 2, "contract"),
    ("wrong row length", {"instances": [[1, "monthly"]]}, None, 400, 0, None),
    ("too many rows", {"instances": [_row()] * 10_001}, None, 413, None, None),
]  # fmt: skip


@pytest.mark.parametrize(("case", "body", "headers", "status", "row", "field"), BAD, ids=[b[0] for b in BAD])
def test_bad_requests_get_a_clear_4xx_naming_the_row_and_field(served, case, body, headers, status, row, field):
    _, servers = served
    got, answer = http("POST", f"{servers['churn'].base}/v1/models/churn:predict", body, headers)
    assert got == status, answer
    assert isinstance(answer, dict) and answer["error"] and "Traceback" not in json.dumps(answer)
    assert answer.get("row") == row and answer.get("field") == field


def test_a_body_over_the_limit_is_refused_before_it_is_read(served):
    _, servers = served
    huge = json.dumps({"instances": [_row(region="x" * 1000)] * 5000})  # about 5.6 MB, over the 4 MiB default
    status, answer = http("POST", f"{servers['churn'].base}/v1/models/churn:predict", huge,
                          {"content-type": "application/json"})
    assert status == 413 and answer["code"] == "too_large"


@pytest.mark.parametrize(("inputs", "field"), [
    ([{"name": "tenure_months", "shape": [1], "datatype": "FP64", "data": [1.0]}], "tenure_months"),
    ([{"name": "colour", "shape": [1], "datatype": "BYTES", "data": ["red"]}], "colour"),
    ([{"name": "tenure_months", "shape": [2], "datatype": "INT64", "data": [1]}], "tenure_months"),
])  # fmt: skip
def test_bad_v2_tensors_get_a_4xx_naming_the_input(served, inputs, field):
    _, servers = served
    status, answer = http("POST", f"{servers['churn'].base}/v2/models/churn/infer", {"inputs": inputs})
    assert status == 400 and answer["field"] == field, answer


def test_v2_metadata_and_health(served):
    _, servers = served
    base = servers["churn"].base
    assert http("GET", base + "/v2/health/live")[0] == 200
    status, meta = http("GET", base + "/v2/models/churn")
    assert status == 200 and meta["name"] == "churn"
    assert {i["name"]: i["datatype"] for i in meta["inputs"]} == {
        "tenure_months": "INT64", "contract": "BYTES", "monthly_charges": "FP64", "total_charges": "FP64",
        "support_calls": "INT64", "region": "BYTES"}
    assert [o["name"] for o in meta["outputs"]] == ["predict", "guardrail", "probability_false", "probability_true"]
    assert http("GET", base + "/v2/models/nope")[0] == 404


def test_metrics_count_requests_rows_guardrails_and_predictions(served):
    _, servers = served
    base = servers["churn"].base
    http("POST", f"{base}/v1/models/churn:predict", {"instances": [_row(tenure_months=0), _row()]})
    http("POST", f"{base}/v1/models/churn:predict", {"instances": [_row(contract="weekly")]})
    status, text = http("GET", base + "/metrics")
    assert status == 200
    series = {}
    for line in text.splitlines():
        if line.startswith("charter_"):
            name, value = line.rsplit(" ", 1)
            series[name] = float(value)

    def find(prefix: str, *parts: str) -> float:
        return sum(v for k, v in series.items() if k.startswith(prefix) and all(p in k for p in parts))

    assert find("charter_request_duration_seconds_count", 'status="200"', 'protocol="v1"') >= 1
    assert find("charter_request_duration_seconds_count", 'status="400"') >= 1
    assert find("charter_rows_predicted_total") >= 2
    assert find("charter_guardrail_overrides_total", 'guardrail="no-churn-for-fresh-signups"') >= 1
    assert find("charter_predictions_total", 'label="false"') >= 1
    assert find("charter_positive_probability_count") >= 2


def test_a_version_not_in_the_store_and_a_missing_extra_are_clear(served):
    root, _ = served
    result = run_charter("serve", "churn", "--version", "0123456789ab", cwd=root)
    assert result.returncode == 2 and "0123456789ab" in result.stderr and "Traceback" not in result.stderr
    result = run_charter("serve", "nope", cwd=root)
    assert result.returncode == 2 and "no model named `nope`" in result.stderr


def test_the_package_folder_serves_without_the_repository(served, tmp_path):
    root, _ = served
    lock = json.loads((root / "charter.lock").read_text())["models"]["churn"]
    package = root / ".charter/artifacts/models/churn" / lock["version"]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    server = Server(elsewhere, "churn", "--model-dir", str(package))
    try:
        status, answer = http("POST", f"{server.base}/v1/models/churn:predict", {"instances": [_row()]})
        assert status == 200 and answer["model_version"] == lock["version"]
    finally:
        server.stop()


DOC = REPO / "docs" / "serving.md"


def _doc_examples(text: str) -> list[tuple[str, str]]:
    """(curl command, answer) of each console block of docs/serving.md that runs curl."""
    import re

    return re.findall(r"```console\n\$ (curl [^\n]+)\n([^\n]*)\n```", text)


def test_the_docs_curl_examples_answer_what_they_show(tmp_path, update_golden):
    """Each `curl` of docs/serving.md, run as written against `charter serve churn` of the example."""
    import shlex

    _need_kserve()
    root = copy_example(tmp_path / "repo")
    result = run_charter("run", "churn", cwd=root)
    assert result.returncode == 0, result.stdout + result.stderr
    version = json.loads((root / "charter.lock").read_text())["models"]["churn"]["version"]
    committed = json.loads((REPO / "charter.lock").read_text())["models"]["churn"]["version"]
    assert version == committed  # the docs show the example's own version
    server = Server(root, "churn")
    text = DOC.read_text(encoding="utf-8")
    examples = _doc_examples(text)
    assert len(examples) >= 5
    try:
        for command, shown in examples:
            argv = shlex.split(command.replace("localhost:8080", f"127.0.0.1:{server.port}"))
            answer = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=True).stdout.strip()
            real = json.loads(answer)
            if isinstance(real, dict) and "id" in real:
                real["id"] = "…"  # a new request id every time
            answer = json.dumps(real, separators=(",", ":"), ensure_ascii=False)
            if update_golden:
                text = text.replace(f"$ {command}\n{shown}\n", f"$ {command}\n{answer}\n")
            else:
                assert json.loads(shown) == real, f"docs/serving.md shows another answer for:\n{command}"
    finally:
        server.stop()
    if update_golden:
        DOC.write_text(text, encoding="utf-8")
    assert f"serving churn version {version} (local)" in text


def test_the_prediction_log_feeds_monitor_with_live_inputs_and_outcomes(tmp_path):
    """Served rows land in the store in batches; `monitor --predictions` checks drift and, with outcomes, gates."""
    _need_kserve()
    root = copy_example(tmp_path / "repo")
    policy = root / "specs/churn/rollout.yaml"
    text = policy.read_text()
    assert "  prediction_log: {sample: 1.0, key: customer_id}\n" in text
    policy.write_text(text.replace("  prediction_log: {sample: 1.0, key: customer_id}\n",
                                   "  prediction_log:\n    exclude: [region]\n    key: customer_id\n"
                                   "    outcomes: {source: customers}\n    batch_rows: 50\n    flush_every: 1s\n"))
    assert run_charter("validate", cwd=root).returncode == 0
    result = run_charter("run", "churn", cwd=root)
    assert result.returncode == 0, result.stdout + result.stderr
    store = tmp_path / "shared-store"
    first = run_charter("monitor", "churn", "--predictions", "--store", str(store), cwd=root)
    assert first.returncode == 2 and "not in the artifact store" in first.stderr  # the model was promoted locally
    store = root / ".charter/artifacts"
    test, _, contract = _evaluated(root, "churn")
    names = [c["name"] for c in contract["inputs"]]
    rows = [{**{n: r[n] for n in names}, "customer_id": r["customer_id"]}
            for r in test.select([*names, "customer_id"]).iter_rows(named=True)]
    server = Server(root, "churn", "--environment", "production")
    try:
        for start in range(0, len(rows), 30):
            status, answer = http("POST", f"{server.base}/v1/models/churn:predict",
                                  {"instances": rows[start:start + 30]}, {"x-request-id": f"req-{start}"})
            assert status == 200, answer
    finally:
        out = server.stop()
    assert "prediction log: " in out
    files = sorted((store / "predictions/churn/production").rglob("*.jsonl"))
    logged = [json.loads(line) for f in files for line in f.read_text().splitlines()]
    assert len(logged) == len(rows) and len(files) >= 2  # batches of at most 50 rows
    assert all("region" not in r["inputs"] for r in logged)  # excluded: never written
    assert {r["key"] for r in logged} == {r["customer_id"] for r in rows}
    report = run_charter("monitor", "churn", "--predictions", "--env", "production", "--format", "json", cwd=root)
    doc = json.loads(report.stdout)
    assert doc["source"] == "predictions" and doc["rows_read"] == len(rows), report.stderr
    assert doc["drift"]["region"]["status"] == "not_logged"
    assert doc["drift"]["tenure_months"]["status"] in ("ok", "alert", "too_few_rows")
    assert doc["outcomes"] == {"source": "customers", "rows_logged": len(rows), "rows_with_outcome": len(rows)}
    lock = json.loads((root / "charter.lock").read_text())["models"]["churn"]["metrics"]["metrics"]
    assert doc["metrics"]["roc_auc"] == pytest.approx(lock["roc_auc"])  # live = evaluated on the same rows
    assert doc["gates"]["passed"] is True
    text = run_charter("monitor", "churn", "--predictions", "--env", "staging", cwd=root)
    assert "0 rows read" in text.stdout and text.returncode == 3  # nothing served there: never a silent ok
    # what a fallback with `judge: predictions` runs: the served version passed its gates on live data
    live = tmp_path / "live.json"
    run_charter("monitor", "churn", "--predictions", "--env", "production", "--report", str(live), cwd=root)
    kept = run_charter("fallback", "churn", "--report", str(live), "--store", str(store), cwd=root)
    assert kept.returncode == 0 and "passed its gates: nothing to roll back" in kept.stdout, kept.stdout + kept.stderr
    # the outcomes that arrive contradict what it served: its gates fail on the log
    data = root / "specs/data/customers.csv"
    lines = data.read_text().splitlines()
    flip = {"yes": "no", "Yes": "No", "Y": "N", "1": "0", "no": "yes", "No": "Yes", "N": "Y", "0": "1"}
    data.write_text("\n".join([lines[0], *(",".join([*r.split(",")[:-1], flip.get(r.split(",")[-1], r.split(",")[-1])])
                                           for r in lines[1:])]) + "\n")
    run_charter("monitor", "churn", "--predictions", "--env", "production", "--report", str(live), cwd=root)
    assert json.loads(live.read_text())["gates"]["passed"] is False
    judged = run_charter("fallback", "churn", "--report", str(live), "--store", str(store), cwd=root)
    out = judged.stdout + judged.stderr
    assert judged.returncode == 1 and "Traceback" not in out, out  # no earlier version to return to here
