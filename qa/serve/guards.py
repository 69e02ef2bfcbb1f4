"""What the server bounds below the routes: methods, response headers, slow or idle connections.

- :class:`MethodGuard`: a method the server does not serve (TRACE, CONNECT, an OPTIONS that is not a
  CORS preflight, any made-up one) is a 405 ``{"error"}`` JSON like every other refusal, wherever it is
  sent, instead of Gradio's ``{"detail": "Not Found"}``.
- :class:`SecurityHeaders`: ``X-Content-Type-Options: nosniff`` on every response; every HTML page (the
  chat at ``/``, ``/docs``, ``/redoc``) gets a Content Security Policy: scripts, styles, images,
  fonts and connections from this server only (inline scripts allowed: Gradio's and Swagger's pages
  carry their configuration inline; on the chat, ``eval`` too: Gradio evaluates its HTML templates),
  no plugins; and ``frame-ancestors``: the page may be framed by
  itself and by the ``cors_origins`` of ``qa.yaml`` only, which is what embedding the chat in an
  ``<iframe>`` on your own site needs (docs/web.md). ``X-Frame-Options: SAMEORIGIN`` is added when no
  other origin may frame it. The widget is a script a host page loads and is unaffected.
- :func:`http_protocol`: uvicorn's HTTP protocol with a watchdog: a connection that has not sent a whole
  request head (or a whole body) within ``seconds`` is closed (uvicorn itself only times out a
  keep-alive connection after a response, so an idle or one-byte-a-second client was held forever).
"""

from __future__ import annotations

import json

SERVED_METHODS = ("GET", "HEAD", "POST")
ROUTED_ON_API = ("PUT", "PATCH", "DELETE")  # the API's own 405 names the method each /api path takes

PAGE_POLICY = ("default-src 'self'; script-src 'self' 'unsafe-inline'{eval}; style-src 'self' 'unsafe-inline'; "
               "img-src 'self' data: blob:; font-src 'self' data:; media-src 'self' data: blob:; "
               "connect-src 'self'; worker-src 'self' blob:; object-src 'none'; base-uri 'self'; form-action 'self'")
STRICT_PAGES = ("/docs", "/redoc")  # Swagger and ReDoc need no eval; Gradio's chat evaluates its templates


async def _send_json(send, status: int, message: str, headers: list[tuple[bytes, bytes]] = ()) -> None:
    body = json.dumps({"error": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *headers]})
    await send({"type": "http.response.body", "body": body})


class MethodGuard:
    """ASGI middleware: methods other than GET, HEAD and POST get a 405 JSON (see the module)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        method = scope.get("method", "GET") if scope["type"] == "http" else "GET"
        path = scope.get("path", "")
        if method in SERVED_METHODS or (method in ROUTED_ON_API and (path == "/api" or path.startswith("/api/"))):
            await self.app(scope, receive, send)
            return
        allowed = ", ".join(SERVED_METHODS)
        what = "OPTIONS is only answered as a CORS preflight from an origin in cors_origins" if method == "OPTIONS" \
            else f"{method[:20]} is not allowed on {path[:200]}"
        await _send_json(send, 405, f"{what}; use {allowed}", [(b"allow", allowed.encode())])


class SecurityHeaders:
    """ASGI middleware: nosniff everywhere; a CSP with ``frame-ancestors`` on HTML pages (see the module)."""

    def __init__(self, app, frame_origins: tuple[str, ...] = ()):
        self.app = app
        ancestors = "*" if "*" in frame_origins else " ".join(("'self'", *frame_origins))
        self.frame_ancestors = f"frame-ancestors {ancestors}"
        self.same_origin_only = not frame_origins

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                if b"x-content-type-options" not in names:
                    headers.append((b"x-content-type-options", b"nosniff"))
                ctype = next((v for k, v in headers if k.lower() == b"content-type"), b"")
                if ctype.startswith(b"text/html"):
                    csp = [i for i, (k, _) in enumerate(headers) if k.lower() == b"content-security-policy"]
                    if csp:  # a page with its own policy (the document view): only who may frame it is added
                        i = csp[0]
                        if b"frame-ancestors" not in headers[i][1]:
                            headers[i] = (headers[i][0], headers[i][1] + b"; " + self.frame_ancestors.encode())
                    else:
                        policy = PAGE_POLICY.format(eval="" if scope.get("path") in STRICT_PAGES else " 'unsafe-eval'")
                        headers.append((b"content-security-policy", f"{policy}; {self.frame_ancestors}".encode()))
                    if self.same_origin_only and b"x-frame-options" not in names:
                        headers.append((b"x-frame-options", b"SAMEORIGIN"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


def http_protocol(seconds: float):
    """uvicorn's HTTP protocol class (httptools when installed, else h11) with the watchdog of the module:
    every ``seconds``, a connection that waits on its client (no request yet, idle after a response,
    or a body still arriving) and has not completed a request head or body since the last look is closed."""
    from uvicorn.protocols.http.auto import AutoHTTPProtocol

    class Watched(AutoHTTPProtocol):  # type: ignore[misc, valid-type]
        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            self._seen: tuple = (None, False)  # as if looked at once already: an idle client goes at the first look
            self.loop.call_later(seconds, self._watch)

        def _watch(self) -> None:
            if self.transport.is_closing():
                return
            cycle = self.cycle
            waiting = cycle is None or cycle.response_complete or cycle.more_body
            seen = (cycle, cycle is not None and cycle.more_body)
            if waiting and seen == self._seen:
                self.transport.close()  # the app, if it was reading a body, sees a disconnect
                return
            self._seen = seen
            self.loop.call_later(seconds, self._watch)

    return Watched
