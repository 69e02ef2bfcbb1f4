"""The smaller findings of the probe (issue 24, point 6), each against a real server and raw sockets:
huge integers, clients that leave mid-body, methods nobody serves, page headers, slow and idle
connections, too many quote checks at once, a huge unbroken word in the document view, and a
question that is nothing but markup."""

from __future__ import annotations

import logging
import socket
import time

import pytest

from .conftest import fake_pipeline, make_corpus
from .live import Served, free_port
from .test_http_security import ALLOWED, raw

HOSTILE_HEADING = "# <img src=x onerror=alert(1)>\n\nThe zorblax festival was first held in 1999 in Osaka.\n"
GREEK_WORD = "".join(chr(0x3B1 + i % 24) for i in range(1_000_000))


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    from qa.serve.api import create_app

    tmp = tmp_path_factory.mktemp("hard")
    corpus = make_corpus(tmp, {"a.txt": "Japan ruled Korea from 1910 to 1945.\n", "hostile.md": HOSTILE_HEADING,
                               "long.txt": "The long word follows. " + GREEK_WORD + " The end is here."})
    pipeline = fake_pipeline(tmp, corpus=corpus, cors_origins=[ALLOWED], abstain_threshold=0.0)
    server = Served(create_app(pipeline), free_port())
    yield server
    server.close()


class Logged(logging.Handler):
    """Every record of the server's loggers, with whether it carried a traceback."""

    NAMES = ("uvicorn", "uvicorn.error", "qa.serve.api", "gradio", "fastapi", "starlette")

    def __init__(self):
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)

    def __enter__(self):
        for name in self.NAMES:
            logging.getLogger(name).addHandler(self)
        return self

    def __exit__(self, *exc):
        for name in self.NAMES:
            logging.getLogger(name).removeHandler(self)

    def tracebacks(self) -> list[str]:
        return [r.getMessage() for r in self.records if r.exc_info or r.levelno >= logging.ERROR]


def send(port: int, data: bytes, read: bool = True, timeout: float = 10) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as c:
        c.sendall(data)
        out = b""
        while read:
            chunk = c.recv(65536)
            if not chunk:
                break
            out += chunk
        return out


@pytest.mark.parametrize("path", ["/api/ask", "/api/check", "/gradio_api/call/ask", "/gradio_api/queue/join"])
def test_an_integer_of_5000_digits_is_a_400_not_a_500(served, path):
    field = "question" if path != "/api/check" else "claim"
    with Logged() as logged:
        status, headers, body = raw(served, "POST", path, b'{"%s": %s}' % (field.encode(), b"7" * 5000),
                                    {"Content-Type": "application/json"})
    assert status == 400 and headers["content-type"].startswith("application/json"), body[:300]
    if path.startswith("/api/"):
        assert "a number that cannot be read" in body.decode() and "4300 digits" in body.decode()
    assert logged.tracebacks() == []


@pytest.mark.parametrize("path", ["/api/ask", "/api/check", "/gradio_api/queue/join"])
def test_a_client_that_leaves_mid_body_leaves_no_traceback(served, path):
    with Logged() as logged:
        send(served.port, b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000"
                          b"\r\n\r\n{\"question\": \"When" % path.encode(), read=False)
        time.sleep(1.0)
        assert raw(served, "GET", "/api/health")[0] == 200  # and the server goes on
    assert logged.tracebacks() == []


@pytest.mark.parametrize("method", ["OPTIONS", "TRACE", "CONNECT", "PROPFIND", "BREW"])
@pytest.mark.parametrize("path", ["/", "/api/ask", "/docs", "/widget.js", "/gradio_api/info"])
def test_methods_nobody_serves_get_the_api_error_json(served, method, path):
    status, headers, body = raw(served, method, path)
    assert status == 405 and headers["content-type"] == "application/json" and headers["allow"] == "GET, HEAD, POST"
    import json

    assert set(json.loads(body)) == {"error"}


def test_a_cors_preflight_is_still_answered(served):
    status, headers, _ = raw(served, "OPTIONS", "/api/ask", headers={
        "Origin": ALLOWED, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"})
    assert status == 200 and headers["access-control-allow-origin"] == ALLOWED


@pytest.mark.parametrize("path", ["/", "/docs", "/redoc"])
def test_pages_carry_a_csp_that_lets_listed_sites_frame_them(served, path):
    status, headers, _ = raw(served, "GET", path)
    csp = headers["content-security-policy"]
    assert status == 200 and headers["x-content-type-options"] == "nosniff"
    assert f"frame-ancestors 'self' {ALLOWED}" in csp and "object-src 'none'" in csp and "default-src 'self'" in csp
    assert "x-frame-options" not in headers  # it cannot name the listed origin; frame-ancestors does


def test_the_source_page_keeps_its_stricter_csp_and_the_widget_its_type(served):
    status, headers, _ = raw(served, "GET", "/source/a.txt")
    assert headers["content-security-policy"].startswith("default-src 'none'")
    assert f"frame-ancestors 'self' {ALLOWED}" in headers["content-security-policy"]
    status, headers, _ = raw(served, "GET", "/widget.js")
    assert status == 200 and headers["content-type"].startswith("text/javascript")
    assert headers["x-content-type-options"] == "nosniff"
    assert raw(served, "GET", "/api/health")[1]["x-content-type-options"] == "nosniff"


def test_without_cors_origins_pages_may_only_be_framed_by_themselves(tmp_path):
    from fastapi.testclient import TestClient

    from qa.serve.api import create_app

    client = TestClient(create_app(fake_pipeline(tmp_path), ui=False))
    r = client.get("/docs")
    assert "frame-ancestors 'self';" in r.headers["content-security-policy"] + ";"
    assert r.headers["x-frame-options"] == "SAMEORIGIN"


def test_a_million_character_word_renders_as_a_bounded_breakable_page(served):
    import re

    from qa.serve.pages import BREAK_EVERY, PAGE_CHARS

    status, _, body = raw(served, "GET", "/source/long.txt")
    page = body.decode()
    assert status == 200 and len(page) < 1.2 * PAGE_CHARS * 2  # Greek letters are 2 bytes each
    text = re.sub(r"<[^>]+>", " ", page.split('<div class="text">', 1)[1])
    assert max(len(w) for w in text.split()) <= BREAK_EVERY  # a break opportunity at least every 64 characters
    assert f"characters 0-{PAGE_CHARS:,} of {len(GREEK_WORD) + 40:,}" in page and "?at=200000" in page
    status, _, body = raw(served, "GET", "/source/long.txt?start=500000&end=500010")
    page = body.decode()
    assert '<mark id="hl">' + GREEK_WORD[500000 - 23:500010 - 23] + "</mark>" in page  # the quote, marked in its page
    assert "earlier" in page and "later" in page


def test_a_question_that_only_repeats_a_heading_is_not_answered(served):
    import json

    status, _, body = raw(served, "POST", "/api/ask", json.dumps({"question": "<img src=x onerror=alert(1)>"}).encode(),
                          {"Content-Type": "application/json"})
    answer = json.loads(body)
    assert status == 200 and answer["abstained"] and answer["citations"] == []
    assert "repeats the question" in answer["reason"]
    status, _, body = raw(served, "POST", "/api/ask", json.dumps({"question": "When was the zorblax festival first "
                                                                              "held in Osaka?"}).encode(),
                          {"Content-Type": "application/json"})
    assert "1999" in json.loads(body)["answer"]


# ------------------------------------------------------------------ slow, idle and too many clients

@pytest.fixture
def strict(tmp_path, monkeypatch):
    """A server with the production limits, a 1-second client watchdog and room for 6 connections."""
    import uvicorn

    from qa.serve import api

    monkeypatch.setattr(api, "CLIENT_SECONDS", 1)
    pipeline = fake_pipeline(tmp_path, limits={"max_connections": 6})
    port = free_port()
    server = Served.__new__(Served)
    server.port, server.url = port, f"http://127.0.0.1:{port}"
    server.server = uvicorn.Server(uvicorn.Config(api.create_app(pipeline, ui=False), host="127.0.0.1", port=port,
                                                  log_level="warning", **api.server_limits(pipeline.config)))
    import threading

    server.thread = threading.Thread(target=server.server.run, daemon=True)
    server.thread.start()
    while not server.server.started:
        time.sleep(0.05)
    yield server
    server.close()


@pytest.mark.parametrize("what", ["idle", "half a request head", "half a body"])
def test_slow_and_idle_clients_are_let_go(strict, what):
    data = {"idle": b"", "half a request head": b"GET /api/health HTTP/1.1\r\nHost: x\r\nX-Slow: ",
            "half a body": b"POST /api/ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                           b"Content-Length: 100\r\n\r\n{\"question\": "}[what]
    with socket.create_connection(("127.0.0.1", strict.port), timeout=30) as c:
        c.sendall(data)
        t0 = time.monotonic()
        try:
            while c.recv(65536):  # a half body may get a reply (400) before the close
                pass
        except ConnectionResetError:
            pass
        waited = time.monotonic() - t0
    assert waited < 10  # closed by the server (watchdog: 1-2 s here), not by this test's 30 s timeout


def test_connections_beyond_the_limit_get_503_and_a_normal_request_still_works(strict):
    idle = [socket.create_connection(("127.0.0.1", strict.port)) for _ in range(6)]
    try:
        reply = send(strict.port, b"GET /api/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert reply.startswith(b"HTTP/1.1 503")
    finally:
        for c in idle:
            c.close()
    time.sleep(0.5)
    assert send(strict.port, b"GET /api/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").startswith(
        b"HTTP/1.1 200")
