"""Optional API keys: a private deployment answers only callers that send one.

Keys come from ``api_keys_file:`` in qa.yaml (one ``sha256:<hex digest of the key>`` a line; ``#`` starts a
comment) and from the environment variable ``QA_API_KEYS`` (comma-separated keys, each plain or
``sha256:<hex>``). With none, nothing changes: the widget and the chat stay public. With some:

- ``/api/*`` (but ``/api/health``), ``/metrics`` and ``/source/*`` need ``Authorization: Bearer <key>``;
  wrong, missing and malformed headers all get the same 401 and body. ``/source/*`` also opens for a
  browser logged in to the chat.
- The chat asks for a key at a login page (Gradio's own login: any user name, the key as password).

Only digests are kept. A presented key is hashed and compared with every stored digest by
:func:`hmac.compare_digest`, all of them every time, so neither which key matched nor how much of one
matched shows in the time taken. Keys never reach a log line: neither this module nor the access log
(:mod:`qa.serve.metrics`) writes headers.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from pathlib import Path
from typing import Callable

from qa.errors import ConfigError
from qa.serve.bodies import send_json

ENV = "QA_API_KEYS"
PREFIX = "sha256:"
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
UNAUTHORIZED = "this server needs an API key: send it as Authorization: Bearer <key> (its operator hands them out)"
OPEN_API = ("/api/health",)


def hash_key(key: str) -> str:
    """The line to put in ``api_keys_file`` for ``key`` (the same as ``printf %s KEY | sha256sum``)."""
    return PREFIX + hashlib.sha256(key.encode("utf-8")).hexdigest()


def _digest(line: str) -> bytes | None:
    line = line.strip().lower()
    return bytes.fromhex(line[len(PREFIX):]) if _DIGEST.fullmatch(line) else None


def load_keys(path: Path | None, environ: dict | None = None) -> tuple[bytes, ...]:
    """The digests of every configured key (none: keys are off). A bad file is a one-line :class:`ConfigError`."""
    digests: list[bytes] = []
    if path is not None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"api_keys_file {path} cannot be read ({getattr(exc, 'strerror', None) or exc}): "
                              "fix the path in qa.yaml or remove the key") from None
        for n, line in enumerate(text.splitlines(), 1):
            line = line.partition("#")[0].strip()
            if not line:
                continue
            digest = _digest(line)
            if digest is None:  # the line is not echoed: it may be a plain key
                raise ConfigError(f"api_keys_file {path} line {n} is not a hashed key: write sha256: and the hex "
                                  "SHA-256 of the key (printf %s KEY | sha256sum)")
            digests.append(digest)
        if not digests:
            raise ConfigError(f"api_keys_file {path} holds no key: add a line sha256:<hex>, or remove the setting")
    for entry in (environ if environ is not None else os.environ).get(ENV, "").split(","):
        if entry.strip():
            digests.append(_digest(entry) or hashlib.sha256(entry.strip().encode("utf-8")).digest())
    return tuple(digests)


class ApiKeys:
    """A set of key digests; :meth:`valid` compares in constant time."""

    def __init__(self, digests: tuple[bytes, ...]):
        self.digests = digests

    def valid(self, key: str) -> bool:
        presented = hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()
        found = False
        for digest in self.digests:  # every one, every time
            found |= hmac.compare_digest(presented, digest)
        return found

    def authorized(self, header: bytes | None) -> bool:
        """Whether an ``Authorization`` header value carries a valid bearer key."""
        scheme, _, key = (header or b"").decode("latin-1").strip().partition(" ")
        ok = self.valid(key.strip())  # compared even when the scheme is wrong: the same work either way
        return ok and scheme.lower() == "bearer"


def needs_key(path: str) -> bool:
    """Paths a private deployment guards with a bearer key (the chat has its own login)."""
    return ((path.startswith("/api/") or path == "/api") and path not in OPEN_API) or path == "/metrics" \
        or path.startswith("/source/")


class RequireKey:
    """ASGI middleware: 401 ``{"error": UNAUTHORIZED}`` without a valid bearer key (see the module).

    ``logged_in(scope)`` says whether a browser logged in to the chat sent the request: such a browser
    may open ``/source/*`` (the chat links every citation there).
    """

    def __init__(self, app, keys: ApiKeys, logged_in: Callable[[dict], bool] | None = None):
        self.app = app
        self.keys = keys
        self.logged_in = logged_in or (lambda scope: False)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or not needs_key(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        header = next((v for k, v in scope.get("headers", ()) if k == b"authorization"), None)
        if self.keys.authorized(header) or (scope["path"].startswith("/source/") and self.logged_in(scope)):
            await self.app(scope, receive, send)
            return
        await send_json(send, 401, UNAUTHORIZED, [(b"www-authenticate", b'Bearer realm="qa"')])
