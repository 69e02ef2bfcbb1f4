"""What an operator sees: one JSON access-log line per request, and Prometheus metrics at ``/metrics``.

:class:`Observed` (ASGI middleware) gives every request an id (the client's ``X-Request-ID`` when it is a
short token, else a new one; sent back in ``X-Request-ID``) and, when the response is done, logs a line on
the ``qa.access`` logger: ``{"time", "id", "client", "method", "path", "route", "status", "seconds",
"bytes"}``. Headers and query strings are never logged, so neither are API keys.

:class:`Metrics` (``metrics: true`` in qa.yaml) holds a registry of its own: requests by route, method and
status; latency histograms of ``/api/ask`` and ``/api/check``; answers and abstentions (their ratio is
the abstention rate); requests refused by the rate limit and by the model-work queue; model work in
progress; and, read at each scrape, the loaded index's size and when (and, if this process built it, how
fast) it was built.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import time
import uuid
from typing import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily

from qa.serve.throttle import client_address

access_log = logging.getLogger("qa.access")

_REQUEST_ID = re.compile(r"[A-Za-z0-9._\-]{1,64}")
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
TIMED = ("/api/ask", "/api/check")


def route_of(path: str) -> str:
    """The route a path belongs to, from a fixed set (a label per document or asset would grow without end)."""
    if path in ("/api/ask", "/api/check", "/api/health", "/widget.js", "/metrics"):
        return path
    for prefix, route in (("/api/sources/", "/api/sources/{id}"), ("/api/", "/api/*"), ("/source/", "/source/{id}"),
                          ("/gradio_api/", "/gradio_api/*"), ("/docs", "/docs"), ("/redoc", "/docs"),
                          ("/openapi.json", "/docs")):
        if path.startswith(prefix):
            return route
    return "/"  # the chat's page, its assets and its login


class Metrics:
    """The Prometheus metrics of one app (see the module); ``index`` returns the loaded index or None."""

    def __init__(self, index: Callable[[], object | None], build_seconds: float | None = None):
        self.registry = CollectorRegistry()
        self.requests = Counter("qa_http_requests", "HTTP requests answered, by route, method and status",
                                ("route", "method", "status"), registry=self.registry)
        self.latency = Histogram("qa_request_seconds", "Time to answer POST /api/ask and /api/check", ("route",),
                                 buckets=LATENCY_BUCKETS, registry=self.registry)
        self.answers = Counter("qa_answers", "Questions answered over HTTP (API and chat), by whether they "
                               "abstained", ("abstained",), registry=self.registry)
        self.rate_limited = Counter("qa_rate_limited", "Requests refused by the per-client rate limit (429)",
                                    registry=self.registry)
        self.busy = Counter("qa_busy", "Requests refused because the model-work queue was full (503)",
                            registry=self.registry)
        self.work = Gauge("qa_model_work", "Questions and claims computing or waiting their turn",
                          registry=self.registry)
        for abstained in ("true", "false"):
            self.answers.labels(abstained)
        self.registry.register(_IndexCollector(index, build_seconds))

    def answered(self, answer) -> None:
        self.answers.labels("true" if answer.abstained else "false").inc()


class _IndexCollector:
    """The loaded index's size and build time, read when Prometheus scrapes."""

    def __init__(self, index: Callable[[], object | None], build_seconds: float | None):
        self.index = index
        self.build_seconds = build_seconds

    def describe(self):
        return []

    def collect(self):
        index = self.index()
        if index is None:
            return
        manifest = getattr(index, "manifest", {}) or {}
        for name, doc, value in (
                ("qa_index_documents", "Documents in the loaded index", len(index.doc_ids)),
                ("qa_index_passages", "Passages (chunks) in the loaded index", len(index.chunk_ids)),
                ("qa_index_sentences", "Sentences in the loaded index", len(index.sent_doc)),
                ("qa_index_bytes", "Size of the loaded index's files on disk", _folder_bytes(index.path))):
            yield GaugeMetricFamily(name, doc, value=value)
        try:
            created = dt.datetime.fromisoformat(manifest["created"]).timestamp()
            yield GaugeMetricFamily("qa_index_built_timestamp_seconds", "When the loaded index was built (Unix time)",
                                    value=created)
        except (KeyError, TypeError, ValueError):
            pass
        if self.build_seconds is not None:
            yield GaugeMetricFamily("qa_index_build_seconds", "How long this server took to build or update the "
                                    "index at start", value=self.build_seconds)


def _folder_bytes(path) -> int:
    try:
        return sum(e.stat().st_size for e in os.scandir(path) if e.is_file())
    except OSError:
        return 0


class Observed:
    """ASGI middleware: request id, JSON access log line, and (with ``metrics``) counts and latencies."""

    def __init__(self, app, metrics: Metrics | None = None, trusted: tuple = ()):
        self.app = app
        self.metrics = metrics
        self.trusted = trusted

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = next((v.decode("latin-1") for k, v in scope.get("headers", ()) if k == b"x-request-id"), "")
        request_id = sent if _REQUEST_ID.fullmatch(sent) else uuid.uuid4().hex
        status, size, t0 = 500, 0, time.perf_counter()

        async def observed_send(message):
            nonlocal status, size
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", []),
                                                  (b"x-request-id", request_id.encode())]}
            elif message["type"] == "http.response.body":
                size += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, observed_send)
        finally:
            self._record(scope, request_id, status, size, time.perf_counter() - t0)

    def _record(self, scope: dict, request_id: str, status: int, size: int, seconds: float) -> None:
        path, method = scope.get("path", ""), scope.get("method", "")
        route = route_of(path)
        if self.metrics is not None:
            self.metrics.requests.labels(route, method, str(status)).inc()
            if route in TIMED and method == "POST":
                self.metrics.latency.labels(route).observe(seconds)
        if access_log.isEnabledFor(logging.INFO):
            access_log.info(json.dumps({
                "time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds"), "id": request_id,
                "client": client_address(scope, self.trusted), "method": method[:20], "path": path[:300],
                "route": route, "status": status, "seconds": round(seconds, 4), "bytes": size}, ensure_ascii=False))
