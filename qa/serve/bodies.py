"""Request bodies: capped in size, declared as UTF-8 JSON, and validated by the models ``/docs`` publishes.

:class:`BodyLimit` caps every body (Gradio's included). :func:`parse_ask` and :func:`parse_check` read a
body as JSON by hand (so invalid UTF-8, empty, malformed, too deeply nested or unreadable numbers each get
their own message) and then let the pydantic models of :mod:`qa.serve.schemas` (strict, no unknown
fields) validate it; the first problem becomes one line that names the field, e.g.
``'history[1].answer' must be a string or null, got an integer``.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ValidationError

from qa.config import TOP_K_RANGE
from qa.serve.schemas import AskRequest, CheckRequest

ASK_FIELDS = tuple(AskRequest.model_fields)
CHECK_FIELDS = tuple(CheckRequest.model_fields)
TURN_EXAMPLE = '{"question": "...", "answer": "..."}'


class ApiError(Exception):
    """An error answered as ``{"error": message}`` with ``status`` (and ``headers``, e.g. Retry-After)."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


# ------------------------------------------------------------------ size

class _BodyTooLarge(Exception):
    pass


class BodyLimit:
    """ASGI middleware: every request body (ours and Gradio's) is capped at ``limit`` bytes.

    A declared Content-Length over the limit is refused before reading; a chunked body is counted
    as it arrives and refused the moment it passes the limit. Either way the answer is a 413 JSON,
    and whatever the app would have answered to the cut-off body is dropped.
    """

    def __init__(self, app, limit: int):
        self.app = app
        self.limit = limit

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > self.limit
            except ValueError:
                await send_json(send, 400, "Content-Length header is not a number")
                return
            if too_big:
                await send_json(send, 413, self.message)
                return
        received, cut, started = 0, False, False

        async def counted_receive():
            nonlocal received, cut
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    cut = True
                    raise _BodyTooLarge
            return message

        async def guarded_send(message):
            nonlocal started
            if cut:  # the app's reply to a body we cut off (often a 500) is replaced by the 413
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except _BodyTooLarge:
            pass
        except Exception:
            if not cut:
                raise
        if cut and not started:
            await send_json(send, 413, self.message)

    @property
    def message(self) -> str:
        return f"request body is larger than {self.limit} bytes (limits.max_body_bytes in qa.yaml)"


async def send_json(send, status: int, message: str, headers: list[tuple[bytes, bytes]] = ()) -> None:
    """Answer an ASGI request with ``{"error": message}`` from a middleware."""
    body = json.dumps({"error": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *headers]})
    await send({"type": "http.response.body", "body": body})


# ------------------------------------------------------------------ JSON

def check_json_content_type(value: str | None) -> None:
    """Refuse (415) a body that is not declared as UTF-8 JSON.

    Requiring ``application/json`` also means a cross-origin page cannot post to the API without a
    CORS preflight, which an origin outside ``cors_origins`` fails.
    """
    media, _, params = (value or "").partition(";")
    if media.strip().lower() != "application/json":
        raise ApiError(415, f"Content-Type must be application/json, got {value.strip()!r}" if value else
                       "Content-Type header is missing; send JSON with Content-Type: application/json")
    charset = next((v.strip().strip('"').lower() for k, _, v in (p.partition("=") for p in params.split(";"))
                    if k.strip().lower() == "charset"), "utf-8")
    if charset not in ("utf-8", "utf8"):
        raise ApiError(415, f"charset {charset} is not supported; send JSON encoded as UTF-8")


def parse_ask(body: bytes) -> tuple[str, int | None, list[dict] | None]:
    """``(question, top_k, history)`` from a JSON body, or an :class:`ApiError` naming what is wrong.

    The history's lengths and number of turns are the pipeline's to check (limits in qa.yaml).
    """
    request = _validated(AskRequest, _json_object(body, '{"question": "..."}'))
    history = None if request.history is None else [turn.model_dump() for turn in request.history]
    return request.question, request.top_k, history


def parse_check(body: bytes) -> dict[str, Any]:
    """``{"claim": ...}`` or ``{"quote": ..., "source": ...}`` from a JSON body, validated."""
    request = _validated(CheckRequest, _json_object(body, '{"claim": "..."}'))
    return request.model_dump(exclude_none=True)


def _json_object(body: bytes, example: str) -> dict:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(400, f"request body is not valid UTF-8 (byte {exc.start}); send JSON encoded as UTF-8") from None
    if not text.strip():
        raise ApiError(400, f"request body is empty; send JSON like {example}")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ApiError(400, f"request body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise ApiError(400, "request body is not valid JSON: nested too deeply") from None
    except ValueError as exc:  # an integer of more than 4,300 digits (Python's guard against slow conversions)
        raise ApiError(400, f"request body holds a number that cannot be read ({str(exc).split(';')[0]})") from None
    if not isinstance(data, dict):
        raise ApiError(400, f"request body must be a JSON object like {example}, got {type(data).__name__}")
    return data


# ------------------------------------------------------------------ validation errors in words

def _validated(model: type[BaseModel], data: dict) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        raise ApiError(400, _in_words(min(enumerate(errors), key=_rank)[1], model)) from None


def _rank(item: tuple[int, dict]) -> tuple:
    """Which error to report first: an unknown field before anything else at its level, then a missing one,
    then the rest in the order of the fields (as a hand-written check would find them)."""
    i, error = item
    loc, kind = error["loc"], error["type"]
    order = {"extra_forbidden": 0, "missing": 1}.get(kind, 2)
    return (len(loc) > 1, loc[:2] if len(loc) > 1 else (), order, i)


def _where(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _in_words(error: dict, model: type[BaseModel]) -> str:
    loc, kind, value = tuple(error["loc"]), error["type"], error.get("input")
    where, name = _where(loc), loc[-1] if loc else ""
    if kind == "extra_forbidden":
        if len(loc) == 1:
            return f"unknown field {name!r} (known fields: {', '.join(model.model_fields)})"
        return f"'{_where(loc[:-1])}' has an unknown field {name!r} (known fields: question, answer)"
    if kind == "missing":
        return f"missing field {name!r}" if len(loc) == 1 else f"'{_where(loc[:-1])}' is missing {name!r}"
    if kind == "value_error":  # a model's own rule (CheckRequest._one_of), already in words
        return str(error["ctx"]["error"])
    if name == "top_k" and kind in ("greater_than_equal", "less_than_equal"):
        return f"top_k must be an integer {TOP_K_RANGE}, got {value!r}"
    if kind.startswith("int"):
        return f"'{where}' must be an integer, got {json_type(value)}"
    if kind == "string_type":
        return f"'{where}' must be a string{' or null' if name == 'answer' else ''}, got {json_type(value)}"
    if kind == "list_type" and where == "history":
        return f"'history' must be an array of earlier turns, got {json_type(value)}"
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return f"'{where}' must be an object like {TURN_EXAMPLE}, got {json_type(value)}"
    return f"'{where}': {error['msg']}" if where else error["msg"]


def json_type(value: Any) -> str:
    """``value``'s JSON type in words: "an integer", "null", ..."""
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "an array",
             dict: "an object", type(None): "null"}
    return names.get(type(value), type(value).__name__)
