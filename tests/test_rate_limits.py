"""Per-client rate limits (429 + Retry-After), who the client is behind a proxy, the bounded bucket table,
and the cap on concurrent model work (503 + Retry-After)."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from fastapi.testclient import TestClient

from qa.serve.api import create_app
from qa.serve.throttle import CLIENTS, RateLimit, client_address, networks

from .conftest import fake_pipeline

ALLOWED = "https://allowed.example"
Q = {"question": "How much did Japan export to South Korea in 2021?"}


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    return fake_pipeline(tmp_path_factory.mktemp("limits"), cors_origins=[ALLOWED], trusted_proxies=["10.0.0.0/8"],
                         limits={"requests_per_minute": 60, "burst": 3})


def client(pipeline, peer="203.0.113.5"):
    return TestClient(create_app(pipeline, ui=False), raise_server_exceptions=False, client=(peer, 40000))


def test_a_client_past_its_burst_gets_429_with_retry_after_and_json(pipeline):
    with client(pipeline) as c:
        assert [c.post("/api/ask", json=Q).status_code for _ in range(3)] == [200, 200, 200]
        r = c.post("/api/ask", json=Q, headers={"Origin": ALLOWED})
        assert r.status_code == 429
        assert r.headers["content-type"] == "application/json"
        assert 1 <= int(r.headers["retry-after"]) <= 3  # burst 3 at 60 a minute: one back every second
        assert set(r.json()) == {"error"} and "60 a minute" in r.json()["error"]
        assert r.headers["access-control-allow-origin"] == ALLOWED  # the widget can read why
        assert c.get("/api/sources/000_c6a6f3801ffa9646.txt").status_code == 429  # every /api/ route counts
        assert c.post("/api/check", json={"claim": "Japan is big."}).status_code == 429
        assert c.get("/api/health").status_code == 200  # uptime monitors are never limited
        assert c.get("/widget.js").status_code == 200


def test_another_address_has_its_own_allowance(pipeline):
    app = create_app(pipeline, ui=False)  # one server, two clients
    with TestClient(app, client=("198.51.100.1", 1)) as a, TestClient(app, client=("198.51.100.2", 1)) as b:
        assert [a.post("/api/ask", json=Q).status_code for _ in range(4)][-1] == 429
        assert b.post("/api/ask", json=Q).status_code == 200


def test_x_forwarded_for_counts_only_from_a_trusted_proxy(pipeline):
    app = create_app(pipeline, ui=False)
    with TestClient(app, client=("10.1.2.3", 1)) as proxy, TestClient(app, client=("192.0.2.9", 1)) as direct:
        for n in range(4):  # a stranger cannot pick the address it is counted as
            r = direct.post("/api/ask", json=Q, headers={"X-Forwarded-For": f"198.18.0.{n}"})
        assert r.status_code == 429
        statuses = [proxy.post("/api/ask", json=Q, headers={"X-Forwarded-For": f"198.18.1.{n}, 10.9.9.9"}).status_code
                    for n in range(6)]
        assert statuses == [200] * 6  # six visitors behind the proxy: six allowances


def test_client_address_rules():
    trusted = networks(("10.0.0.0/8", "::1"))

    def scope(peer, xff=None):
        return {"client": (peer, 1), "headers": [(b"x-forwarded-for", xff.encode())] if xff else []}

    assert client_address(scope("192.0.2.1", "1.2.3.4"), trusted) == "192.0.2.1"
    assert client_address(scope("10.0.0.1", "1.2.3.4, 10.0.0.2"), trusted) == "1.2.3.4"
    assert client_address(scope("10.0.0.1", "5.6.7.8, 1.2.3.4"), trusted) == "1.2.3.4"  # first untrusted, from the right
    assert client_address(scope("10.0.0.1", "junk, 1.2.3.4"), trusted) == "1.2.3.4"
    assert client_address(scope("10.0.0.1", "10.0.0.3"), trusted) == "10.0.0.3"  # only proxies: the last one
    assert client_address(scope("10.0.0.1"), trusted) == "10.0.0.1"
    assert client_address(scope("2001:db8::1"), trusted) == client_address(scope("2001:db8::ffff"), trusted)


def test_the_bucket_table_stays_bounded_with_100000_addresses():
    async def ok(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    limit = RateLimit(ok, per_minute=60, burst=20)
    statuses: list[int] = []

    async def send(message):
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    async def flood():
        for n in range(100_000):
            peer = f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"
            await limit({"type": "http", "method": "POST", "path": "/api/ask", "headers": [], "client": (peer, 1)},
                        None, send)

    t0 = time.perf_counter()
    asyncio.run(flood())
    assert time.perf_counter() - t0 < 60
    assert statuses == [200] * 100_000  # each address sent one request
    storage = limit.storage
    assert len(storage) <= CLIENTS and len(storage.events) <= CLIENTS and len(storage.expirations) <= CLIENTS


def test_a_flooding_client_cannot_grow_its_own_bucket():
    limit = RateLimit(None, per_minute=60, burst=20)
    for _ in range(10_000):
        limit.allow("198.51.100.7")
    (events,) = limit.storage.events.values()
    assert len(events) <= 20


# ------------------------------------------------------------------ model work

@pytest.fixture(scope="module")
def slow_pipeline(tmp_path_factory):
    p = fake_pipeline(tmp_path_factory.mktemp("slots"), limits={"model_workers": 1, "model_queue": 1,
                                                              "queue_seconds": 0.3})
    ask = p.ask

    def slow_ask(*args, **kwargs):
        time.sleep(0.6)
        return ask(*args, **kwargs)

    p.ask = slow_ask
    return p


async def _together(app, n: int) -> list[httpx.Response]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        async def one(i):
            await asyncio.sleep(0.05 * i)  # in this order: running, waiting, refused
            return await c.post("/api/ask", json=Q)
        return list(await asyncio.gather(*(one(i) for i in range(n))))


def test_model_work_beyond_workers_and_queue_is_a_503_with_retry_after(slow_pipeline):
    app = create_app(slow_pipeline, ui=False)
    responses = asyncio.run(_together(app, 3))
    statuses = [r.status_code for r in responses]
    assert statuses[0] == 200 and statuses[1:] == [503, 503], statuses
    waited, full = responses[1].json()["error"], responses[2].json()["error"]
    assert "within 0.3 s (limits.queue_seconds)" in waited  # waited its turn too long
    assert "too many questions and claims at once (2)" in full  # no room even to wait
    assert all(int(r.headers["retry-after"]) >= 1 for r in responses[1:])


def test_the_new_settings_are_checked_in_one_line(tmp_path):
    from qa.config import config_from_dict, load_config
    from qa.errors import ConfigError

    base = {"corpus": "docs", "index": "index"}
    with pytest.raises(ConfigError, match=r"trusted_proxies\[1\] must be an IP address or network like 10.0.0.0/8, "
                                          r"got 'proxy.local'"):
        config_from_dict({**base, "trusted_proxies": ["10.0.0.1", "proxy.local"]})
    with pytest.raises(ConfigError, match=r"limits.requests_per_minute must be between 0 \(no rate limit\)"):
        config_from_dict({**base, "limits": {"requests_per_minute": -1}})
    with pytest.raises(ConfigError, match=r"limits.queue_seconds must be > 0"):
        config_from_dict({**base, "limits": {"queue_seconds": 0}})
    (tmp_path / "qa.yaml").write_text("corpus: docs\nindex: index\napi_keys_file: secrets/keys.txt\nmetrics: true\n", encoding="utf-8")
    config = load_config(tmp_path / "qa.yaml")
    assert config.api_keys_file == tmp_path / "secrets" / "keys.txt" and config.metrics is True
    assert config_from_dict(base).api_keys_file is None and config_from_dict(base).limits.requests_per_minute == 0


def test_the_chat_requests_count_too(pipeline):
    with TestClient(create_app(pipeline), raise_server_exceptions=False, client=("192.0.2.77", 1)) as c:
        assert c.get("/").status_code == 200  # pages and assets are not counted
        joins = [c.post("/gradio_api/queue/join", json={}).status_code for _ in range(4)]
        assert 429 not in joins[:3] and joins[3] == 429
        assert c.get("/").status_code == 200
