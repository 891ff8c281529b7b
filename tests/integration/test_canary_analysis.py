"""Integration tier: the generated serving pod and canary analysis, run for real.

The production Rollout of `churn` (the example's canary) is rendered, and its model-server
container is run as a local process with the rendered command, args and env: what changes is
only what a cluster would provide (the storage initializer's copy of the package in place of
/mnt/models, a free port in place of 8080, a local store in place of the bucket, the pod label
the downward API reads). A second version, trained in a second copy, plays the stable
version. A real Prometheus (Debian's) scrapes both; every query of the rendered
AnalysisTemplate is asked of it as written, and its success and failure conditions are
judged on the answer. Canary traffic with many guardrail hits must fail the guardrail metric
and pass the error-rate and latency metrics.

Skips without the serve extra or a `prometheus` binary, fails under CI=true.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, copy_example, run_charter
from tests.integration.test_serve import _free_port, _need_kserve, http

pytestmark = pytest.mark.integration


def _need_prometheus() -> str:
    path = shutil.which("prometheus")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("prometheus is not installed and CI is set (apt-get install prometheus)")
        pytest.skip("prometheus is not installed (apt-get install prometheus)")
    return path


def _train(root: Path) -> tuple[str, Path]:
    result = run_charter("run", "churn", cwd=root)
    assert result.returncode == 0, result.stdout + result.stderr
    version = json.loads((root / "charter.lock").read_text())["models"]["churn"]["version"]
    return version, root / ".charter/artifacts/models/churn" / version


def _documents(root: Path, env: str) -> dict[str, dict]:
    result = run_charter("compile", "--target", "kubernetes", cwd=root)
    assert result.returncode == 0, result.stdout + result.stderr
    text = (root / f"generated/kubernetes/{env}/churn.yaml").read_text()
    return {d["kind"]: d for d in yaml.safe_load_all(text) if d}


class Pod:
    """The Rollout's model server, as the kubelet would start it (see the module docstring)."""

    def __init__(self, rollout: dict, root: Path, package: Path, store: Path, mount: Path):
        template = rollout["spec"]["template"]
        [container] = template["spec"]["containers"]
        shutil.copytree(package, mount)  # the storage initializer's work
        args = list(container["args"])
        assert args[args.index("--model-dir") + 1] == "/mnt/models"
        args[args.index("--model-dir") + 1] = str(mount)
        self.port = _free_port()
        args[args.index("--port") + 1] = str(self.port)
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        for var in container["env"]:
            if "value" in var:
                env[var["name"]] = var["value"]
            else:  # the downward API: the pod's label
                label = re.fullmatch(r"metadata\.labels\['(.+)'\]", var["valueFrom"]["fieldRef"]["fieldPath"]).group(1)
                env[var["name"]] = template["metadata"]["labels"][label]
        assert env["CHARTER_STORE"].startswith("s3://")
        env["CHARTER_STORE"] = str(store)
        assert container["command"] == ["charter"] and container["workingDir"] == "/workspace"
        self.proc = subprocess.Popen([sys.executable, "-m", "compiler", *args], cwd=root, env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.proc.stdout.read()
            try:
                if http("GET", self.base + container["readinessProbe"]["httpGet"]["path"])[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        raise AssertionError("the model server did not become ready")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def _prometheus(binary: str, targets: list[int], folder: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    config = {"global": {"scrape_interval": "2s", "scrape_timeout": "2s"},
              "scrape_configs": [{"job_name": "models", "static_configs": [
                  {"targets": [f"127.0.0.1:{p}" for p in targets]}]}]}
    (folder / "prometheus.yml").write_text(yaml.safe_dump(config))
    proc = subprocess.Popen([binary, f"--config.file={folder / 'prometheus.yml'}",
                             f"--storage.tsdb.path={folder / 'data'}", f"--web.listen-address=127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if http("GET", base + "/-/ready")[0] == 200:
                return proc, base
        except OSError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise AssertionError("prometheus did not become ready")


def _query(base: str, query: str) -> list[float]:
    url = base + "/api/v1/query?" + urllib.parse.urlencode({"query": query})
    with urllib.request.urlopen(url, timeout=30) as resp:
        doc = json.loads(resp.read())
    assert doc["status"] == "success", doc
    data = doc["data"]
    if data["resultType"] == "scalar":
        return [float(data["result"][1])]
    return [float(r["value"][1]) for r in data["result"]]


def _judge(metric: dict, result: list[float]) -> str:
    """Argo Rollouts' verdict for `successCondition`/`failureCondition` of the form Charter renders."""
    pattern = r"len\(result\) > 0 && result\[0\] (<=|>) ([0-9.e-]+)"
    ok_op, ok_limit = re.fullmatch(pattern, metric["successCondition"]).groups()
    bad_op, bad_limit = re.fullmatch(pattern, metric["failureCondition"]).groups()
    assert (ok_op, bad_op, ok_limit) == ("<=", ">", bad_limit)
    if result and result[0] <= float(ok_limit):  # NaN compares false both ways: inconclusive
        return "Successful"
    if result and result[0] > float(bad_limit):
        return "Failed"
    return "Inconclusive"


def test_the_rendered_canary_is_measured_by_the_rendered_queries(tmp_path):
    _need_kserve()
    binary = _need_prometheus()
    stable_root = copy_example(tmp_path / "stable")
    spec = stable_root / "specs/churn/model.yaml"
    spec.write_text(spec.read_text().replace("max_iter: 200", "max_iter: 120"))
    stable_version, stable_package = _train(stable_root)
    root = copy_example(tmp_path / "canary")
    version, package = _train(root)
    assert version != stable_version
    docs = _documents(root, "production")
    rollout, analysis = docs["Rollout"], docs["AnalysisTemplate"]
    store = tmp_path / "bucket"
    pods = [Pod(rollout, root, package, store, tmp_path / "mnt-canary"),
            Pod(rollout, stable_root, stable_package, store, tmp_path / "mnt-stable")]
    prometheus, prom = _prometheus(binary, [p.port for p in pods], tmp_path)
    try:
        canary, stable = pods
        row = {"tenure_months": 14, "contract": "monthly", "monthly_charges": 80.0, "total_charges": 1120.0,
               "support_calls": 2, "region": "north"}
        fresh = {**row, "tenure_months": 0}  # the guardrail fires
        stop = threading.Event()
        failures: list = []

        def traffic() -> None:  # live traffic, as a canary has while Prometheus scrapes it
            i = 0
            while not stop.is_set():
                for pod in pods:
                    rows = [row, {**row, "tenure_months": 30 + i % 20, "contract": "two-year"}]
                    if pod is canary:
                        rows.append(fresh)
                    status = http("POST", f"{pod.base}/v1/models/churn:predict", {"instances": rows})[0]
                    if status != 200:
                        failures.append(status)
                i += 1
                time.sleep(0.2)

        sender = threading.Thread(target=traffic, daemon=True)
        sender.start()
        assert http("POST", f"{canary.base}/v1/models/churn:predict", {"instances": [{"x": 1}]})[0] == 400
        verdicts: dict = {}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # until Prometheus has scraped each series twice (what `rate` needs)
            time.sleep(2)
            for metric in analysis["spec"]["metrics"]:
                provider = metric["provider"]["prometheus"]
                assert provider["address"] == "http://prometheus.monitoring.svc:9090"  # charter.yaml's setting
                assert f'version="{version}"' in provider["query"]
                result = _query(prom, provider["query"])
                verdicts[metric["name"]] = (_judge(metric, result), result)
            if all(v[1] and v[1][0] == v[1][0] for v in verdicts.values()):  # present, and not NaN
                break
        stop.set()
        sender.join(timeout=30)
        assert not failures
        targets = http("GET", prom + "/api/v1/targets")[1]
        health = [(t["scrapeUrl"], t["health"], t["lastError"]) for t in targets["data"]["activeTargets"]]
        assert all(h == "up" for _, h, _ in health), health
        assert verdicts["error-rate"][0] == "Successful", verdicts  # the bad request is a 400, not a model error
        assert verdicts["error-rate"][1] == [0.0]
        assert verdicts["latency-p99"][0] == "Successful", verdicts["latency-p99"]
        assert verdicts["guardrail-rate"][0] == "Failed"  # a third of the canary's rows: over 0.25
        assert verdicts["guardrail-rate"][1][0] == pytest.approx(1 / 3, abs=0.02)
        shift = verdicts["prediction-shift"][1]
        assert len(shift) == 1 and 0 < shift[0] < 1  # measured against the stable version's predictions
    finally:
        prometheus.terminate()
        for pod in pods:
            pod.stop()
        prometheus.wait(timeout=20)
    logged = sorted((store / "predictions/churn/production").rglob("*.jsonl"))
    assert logged, "the pods log under their environment, into the store CHARTER_STORE names"
