"""The HTTP edge against a real server and raw sockets: ids cannot leave the index, CORS admits only
configured origins, and request bodies are capped whether or not they declare a length.

Paths are sent byte for byte with ``http.client`` (no client-side normalisation of ``..`` or
percent-escapes), to a uvicorn server on a free loopback port.
"""

from __future__ import annotations

import http.client
import json
from pathlib import Path

import pytest

from .conftest import SEEDS, fake_pipeline
from .live import Served, free_port

ALLOWED = "https://allowed.example"
SEED = "000_c6a6f3801ffa9646.txt"
NESTED = "sub dir/notes.txt"
SECRET = "zorblax-secret-7f3a"  # in a file next to the corpus, never indexed


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    import shutil

    from qa.serve.api import create_app

    tmp = tmp_path_factory.mktemp("sec")
    corpus = tmp / "corpus"
    shutil.copytree(SEEDS, corpus)
    (corpus / "sub dir").mkdir()
    (corpus / "sub dir" / "notes.txt").write_text("Notes about the zorblax festival in Osaka.", encoding="utf-8")
    (tmp / "qa.yaml").write_text(f"corpus: corpus\nindex: index\n# {SECRET}\n", encoding="utf-8")
    (tmp / "secret.txt").write_text(SECRET, encoding="utf-8")
    pipeline = fake_pipeline(tmp, corpus=corpus, cors_origins=[ALLOWED],
                             limits={"max_question_chars": 200, "max_body_bytes": 4096})
    served = Served(create_app(pipeline), free_port())
    served.app_tmp = tmp  # type: ignore[attr-defined]
    yield served
    served.close()


def raw(server, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
        chunks: list[bytes] | None = None) -> tuple[int, dict, bytes]:
    """Send ``path`` exactly as given; ``chunks`` sends a chunked body with no Content-Length."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for k, v in (headers or {}).items():
            conn.putheader(k, v)
        if chunks is not None:
            conn.putheader("Transfer-Encoding", "chunked")
            conn.endheaders()
            for c in chunks:
                conn.send(b"%x\r\n%s\r\n" % (len(c), c))
            conn.send(b"0\r\n\r\n")
        else:
            if body is not None:
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


# ------------------------------------------------------------------ ids that try to leave the corpus

ESCAPES = [
    "..", "../", "../qa.yaml", "../secret.txt", "../../../../../../etc/passwd", "/etc/passwd", "//etc/passwd",
    "%2e%2e", "%2e%2e%2fqa.yaml", "%2e%2e/%2e%2e/%2e%2e/etc/passwd", "..%2f..%2f..%2fetc%2fpasswd",
    "%2E%2E%2F%2E%2E%2Fsecret.txt", "%2fetc%2fpasswd",
    "%252e%252e%252fqa.yaml", "%252e%252e%252f%252e%252e%252fetc%252fpasswd", "%25252e%25252e%25252fsecret.txt",
    "..%5cqa.yaml", "..%5c..%5csecret.txt", "..\\secret.txt", "%5cetc%5cpasswd", "C:%5cWindows%5cwin.ini",
    "%00", "..%00", SEED + "%00", SEED + "%00.txt", "%00../secret.txt",
    "%c0%ae%c0%ae%c0%afsecret.txt", "%e0%80%ae%e0%80%ae/secret.txt", "....//....//secret.txt", "..;/secret.txt",
    "./" + SEED, "corpus/" + SEED, "sub%20dir/../" + SEED, "sub%20dir/..%2f..%2fqa.yaml",
    "file:%2f%2f%2fetc%2fpasswd", "~%2f.bashrc", "sources.yaml", "index%2fCURRENT",
]


def _leaks(body: bytes) -> bool:
    text = body.decode("utf-8", "replace")
    etc = Path("/etc/passwd")
    passwd = etc.read_text(errors="replace").splitlines()[0] if etc.exists() else "root:x:0:0"
    return SECRET in text or passwd in text or "corpus: corpus" in text or "title:" in text


@pytest.mark.parametrize("prefix", ["/api/sources/", "/source/"])
@pytest.mark.parametrize("doc_id", ESCAPES)
def test_ids_cannot_escape_the_corpus(server, prefix, doc_id):
    status, headers, body = raw(server, "GET", prefix + doc_id)
    assert status in (400, 404), (status, body[:200])
    assert headers["content-type"].startswith("application/json")
    assert set(json.loads(body)) == {"error"}
    assert not _leaks(body)


@pytest.mark.parametrize("prefix", ["/api/sources/", "/source/"])
@pytest.mark.parametrize("path", [SEED, "sub%20dir/notes.txt", "sub%20dir%2Fnotes.txt"])
def test_indexed_ids_are_served(server, prefix, path):
    """The same routes do serve what is in the index, so the refusals above are not a broken route."""
    status, headers, body = raw(server, "GET", prefix + path)
    assert status == 200, body[:200]
    if prefix == "/api/sources/":
        assert json.loads(body)["id"] in (SEED, NESTED)


# ------------------------------------------------------------------ CORS

PREFLIGHT = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}


@pytest.mark.parametrize("path", ["/api/ask", "/api/sources/" + SEED, "/gradio_api/info", "/source/" + SEED])
@pytest.mark.parametrize("origin", [
    "https://evil.example", "http://allowed.example", "https://allowed.example:8443",
    "https://allowed.example.evil.example", "https://sub.allowed.example", "null", "http://localhost:7860",
    "http://127.0.0.1",
])
def test_cors_unlisted_origin_gets_no_allow_origin(server, path, origin):
    status, headers, _ = raw(server, "OPTIONS", path, headers={"Origin": origin, **PREFLIGHT})
    assert "access-control-allow-origin" not in headers and status >= 400
    status, headers, _ = raw(server, "GET", path, headers={"Origin": origin})
    assert "access-control-allow-origin" not in headers
    if path == "/api/ask":
        body = b'{"question": "When did Japan rule Korea?"}'
        status, headers, _ = raw(server, "POST", path, body, {"Origin": origin, "Content-Type": "application/json"})
        assert "access-control-allow-origin" not in headers


@pytest.mark.parametrize("path", ["/api/ask", "/api/sources/" + SEED])
def test_cors_listed_origin(server, path):
    status, headers, _ = raw(server, "OPTIONS", path, headers={"Origin": ALLOWED, **PREFLIGHT})
    assert status == 200 and headers["access-control-allow-origin"] == ALLOWED
    assert "access-control-allow-credentials" not in headers
    status, headers, _ = raw(server, "GET", "/api/sources/" + SEED, headers={"Origin": ALLOWED})
    assert status == 200 and headers["access-control-allow-origin"] == ALLOWED


def test_cors_preflight_refuses_other_methods_and_headers(server):
    for extra in ({"Access-Control-Request-Method": "DELETE"},
                  {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "x-evil"}):
        status, headers, _ = raw(server, "OPTIONS", "/api/ask", headers={"Origin": ALLOWED, **extra})
        assert status == 400


def test_text_plain_post_is_refused(server):
    """A cross-site form or ``fetch`` with ``text/plain`` skips the preflight; the API refuses it (415)."""
    status, headers, body = raw(server, "POST", "/api/ask", b'{"question": "When did Japan rule Korea?"}',
                                {"Origin": "https://evil.example", "Content-Type": "text/plain"})
    assert status == 415 and "application/json" in json.loads(body)["error"]


# ------------------------------------------------------------------ body size

LIMIT_MSG = "request body is larger than 4096 bytes (limits.max_body_bytes in qa.yaml)"


@pytest.mark.parametrize("path", ["/api/ask", "/gradio_api/queue/join", "/gradio_api/call/ask",
                                  "/gradio_api/run/ask", "/gradio_api/upload", "/api/sources/" + SEED, "/"])
def test_oversized_body_with_length_is_413(server, path):
    body = b'{"question": "' + b"x" * 5000 + b'"}'
    status, headers, out = raw(server, "POST", path, body, {"Content-Type": "application/json"})
    assert status == 413 and json.loads(out) == {"error": LIMIT_MSG}


@pytest.mark.parametrize("path", ["/api/ask", "/gradio_api/queue/join", "/gradio_api/run/ask"])
def test_oversized_chunked_body_is_413(server, path):
    chunks = [b'{"question": "'] + [b"x" * 1000] * 8 + [b'"}']
    status, headers, out = raw(server, "POST", path, headers={"Content-Type": "application/json"}, chunks=chunks)
    assert status == 413 and json.loads(out) == {"error": LIMIT_MSG}


def test_small_chunked_body_is_answered(server):
    chunks = [b'{"question": ', b'"When did Japan ', b'rule Korea?"}']
    status, _, out = raw(server, "POST", "/api/ask", headers={"Content-Type": "application/json"}, chunks=chunks)
    assert status == 200 and json.loads(out)["question"] == "When did Japan rule Korea?"


def test_413_is_readable_by_an_allowed_origin(server):
    """The widget can show the limit message, so the 413 carries the CORS header for listed origins."""
    body = b'{"question": "' + b"x" * 5000 + b'"}'
    status, headers, _ = raw(server, "POST", "/api/ask", body, {"Content-Type": "application/json", "Origin": ALLOWED})
    assert status == 413 and headers.get("access-control-allow-origin") == ALLOWED


def test_bad_content_length_is_400(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.putrequest("POST", "/api/ask")
    conn.putheader("Content-Type", "application/json")
    conn.putheader("Content-Length", "12abc")
    conn.endheaders(b'{"q": 1}')
    r = conn.getresponse()
    assert 400 <= r.status < 500
    conn.close()


@pytest.mark.parametrize("path", ["/gradio_api/file=/etc/passwd", "/gradio_api/file=..%2Fqa.yaml",
                                  "/gradio_api/file=QA_YAML", "/gradio_api/file=SECRET_TXT", "/file=/etc/passwd",
                                  "/gradio_api/file=%2e%2e%2f%2e%2e%2fetc%2fpasswd", "/static/..%2f..%2fqa.yaml",
                                  "/assets/..%2f..%2f..%2fetc%2fpasswd", "/widget.js/..%2f..%2fqa.yaml"])
def test_gradio_file_routes_do_not_serve_files_outside(server, path):
    """Gradio's own file routes are mounted too: they must not hand out the config or system files."""
    tmp = server.app_tmp
    path = path.replace("QA_YAML", str(tmp / "qa.yaml")).replace("SECRET_TXT", str(tmp / "secret.txt"))
    status, _, body = raw(server, "GET", path)
    assert status >= 400 and not _leaks(body), (path, status, body[:200])
