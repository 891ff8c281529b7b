"""Charter's predictor behind KServe's Python model server (the `kserve` package).

KServe's server brings the protocols: KServe V1 (`/v1/models/NAME:predict`), the Open
Inference Protocol (`/v2/models/NAME/infer`, model metadata, `/v2/health/ready` and
`/v2/health/live`) and the Prometheus registry behind `/metrics`. This module adds what the
stock sklearn server lacks: the model's input contract (every bad row is a 4xx naming the row
and the field), the Model's guardrails, class probabilities labelled with the class names,
Charter's own metrics (requests by status, rows, guardrail overrides, the distribution of
predictions) and, when declared, the prediction log.

The same `Predictor` runs inside the evaluate step, so what is served is what the gates measured.
"""

from __future__ import annotations

import sys
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from compiler.execute.predict import V2_TYPES, Predictor, RequestError, jsonable, label_text
from compiler.execute.store import read_json

DEFAULT_PORT = 8080  # KServe's
DEFAULT_MAX_REQUEST_BYTES = 4 * 1024 * 1024


def _kserve():
    """Import kserve without letting it read this process's arguments (it parses sys.argv on import)."""
    argv = sys.argv
    sys.argv = argv[:1]
    try:
        import kserve
        from kserve.protocol.infer_type import InferOutput, InferRequest, InferResponse
    finally:
        sys.argv = argv
    return kserve, InferOutput, InferRequest, InferResponse


class Metrics:
    """Charter's Prometheus series, in the registry KServe exposes at /metrics."""

    def __init__(self, predictor: Predictor, model: str, version: str, environment: str, profile: dict | None):
        from prometheus_client import Counter, Histogram

        self.labels = {"model": model, "version": version, "environment": environment}
        names = list(self.labels)
        self.requests = Histogram("charter_request_duration_seconds",
                                  "Inference requests by protocol and HTTP status, and their latency",
                                  [*names, "protocol", "status"],
                                  buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10))
        self.rows = Counter("charter_rows_predicted", "Rows predicted", names)
        self.overrides = Counter("charter_guardrail_overrides", "Predictions a guardrail overrode",
                                 [*names, "guardrail"])
        self.log_dropped = Counter("charter_prediction_log_dropped", "Served rows the prediction log dropped "
                                   "(buffer full or store failing)", names)
        self.task = predictor.task
        if predictor.task == "regression":
            edges = ((profile or {}).get("target") or {}).get("edges") or []
            self.values = Histogram("charter_prediction_value", "Predicted values (buckets: the training "
                                    "target's deciles)", names, buckets=[*edges, float("inf")] if edges else
                                    Histogram.DEFAULT_BUCKETS)
        else:
            self.labels_served = Counter("charter_predictions", "Predictions by predicted class", [*names, "label"])
            if predictor.task == "binary_classification":
                self.positive = Histogram("charter_positive_probability", "Probability of the positive class",
                                          names, buckets=[i / 10 for i in range(1, 11)])
        for g in predictor.spec["guardrails"]:  # present from the start: a rate of zero, not a missing series
            self.overrides.labels(**self.labels, guardrail=g["name"])

    def observe(self, served, positive_index: int | None) -> None:
        self.rows.labels(**self.labels).inc(len(served.labels))
        for name, count in served.overrides.items():
            if count:
                self.overrides.labels(**self.labels, guardrail=name).inc(count)
        if self.task == "regression":
            h = self.values.labels(**self.labels)
            for v in served.labels:
                h.observe(float(v))
            return
        values, counts = np.unique(np.asarray([label_text(v) for v in served.labels]), return_counts=True)
        for v, n in zip(values.tolist(), counts.tolist(), strict=True):
            self.labels_served.labels(**self.labels, label=v).inc(n)
        if positive_index is not None and served.proba is not None:
            h = self.positive.labels(**self.labels)
            for p in served.proba[:, positive_index].tolist():
                h.observe(p)


def build_model(name: str, folder: Path, environment: str = "local", log=None):  # noqa: C901 - the two protocols
    """The kserve.Model of a package folder: the predictor, its contract and its metrics."""
    kserve, InferOutput, InferRequest, InferResponse = _kserve()
    predictor = Predictor.load(folder)
    record = read_json(folder / "run.json")
    version = record["version"]
    metrics_doc = read_json(folder / "metrics.json") if (folder / "metrics.json").is_file() else {}
    profile = read_json(folder / "profile.json") if (folder / "profile.json").is_file() else None
    positive = metrics_doc.get("positive_label")
    positive_index = next((i for i, c in enumerate(predictor.classes or []) if jsonable(c) == positive), None)
    metrics = Metrics(predictor, name, version, environment, profile)
    predictor.predict(predictor.example())  # the first request should not pay for lazy imports and caches
    if log is not None:
        log.on_drop = metrics.log_dropped.labels(**metrics.labels).inc

    class CharterModel(kserve.Model):  # type: ignore[name-defined]
        def __init__(self):
            super().__init__(name)
            self.predictor, self.version, self.metrics = predictor, version, metrics
            self.ready = True

        def get_input_types(self) -> list[dict]:
            return self.predictor.metadata()["inputs"]

        def get_output_types(self) -> list[dict]:
            return self.predictor.metadata()["outputs"]

        def predict(self, payload: Any, headers: dict[str, str] | None = None) -> Any:
            request_id = (headers or {}).get("x-request-id") or uuid.uuid4().hex
            if isinstance(payload, InferRequest):
                key = log.key if log is not None else None
                columns = _v2_columns(payload, self.predictor, key)
                keys = columns.pop(key, None) if key else None
                frame = self.predictor.columns_frame(columns)
                served = self.predictor.predict(frame)
                self.metrics.observe(served, positive_index)
                if log is not None:
                    log.append(frame, served, request_id, self.version, keys)
                return InferResponse(response_id=payload.id or request_id, model_name=name,
                                     model_version=self.version, infer_outputs=_v2_outputs(served, self.predictor,
                                                                                           InferOutput))
            if isinstance(payload, bytes | str):  # sent without `content-type: application/json` (curl -d)
                payload = _json(payload)
            if not isinstance(payload, dict):
                raise RequestError("the body must be a JSON object with `instances`", code="wrong_shape")
            if "instances" not in payload:
                raise RequestError("the body has no `instances`: send {\"instances\": [{column: value, ...}, ...]}",
                                   code="wrong_shape", field="instances")
            rows, keys = _keys(payload["instances"], log.key if log is not None else None)
            frame = self.predictor.frame(rows)
            served = self.predictor.predict(frame)
            self.metrics.observe(served, positive_index)
            if log is not None:
                log.append(frame, served, request_id, self.version, keys)
            out: dict[str, Any] = {"predictions": served.labels.tolist(),
                                   "guardrails": served.decided_by, "model_version": self.version}
            if served.proba is not None and served.classes is not None:
                keys = [label_text(c) for c in served.classes]
                out["probabilities"] = [dict(zip(keys, row, strict=True)) for row in served.proba.tolist()]
            return out

    return CharterModel(), metrics


def _json(body: bytes | str) -> Any:
    import orjson

    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise RequestError(f"the body is not JSON: {exc}", code="not_json") from None


def _keys(rows: Any, key: str | None) -> tuple[Any, list | None]:
    """Rows without the log's key column (which requests may carry beside the inputs), and the keys."""
    if key is None or not isinstance(rows, list) or not any(isinstance(r, dict) and key in r for r in rows):
        return rows, None
    keys = [r.get(key) if isinstance(r, dict) else None for r in rows]
    return [{k: v for k, v in r.items() if k != key} if isinstance(r, dict) else r for r in rows], keys


def _v2_columns(request, predictor: Predictor, key: str | None = None) -> dict[str, list]:
    known = dict(predictor.by_name)
    if key is not None and key not in known:
        known[key] = {"name": key, "type": "string", "key": True}
    data: dict[str, list] = {}
    rows = None
    for tensor in request.inputs:
        column = known.get(tensor.name)
        if column is None:
            raise RequestError(f"unknown input `{tensor.name}`; the model takes: " + ", ".join(known),
                               field=tensor.name, code="unknown_column")
        want = V2_TYPES[column["type"]]
        if tensor.datatype != want and not column.get("key"):
            raise RequestError(f"input `{tensor.name}` must have datatype {want}, not {tensor.datatype}",
                               code="wrong_type", field=tensor.name)
        shape = list(tensor.shape or [])
        if not (len(shape) == 1 or (len(shape) == 2 and shape[1] == 1)):
            raise RequestError(f"input `{tensor.name}` must have shape [rows] or [rows, 1], not {shape}",
                               code="wrong_shape", field=tensor.name)
        values = tensor.data
        values = values.tolist() if isinstance(values, np.ndarray) else list(values or [])
        values = [v[0] if isinstance(v, list) and len(v) == 1 else v for v in values]
        values = [v.decode() if isinstance(v, bytes) else v for v in values]
        if len(values) != shape[0]:
            raise RequestError(f"input `{tensor.name}` holds {len(values)} values but its shape says {shape[0]}",
                               code="wrong_shape", field=tensor.name)
        if rows is not None and len(values) != rows:
            raise RequestError(f"input `{tensor.name}` holds {len(values)} rows, the others {rows}",
                               code="wrong_shape", field=tensor.name)
        rows = len(values)
        data[tensor.name] = values
    limit = predictor.spec["policy"]["max_rows"]
    if rows is not None and rows > limit:
        raise RequestError(f"the request holds {rows} rows; this model accepts at most {limit} per request",
                           code="too_many_rows", status=413)
    if rows == 0:
        raise RequestError("the request holds no rows", code="no_rows")
    return data


def _v2_outputs(served, predictor: Predictor, InferOutput) -> list:
    n = len(served.labels)
    kind = predictor.output_type()
    labels = served.labels.tolist()
    if kind == "BYTES":
        labels = [str(v) for v in labels]
    outputs = [InferOutput(name="predict", shape=[n], datatype=kind, data=labels),
               InferOutput(name="guardrail", shape=[n], datatype="BYTES", data=[g or "" for g in served.decided_by])]
    if served.proba is not None:
        for i, c in enumerate(served.classes or []):
            outputs.append(InferOutput(name=f"probability_{label_text(c)}", shape=[n], datatype="FP64",
                                       data=served.proba[:, i].tolist()))
    return outputs


class Guard:
    """ASGI middleware: the request size limit (413 before the body reaches KServe) and the request metrics."""

    def __init__(self, app, *, model: str, limit: int, metrics: Metrics):
        self.app, self.model, self.limit, self.metrics = app, model, limit, metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope.get("path", "")
        protocol = ("v1" if path.startswith("/v1/models/") and path.endswith(":predict")
                    else "v2" if path.startswith("/v2/models/") and path.endswith("/infer") else None)
        if protocol is None:
            return await self.app(scope, receive, send)
        start = time.perf_counter()
        status = {"code": 500}

        async def sending(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            body, more, size = [], True, 0
            while more:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return None
                chunk = message.get("body", b"")
                size += len(chunk)
                more = message.get("more_body", False)
                if size > self.limit:
                    # Read on (and drop) what the client is still sending, so that it sees the 413
                    # rather than a reset connection; past 16x the limit, answer and close.
                    while more and size <= 16 * self.limit:
                        message = await receive()
                        size += len(message.get("body", b""))
                        more = message.get("more_body", False)
                    return await _reject(sending, 413, self._too_large(size, more))
                body.append(chunk)
            whole = b"".join(body)
            sent = {"done": False}

            async def replay():
                if not sent["done"]:
                    sent["done"] = True
                    return {"type": "http.request", "body": whole, "more_body": False}
                return await receive()

            return await self.app(scope, replay, sending)
        finally:
            self.metrics.requests.labels(**self.metrics.labels, protocol=protocol,
                                         status=str(status["code"])).observe(time.perf_counter() - start)

    def _too_large(self, size: int, more: bool) -> dict:
        return {"error": f"the request body is {'over ' if more else ''}{size} bytes; this server accepts at most "
                         f"{self.limit} (`inputs.max_request_bytes` of the Model)", "code": "too_large"}


async def _reject(send, status: int, body: dict) -> None:
    import orjson

    content = orjson.dumps(body)
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(content)).encode())]})
    await send({"type": "http.response.body", "body": content})


def serve(name: str, folder: Path, *, host: str, port: int, environment: str = "local", log=None,
          ready=None) -> None:
    """Serve the package at `folder` until interrupted."""
    import asyncio

    from fastapi.responses import JSONResponse

    kserve, *_ = _kserve()
    from kserve.protocol.rest.server import RESTServer

    model, metrics = build_model(name, folder, environment, log)
    server = kserve.ModelServer(http_port=port, enable_grpc=False, workers=1)
    server.register_model(model)
    rest = RESTServer("kserve.model_server:app", server.dataplane, server.model_repository_extension, port,
                      workers=1, grace_period=5)
    rest.config.host = host  # KServe binds every interface; `charter serve` binds what it is told
    app = kserve.model_server.app

    async def rejected(_, exc: RequestError):
        return JSONResponse(status_code=exc.status, content=exc.body())

    app.add_exception_handler(RequestError, rejected)
    app.add_middleware(Guard, model=name, limit=int(model.predictor.spec["policy"].get(
        "max_request_bytes", DEFAULT_MAX_REQUEST_BYTES)), metrics=metrics)
    if log is not None:
        # Flush on uvicorn's shutdown: it re-raises SIGTERM after serving, so code after the
        # server's loop never runs in a pod being stopped.
        app.router.on_shutdown.append(log.close)
    if ready is not None:
        ready(model)
    asyncio.run(rest.start())
