"""``HEAD`` answered as ``GET`` without a body, for uptime monitors and link checkers.

FastAPI routes answer only the methods they declare, so a ``HEAD /widget.js`` fell through to the
Gradio mount at ``/`` and got its 404. :class:`HeadAsGet` runs the ``GET`` and sends its status and
headers (``Content-Length`` included, as RFC 9110 asks) with an empty body. Gradio's own API under
``/gradio_api/`` is left alone: its event streams never end, so a ``GET`` run for a ``HEAD`` would not.
"""

from __future__ import annotations

GRADIO_API = "/gradio_api/"


class HeadAsGet:
    """ASGI middleware: a ``HEAD`` request gets the ``GET`` response's status and headers, and no body."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD" or scope["path"].startswith(GRADIO_API):
            await self.app(scope, receive, send)
            return
        finished = False

        async def headers_only(message) -> None:
            nonlocal finished
            if finished:
                return
            if message["type"] == "http.response.body":  # the first part of the body ends the answer
                finished = True
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, headers_only)
