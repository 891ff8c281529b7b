"""`charter serve` against KServe's own sklearn server on the same packaged model.

    pip install -c requirements/constraints.txt -e '.[dev,serve]'
    python benchmarks/bench_serve.py [--seconds 8] [--rounds 5] [--concurrency 4] [--json]

Both servers are KServe's Python model server in their own process, serving the example's
`churn` package (trained here in a temporary copy of the example): the plain one runs what
KServe's `sklearnserver` runs (`joblib.load` of `model.joblib`, `predict` on the request's
V2 inputs as a DataFrame: kserve/python/sklearnserver/sklearnserver/model.py, reproduced
below because that package is not on PyPI); `charter serve` runs Charter's predictor (the
input contract, one probability pass, the guardrails, labelled probabilities, its metrics).
The same load generator (threads with keep-alive connections) sends the same V2 request to
each, 1-row and 100-row, at the same concurrency, in interleaved rounds (order alternating)
on this shared machine; figures are medians over rounds, peak RSS is the server's VmHWM.
Target (issue 15): charter >= 0.8x the plain server's throughput and <= 1.5x its p99.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

PLAIN = """\
import sys
import joblib
from kserve import Model, ModelServer
from kserve.errors import InferenceError
from kserve.utils.utils import get_predict_input, get_predict_response


class SKLearnModel(Model):  # kserve/python/sklearnserver/sklearnserver/model.py, without Storage.download
    def __init__(self, name, model_dir):
        super().__init__(name)
        self.model_dir = model_dir
        self.ready = False

    def load(self):
        self._model = joblib.load(self.model_dir + "/model.joblib")
        self.ready = True
        return self.ready

    def predict(self, payload, headers=None):
        try:
            instances = get_predict_input(payload)
            result = self._model.predict(instances)
            return get_predict_response(payload, result, self.name)
        except Exception as e:
            raise InferenceError(str(e))


name, model_dir, port = sys.argv[1:4]
sys.argv = sys.argv[:1]
model = SKLearnModel(name, model_dir)
model.load()
ModelServer(http_port=int(port), enable_grpc=False, workers=1).start([model])
"""


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(port: int, proc: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited {proc.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/v2/health/ready")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.3)
    raise SystemExit("server did not start")


def _peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _load(port: int, path: str, body: bytes, seconds: float, concurrency: int) -> dict:
    """Requests from `concurrency` threads, each on one keep-alive connection, for `seconds`."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop = time.monotonic() + seconds
    headers = {"content-type": "application/json", "content-length": str(len(body))}

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine = []
        while time.monotonic() < stop:
            start = time.perf_counter()
            conn.request("POST", path, body, headers)
            resp = conn.getresponse()
            resp.read()
            mine.append(time.perf_counter() - start)
            if resp.status != 200:
                with lock:
                    errors[0] += 1
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    began = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - began
    latencies.sort()
    return {"rps": len(latencies) / elapsed, "p50_ms": 1000 * latencies[len(latencies) // 2],
            "p99_ms": 1000 * latencies[int(len(latencies) * 0.99) - 1], "errors": errors[0], "n": len(latencies)}


def _request(rows: list[dict], contract: dict) -> bytes:
    v2 = {"integer": "INT64", "float": "FP64", "boolean": "BOOL"}
    inputs = [{"name": c["name"], "shape": [len(rows)], "datatype": v2.get(c["type"], "BYTES"),
               "data": [r[c["name"]] for r in rows]} for c in contract["inputs"]]
    # `content_type: pd`: KServe's codec turns the inputs into one DataFrame (else it takes the first tensor only)
    return json.dumps({"inputs": inputs, "parameters": {"content_type": "pd"}}).encode()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=8.0, help="load per server, per size, per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    import polars as pl

    work = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    procs: list[subprocess.Popen] = []
    try:
        repo = work / "repo"
        repo.mkdir()
        for name in ("charter.yaml", "specs", "schemas"):
            (shutil.copytree if (REPO / name).is_dir() else shutil.copy)(REPO / name, repo / name)
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        subprocess.run([sys.executable, "-m", "compiler", "run", "churn"], cwd=repo, env=env, check=True,
                       capture_output=True)
        lock = json.loads((repo / "charter.lock").read_text())["models"]["churn"]
        package = repo / ".charter/artifacts/models/churn" / lock["version"]
        contract = json.loads((package / "predictor.json").read_text())
        # the same fitted pipeline as the file a stock runtime loads (what `save_model` writes for one)
        import joblib

        from compiler.execute.package import load_model

        plain_dir = work / "plain-model"
        plain_dir.mkdir()
        joblib.dump(load_model(package), plain_dir / "model.joblib")
        record = json.loads((package / "run.json").read_text())
        split = record["run_keys"]["churn/split"]
        test = pl.read_parquet(repo / ".charter/artifacts/steps" / split[:2] / split / "test_set.parquet")
        names = [c["name"] for c in contract["inputs"]]
        rows = test.select(names).to_dicts()
        bodies = {1: _request(rows[:1], contract), 100: _request((rows * 2)[:100], contract)}

        ports = {"plain": _port(), "charter": _port()}
        (work / "plain.py").write_text(PLAIN)
        servers = {
            "plain": subprocess.Popen([sys.executable, str(work / "plain.py"), "churn", str(plain_dir),
                                       str(ports["plain"])], env=env, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL),
            "charter": subprocess.Popen([sys.executable, "-m", "compiler", "serve", "churn", "--model-dir",
                                         str(package), "--port", str(ports["charter"])], cwd=work, env=env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
        }
        procs = list(servers.values())
        for name, proc in servers.items():
            _wait(ports[name], proc)
        paths = {"plain": "/v2/models/churn/infer", "charter": "/v2/models/churn/infer"}
        for name in servers:  # warm up, and check both answer the same request
            for size, body in bodies.items():
                result = _load(ports[name], paths[name], body, 1.0, 1)
                if result["errors"]:
                    raise SystemExit(f"{name} refused the {size}-row request")
        results: dict = {(n, s): [] for n in servers for s in bodies}
        for r in range(args.rounds):
            order = list(servers) if r % 2 == 0 else list(reversed(servers))
            for size, body in bodies.items():
                for name in order:
                    results[(name, size)].append(_load(ports[name], paths[name], body, args.seconds,
                                                       args.concurrency))
        summary = {}
        for size in bodies:
            row = {}
            for name in servers:
                runs = results[(name, size)]
                row[name] = {k: statistics.median(x[k] for x in runs) for k in ("rps", "p50_ms", "p99_ms")}
                row[name]["errors"] = sum(x["errors"] for x in runs)
            row["throughput_ratio"] = row["charter"]["rps"] / row["plain"]["rps"]
            row["p99_ratio"] = row["charter"]["p99_ms"] / row["plain"]["p99_ms"]
            summary[f"{size}-row"] = row
        summary["peak_rss_mib"] = {name: _peak_rss_mib(proc.pid) for name, proc in servers.items()}
        summary["setup"] = {"seconds": args.seconds, "rounds": args.rounds, "concurrency": args.concurrency,
                            "cpus": os.cpu_count()}
        if args.json:
            print(json.dumps(summary, indent=2))
        else:
            print(f"{'requests':<10} {'server':<8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
            for size in bodies:
                row = summary[f"{size}-row"]
                for name in servers:
                    m = row[name]
                    print(f"{size:>4}-row   {name:<8} {m['rps']:>8.1f} {m['p50_ms']:>8.2f} {m['p99_ms']:>8.2f}")
                print(f"           charter/plain: throughput {row['throughput_ratio']:.2f}x (target >= 0.8), "
                      f"p99 {row['p99_ratio']:.2f}x (target <= 1.5)")
            print("peak RSS MiB: " + ", ".join(f"{k} {v:.0f}" for k, v in summary["peak_rss_mib"].items()))
        ok = all(summary[f"{s}-row"]["throughput_ratio"] >= 0.8 and summary[f"{s}-row"]["p99_ratio"] <= 1.5
                 for s in bodies)
        return 0 if ok else 1
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
