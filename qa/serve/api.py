"""The HTTP edge: a FastAPI app over one :class:`~qa.pipeline.Pipeline`, with the Gradio UI at ``/``.

Routes: ``POST /api/ask``, ``POST /api/check`` (claims and quotes), ``GET /api/sources/{id}``, ``GET /api/health``,
``GET /widget.js`` (the embeddable ask box), ``GET /source/{id}`` (a document
with the cited span highlighted), FastAPI's ``/docs`` and, with ``metrics: true``, ``/metrics``; ``HEAD`` on
any of them (and on ``/``) is answered as ``GET`` without a body. Every error under
``/api/`` is a 4xx JSON ``{"error": "..."}`` that says what to fix (or a 503 with ``Retry-After`` when busy).
Every request body, Gradio's included, is capped by :class:`BodyLimit`; the ask and check bodies must be
declared as JSON and are validated by the models ``/docs`` publishes (:mod:`qa.serve.bodies`), so
malformed, oversized or non-UTF-8 input is refused before it reaches the pipeline. Document ids are
only ever looked up in the index, never joined to a filesystem path. Around the routes: a per-client rate
limit and a cap on model work (:mod:`qa.serve.throttle`), optional API keys (:mod:`qa.serve.keys`), and
an access log and metrics (:mod:`qa.serve.metrics`).
"""

from __future__ import annotations

import logging
import os
import re
import sys
from http.cookies import CookieError, SimpleCookie
from pathlib import Path
from typing import Any

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

from fastapi import FastAPI, Query, Request  # noqa: E402
from fastapi_offline import FastAPIOffline  # noqa: E402
from fastapi.exceptions import RequestValidationError  # noqa: E402
from fastapi.responses import HTMLResponse, JSONResponse, Response  # noqa: E402
from starlette.concurrency import run_in_threadpool  # noqa: E402
from starlette.exceptions import HTTPException  # noqa: E402
from starlette.middleware.cors import CORSMiddleware  # noqa: E402
from starlette.requests import ClientDisconnect  # noqa: E402
from starlette.routing import Match, Mount  # noqa: E402

from qa.errors import InputError, QAError  # noqa: E402
from qa.pipeline import Pipeline  # noqa: E402
from qa.serve.bodies import (ASK_FIELDS, CHECK_FIELDS, ApiError, BodyLimit, check_json_content_type,  # noqa: E402,F401
                             parse_ask, parse_check)
from qa.serve.head import HeadAsGet  # noqa: E402
from qa.serve.guards import MethodGuard, SecurityHeaders, http_protocol  # noqa: E402
from qa.serve.keys import ApiKeys, RequireKey, load_keys  # noqa: E402
from qa.serve.metrics import Metrics, Observed, access_log  # noqa: E402
from qa.serve.pages import render_source, source_link  # noqa: E402,F401 (source_link: public here too)
from qa.serve.schemas import (AskRequest, AnswerOut, CheckRequest, CheckOut, SourceOut, ErrorOut)  # noqa: E402
from qa.serve.throttle import RateLimit, Slots, networks  # noqa: E402

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
QUOTE_SLOTS = 2    # quote checks computing at once (CPU-bound Python: more would only share the same cores)
QUOTE_QUEUE = 32   # more waiting their turn; beyond that, 503


# What /api/ask and /api/check may answer besides 200 (and 500): each a JSON {"error": ...}.
REFUSALS: dict = {status: {"model": ErrorOut} for status in (400, 401, 413, 415, 429, 503)}


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def create_app(pipeline: Pipeline, ui: bool = True, build_seconds: float | None = None,
               environ: dict | None = None) -> FastAPI:
    """The FastAPI app: JSON API, widget, source view and (unless ``ui=False``) the Gradio UI at ``/``.

    ``build_seconds`` (how long the index took to build at start) is reported by ``/metrics``; ``environ``
    (default ``os.environ``) is where ``QA_API_KEYS`` is read.
    """
    config = pipeline.config
    limits = config.limits
    metrics = Metrics(lambda: pipeline.loaded_index, build_seconds) if config.metrics else None
    refused = metrics.busy.inc if metrics else None
    quote_slots = Slots(QUOTE_SLOTS, QUOTE_QUEUE, "quote checks", on_refused=refused)
    model_slots = Slots(limits.model_workers, limits.model_queue, "questions and claims", wait=limits.queue_seconds,
                        on_refused=refused)
    if metrics:
        metrics.work.set_function(lambda: model_slots.inside)
    keys = ApiKeys(load_keys(config.api_keys_file, environ))
    trusted = networks(config.trusted_proxies)
    gradio_app: list = []  # the mounted Gradio app, once there is one (its logins open /source/* with keys on)
    # FastAPIOffline serves the Swagger/ReDoc assets of /docs from the package, not from a CDN.
    app = FastAPIOffline(title="qa", version="0.1.0",
                  description="Source-grounded extractive question answering: every answer is a verbatim "
                              "span of a document, with offsets; or an abstention.")
    # HEAD on any page or GET route (/, /widget.js, /api/health, /source/{id}) is answered as GET, bodiless.
    app.add_middleware(HeadAsGet)
    # Inside CORS, so even a 413 carries the CORS headers an allowed page needs to read it.
    app.add_middleware(BodyLimit, limit=config.limits.max_body_bytes)
    app.add_middleware(MethodGuard)
    if keys.digests:  # inside the rate limit: guessing keys counts against the guesser like any request
        app.add_middleware(RequireKey, keys=keys, logged_in=lambda scope: _logged_in(gradio_app, scope))
    if limits.requests_per_minute:
        app.add_middleware(RateLimit, per_minute=limits.requests_per_minute, burst=limits.burst, trusted=trusted,
                           on_limited=metrics.rate_limited.inc if metrics else None)
    app.add_middleware(SecurityHeaders, frame_origins=tuple(config.cors_origins))
    # Always installed: with no configured origin this refuses every cross-origin request, and its
    # presence also stops Gradio from adding its own, more permissive, CORS headers. Outside the rate limit
    # and the keys, so an allowed page can read their 429 and 401 (and a preflight is never refused).
    app.add_middleware(CORSMiddleware, allow_origins=list(config.cors_origins), allow_methods=["GET", "POST"],
                       allow_headers=["Content-Type", "Authorization"], expose_headers=["Retry-After", "X-Request-ID"],
                       allow_credentials=False, max_age=600)
    # Outermost: every request gets its id and its access-log line, refusals included.
    app.add_middleware(Observed, metrics=metrics, trusted=trusted)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        response = _error(exc.status, exc.message)
        response.headers.update(exc.headers)
        return response

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errs = exc.errors()
        first = errs[0] if errs else {}
        where = ".".join(str(x) for x in first.get("loc", ()) if x not in ("query", "path", "body"))
        return _error(422, f"{where or 'request'}: {first.get('msg', 'invalid request')}")

    @app.exception_handler(ClientDisconnect)
    async def _gone(request: Request, exc: ClientDisconnect) -> Response:
        # The client left before sending its whole body: nobody reads the answer, nothing to log.
        return Response(status_code=400)

    @app.exception_handler(QAError)
    async def _qa_error(request: Request, exc: QAError) -> JSONResponse:
        return _error(400 if isinstance(exc, InputError) else 503, str(exc))

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s", request.url.path)
        return _error(500, "internal error; the server log has the details")

    def document(doc_id: str) -> dict:
        # Only ids of the loaded index exist; the id never reaches the filesystem.
        try:
            return pipeline.source(doc_id)
        except KeyError:
            raise ApiError(404, f"no document with id {doc_id!r} in the index (GET /api/health lists the count)") from None

    @app.post("/api/ask", response_model=AnswerOut, tags=["api"],
              responses=REFUSALS,
              openapi_extra={"requestBody": {"required": True, "content": {
                  "application/json": {"schema": AskRequest.model_json_schema()}}}})
    async def ask(request: Request) -> JSONResponse:
        """Answer a question from the corpus: a verbatim span with citations, or an abstention (also 200)."""
        check_json_content_type(request.headers.get("content-type"))
        question, top_k, history = parse_ask(await request.body())
        answer = await model_slots.run(pipeline.ask, question, top_k, history)
        if metrics:
            metrics.answered(answer)
        return JSONResponse(answer.to_dict())

    @app.post("/api/check", response_model=CheckOut, response_model_exclude_none=True, tags=["api"],
              responses=REFUSALS,
              openapi_extra={"requestBody": {"required": True, "content": {
                  "application/json": {"schema": CheckRequest.model_json_schema()}}}})
    async def check(request: Request) -> JSONResponse:
        """Check a claim (``{"verdicts": [...]}``, one per sentence) or a quote (``{"quote": {...}}``)."""
        check_json_content_type(request.headers.get("content-type"))
        data = parse_check(await request.body())
        if "quote" in data:
            result = await quote_slots.run(pipeline.check_quote, data["quote"], data.get("source"))
            return JSONResponse({"quote": result.to_dict()})
        verdicts = await model_slots.run(pipeline.check_text, data["claim"])
        return JSONResponse({"verdicts": [v.to_dict() for v in verdicts]})

    @app.get("/api/sources/{doc_id:path}", response_model=SourceOut, tags=["api"],
             responses={404: {"model": ErrorOut}, 401: {"model": ErrorOut}, 429: {"model": ErrorOut}})
    def source(doc_id: str) -> JSONResponse:
        """Title, full text and metadata of an indexed document; offsets in answers index into ``text``."""
        return JSONResponse(document(doc_id))

    @app.get("/api/health", tags=["api"], responses={503: {"model": ErrorOut}})
    async def health() -> dict:
        """200 once the index is loaded; ``stale`` says why it no longer matches the corpus, when it does not."""
        # On the event loop, not the threadpool: busy worker threads cannot delay it.
        store = pipeline.loaded_store or await run_in_threadpool(lambda: pipeline.store)
        out: dict[str, Any] = {"status": "ok", "documents": store.counts()["documents"]}
        if pipeline.stale:
            out["stale"] = pipeline.stale
        return out

    def api_not_found(request: Request) -> JSONResponse:
        # Keeps every /api path ours: without this, unknown ones would fall through to the Gradio mount.
        # A path that exists, asked with another method (GET /api/ask), is a 405 that says which to use.
        allowed: set[str] = set()
        for route in app.routes:
            if getattr(route, "endpoint", None) is not api_not_found and route.matches(request.scope)[0] == Match.PARTIAL:
                allowed |= getattr(route, "methods", None) or set()
        if allowed:
            methods = ", ".join(sorted(allowed))
            response = _error(405, f"{request.method} is not allowed on {request.url.path}; use {methods}")
            response.headers["Allow"] = methods
            return response
        return _error(404, f"no API route {request.url.path} (see /docs)")

    for path in ("/api", "/api/{rest:path}"):
        app.add_api_route(path, api_not_found, methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                          include_in_schema=False)

    # The ask box's limits are the server's own (limits.max_question_chars, limits.max_history_turns).
    widget_js = re.sub(r"var MAX_CHARS = \d+;", f"var MAX_CHARS = {int(config.limits.max_question_chars)};",
                       (STATIC / "widget.js").read_text(encoding="utf-8"), count=1)
    widget_js = re.sub(r"var MAX_TURNS = \d+;", f"var MAX_TURNS = {int(config.limits.max_history_turns)};", widget_js,
                       count=1)

    @app.get("/widget.js", include_in_schema=False)
    def widget() -> Response:
        return Response(widget_js, media_type="text/javascript; charset=utf-8",
                        headers={"Cache-Control": "public, max-age=300"})

    @app.get("/source/{doc_id:path}", response_class=HTMLResponse, include_in_schema=False)
    def source_page(doc_id: str, start: int | None = Query(None, ge=0), end: int | None = Query(None, ge=0),
                    answer_start: int | None = Query(None, ge=0),
                    answer_end: int | None = Query(None, ge=0), at: int | None = Query(None, ge=0)) -> HTMLResponse:
        page = render_source(document(doc_id), start, end, answer_start, answer_end, at)
        return HTMLResponse(page, headers={
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'",
            "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"})

    if metrics:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        @app.get("/metrics", include_in_schema=False)
        def metrics_page() -> Response:
            return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    if ui:
        import gradio as gr

        from qa.serve.ui import CSS, THEME, build_ui

        blocks = build_ui(pipeline, on_answer=metrics.answered if metrics else None)
        # With keys, the chat opens after Gradio's login: any user name, a key as the password.
        auth = (lambda user, password: keys.valid(password)) if keys.digests else None
        app = gr.mount_gradio_app(app, blocks, path="/", footer_links=[], run_history=False, theme=THEME, css=CSS,
                                  show_error=False, auth=auth,
                                  auth_message="This server needs an API key: any user name, the key as password.")
        gradio_app.extend(r.app for r in app.routes if isinstance(r, Mount) and hasattr(r.app, "tokens"))
    return app


def _logged_in(gradio_app: list, scope: dict) -> bool:
    """Whether a request carries the cookie of a browser logged in to the chat (Gradio's own login)."""
    if not gradio_app:
        return False
    server, cookies = gradio_app[0], SimpleCookie()
    for k, v in scope.get("headers", ()):
        if k == b"cookie":
            try:
                cookies.load(v.decode("latin-1"))
            except CookieError:
                return False
    return any(name.startswith("access-token") and morsel.value in server.tokens for name, morsel in cookies.items())


def one_thread_per_request() -> None:
    """Make torch and FAISS use one CPU thread per call: requests already run in parallel on the threadpool.

    With their default (a team of OpenMP threads per call, one per core), concurrent requests oversubscribe
    the cores and the teams spin-wait on each other: on a busy 2-core machine a new question took ~200 ms
    (p90 ~500 ms) instead of ~35 ms. Index builds run before this, with every core.
    """
    import faiss

    faiss.omp_set_num_threads(1)
    torch = sys.modules.get("torch")  # ONNX Runtime graphs already run on one thread each (qa/models/runtime.py)
    if torch is not None:
        torch.set_num_threads(1)


def serve(pipeline: Pipeline, host: str = "127.0.0.1", port: int = 7860, build_seconds: float | None = None) -> None:
    """Run the app with uvicorn until interrupted (call ``pipeline.ensure_index()`` first)."""
    import uvicorn

    pipeline.warm_up()  # the model and reader load now, not on a visitor's first question
    one_thread_per_request()
    # A thread waiting for the interpreter (the event loop, a health check) gets it after at most 1 ms of
    # a CPU-bound one (quote checks are Python), not 5: a request never waits long behind them.
    sys.setswitchinterval(0.001)
    app = create_app(pipeline, build_seconds=build_seconds)
    # One JSON line a request on stderr (qa.serve.metrics) replaces uvicorn's own access log.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    access_log.addHandler(handler)
    access_log.setLevel(logging.INFO)
    access_log.propagate = False
    uvicorn.run(app, host=host, port=port, log_level="info", access_log=False, **server_limits(pipeline.config))


CLIENT_SECONDS = 10  # a request head or body not complete this long after the last one: the connection is closed
KEEP_ALIVE_SECONDS = 5


def server_limits(config) -> dict:
    """uvicorn settings that bound what clients can hold: see :mod:`qa.serve.guards` and docs/web.md."""
    return {"http": http_protocol(CLIENT_SECONDS), "timeout_keep_alive": KEEP_ALIVE_SECONDS,
            "limit_concurrency": config.limits.max_connections, "h11_max_incomplete_event_size": 16 * 1024}
