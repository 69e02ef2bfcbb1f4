"""Who is asking, how often they may, and how much model work runs at once.

- :func:`client_address`: the client a request counts against: the peer address, or, when the peer is one
  of ``trusted_proxies``, the first address of ``X-Forwarded-For`` (read from the right) that is not a
  trusted proxy. An IPv6 client counts as its /64 network (one host usually holds a whole /64).
- :class:`RateLimit`: ASGI middleware that answers 429 with ``Retry-After`` once a client has sent more than
  ``limits.burst`` requests at once or ``limits.requests_per_minute`` on average (a moving window from the
  ``limits`` library). It counts every POST (the API's and the chat's) and every other ``/api/`` request but
  ``/api/health``. Its table of clients is bounded (:class:`BoundedMemoryStorage`).
- :class:`Slots`: at most N calls of model work at once, M more waiting at most S seconds; beyond that a 503
  with ``Retry-After``, so a burst turns into quick refusals, not slow answers for everyone.
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections import OrderedDict
from typing import Callable

import anyio
from limits import RateLimitItemPerSecond
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.concurrency import run_in_threadpool

from qa.serve.bodies import ApiError, send_json

CLIENTS = 4096  # clients whose recent requests are remembered; the least recently seen is forgotten first

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    """``trusted_proxies`` of qa.yaml as networks (an address is a network of one)."""
    return tuple(ipaddress.ip_network(e, strict=False) for e in entries)


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An address from a peer or X-Forwarded-For entry ("203.0.113.7", "[2001:db8::1]:443", "198.51.100.2:80")."""
    text = text.strip().strip('"')
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:  # IPv4 with a port
        text = text.partition(":")[0]
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _key(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    if isinstance(ip, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def client_address(scope: dict, trusted: tuple[Network, ...] = ()) -> str:
    """The client a request counts against (see the module). X-Forwarded-For is only read when the peer is a
    trusted proxy, so nobody else can choose the address they are counted as."""
    peer = (scope.get("client") or ("unknown", 0))[0]
    ip = _ip(peer)
    if ip is None:  # a unix socket or a test client: the name is all there is
        return str(peer)[:100]
    if not any(ip in net for net in trusted):
        return _key(ip)
    forwarded = ",".join(v.decode("latin-1") for k, v in scope.get("headers", ()) if k == b"x-forwarded-for")
    for hop in reversed([h for h in forwarded.split(",") if h.strip()]):
        hop_ip = _ip(hop)
        if hop_ip is None:  # a hop no proxy would write: stay with the last one that can be believed
            break
        ip = hop_ip
        if not any(ip in net for net in trusted):
            break
    return _key(ip)


class BoundedMemoryStorage(MemoryStorage):
    """The ``limits`` library's in-memory storage, holding at most ``clients`` keys.

    The least recently seen key is forgotten first, and a key keeps only as many timestamps as its limit
    (older ones cannot matter to a moving window), so memory stays fixed however many addresses send
    requests. That also makes the library's sweeping timer (a scan of every key after each request)
    unnecessary, so it never starts.
    """

    def __init__(self, clients: int = CLIENTS):
        super().__init__()
        self.timer.cancel()
        self.clients = clients
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._seen_lock = threading.Lock()

    def _MemoryStorage__schedule_expiry(self) -> None:  # the library's sweep; not needed here (see the class)
        pass

    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        with self._seen_lock:
            self._seen[key] = None
            self._seen.move_to_end(key)
            while len(self._seen) > self.clients:
                self.clear(self._seen.popitem(last=False)[0])
        acquired = super().acquire_entry(key, limit, expiry, amount)
        events = self.events.get(key)
        if events is not None and len(events) > limit:
            del events[limit:]
        return acquired

    def __len__(self) -> int:
        return len(self._seen)


def counted(scope: dict) -> bool:
    """Whether a request counts against its client's rate limit: every POST (the API, the chat's events, its
    login), and every other request under ``/api/`` except ``/api/health`` (uptime monitors)."""
    path = scope.get("path", "")
    if scope.get("method") == "POST":
        return True
    return path.startswith("/api/") and path != "/api/health"


class RateLimit:
    """ASGI middleware: per-client rate limit with 429 + ``Retry-After`` (see the module).

    A client may send ``burst`` requests at once and ``per_minute`` a minute on average: at most ``amount``
    requests in any ``window`` seconds. ``on_limited`` is told of each refusal (the metrics count them).
    """

    def __init__(self, app, per_minute: int, burst: int, trusted: tuple[Network, ...] = (),
                 on_limited: Callable[[], None] | None = None, clients: int = CLIENTS):
        self.app = app
        self.per_minute, self.burst, self.trusted = per_minute, burst, trusted
        window = max(1, round(burst * 60 / per_minute))
        self.item = RateLimitItemPerSecond(max(burst, round(per_minute * window / 60)), window)
        self.storage = BoundedMemoryStorage(clients)
        self.limiter = MovingWindowRateLimiter(self.storage)
        self.on_limited = on_limited or (lambda: None)

    def allow(self, client: str) -> int:
        """0 when ``client`` may go on (and it is counted), else the seconds until it may."""
        if self.limiter.hit(self.item, "client", client):
            return 0
        reset, _ = self.limiter.get_window_stats(self.item, "client", client)
        return max(1, math.ceil(reset - time.time()))

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or not counted(scope):
            await self.app(scope, receive, send)
            return
        wait = self.allow(client_address(scope, self.trusted))
        if not wait:
            await self.app(scope, receive, send)
            return
        self.on_limited()
        await send_json(send, 429, f"too many requests: this server answers {self.per_minute} a minute from one "
                                   f"address, in bursts of up to {self.burst}; try again in {wait} s",
                        [(b"retry-after", str(wait).encode())])


class Slots:
    """At most ``running`` calls of CPU-heavy work in worker threads at once and ``waiting`` more in line
    (waiting holds no thread), each for at most ``wait`` seconds (None: as long as it takes); beyond that a
    503 with ``Retry-After`` that says to try again."""

    def __init__(self, running: int, waiting: int, what: str, wait: float | None = None, retry_after: int = 2,
                 on_refused: Callable[[], None] | None = None):
        self._running = anyio.Semaphore(running)
        self._limit = running + waiting
        self._inside = 0
        self.what = what
        self.wait = wait
        self.retry_after = retry_after
        self.refused = 0
        self.on_refused = on_refused or (lambda: None)

    @property
    def inside(self) -> int:
        """Calls running or waiting now."""
        return self._inside

    def _busy(self, message: str) -> ApiError:
        self.refused += 1
        self.on_refused()
        return ApiError(503, message, {"Retry-After": str(self.retry_after)})

    async def run(self, fn, *args):
        if self._inside >= self._limit:
            raise self._busy(f"too many {self.what} at once ({self._limit}); try again in a few seconds")
        self._inside += 1
        try:
            with anyio.move_on_after(self.wait) as waited:
                await self._running.acquire()
            if waited.cancelled_caught:
                raise self._busy(f"too many {self.what} at once: none could start within {self.wait:g} s "
                                 f"(limits.queue_seconds); try again in a few seconds")
            try:
                return await run_in_threadpool(fn, *args)
            finally:
                self._running.release()
        finally:
            self._inside -= 1
