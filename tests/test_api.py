"""The HTTP API: every route, every refusal, CORS, and ids that try to leave the index."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from qa.serve.api import ApiError, create_app, parse_ask, render_source

from .conftest import fake_pipeline

ALLOWED = "https://allowed.example"
REFUSED = "https://evil.example"
SEED = "000_c6a6f3801ffa9646.txt"
EXPORT_Q = "How much did Japan export to South Korea in 2021?"


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    return fake_pipeline(tmp_path_factory.mktemp("api"), cors_origins=[ALLOWED],
                         limits={"max_question_chars": 200, "max_body_bytes": 2048})


@pytest.fixture(scope="module")
def client(pipeline):
    with TestClient(create_app(pipeline), raise_server_exceptions=False) as c:
        yield c


def assert_error(r, status: int, match: str = "") -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"error"} and match.lower() in body["error"].lower(), body
    assert "Traceback" not in r.text


# ------------------------------------------------------------------ /api/ask

def test_ask_returns_exactly_answer_to_dict(client, pipeline):
    r = client.post("/api/ask", json={"question": EXPORT_Q})
    assert r.status_code == 200
    assert r.json() == pipeline.ask(EXPORT_Q).to_dict()
    body = r.json()
    assert body["answer"] == "$51.1 billion" and not body["abstained"]
    c = body["citations"][0]
    text = client.get(f"/api/sources/{c['source']}").json()["text"]
    assert text[c["start"]:c["end"]] == c["quote"]
    assert text[c["answer_start"]:c["answer_end"]] == body["answer"]


def test_ask_passes_the_note_through(client, pipeline):
    q = "Where do students study?"  # a place question whose best sentence names no place
    r = client.post("/api/ask", json={"question": q})
    assert r.json() == pipeline.ask(q).to_dict()
    assert r.json()["note"] == "No place in this passage fits the question, so the whole sentence is shown."


def test_a_question_cleaned_of_extra_spaces_keeps_its_note_and_explanation(client, pipeline):
    q = "  Where do   students study? "  # asked with stray spaces: answered as the cleaned question
    a, clean = pipeline.ask(q), pipeline.ask("Where do students study?")
    assert a.question == q and a.note == clean.note and a.explain == clean.explain
    body = client.post("/api/ask", json={"question": q}).json()
    assert body["question"] == q and body["note"] == clean.note


def test_ask_abstention_is_200(client):
    r = client.post("/api/ask", json={"question": "What is the capital of Mars?"})
    assert r.status_code == 200
    body = r.json()
    assert body["abstained"] is True and body["answer"] is None and body["citations"] == []
    assert body["reason"] and body["passages"]


def test_ask_top_k(client):
    r = client.post("/api/ask", json={"question": EXPORT_Q, "top_k": 2})
    assert r.status_code == 200 and len(r.json()["passages"]) <= 2
    assert client.post("/api/ask", json={"question": EXPORT_Q, "top_k": None}).status_code == 200


@pytest.mark.parametrize("body, match", [
    (b"{not json", "not valid JSON"),
    (b"", "empty"),
    (b"[1, 2]", "JSON object"),
    (b'"a question"', "JSON object"),
    (b"{}", "missing field 'question'"),
    (b'{"question": 42}', "'question' must be a string"),
    (b'{"question": null}', "'question' must be a string"),
    (b'{"question": ["a"]}', "'question' must be a string"),
    (b'{"question": "When?", "top_k": "3"}', "'top_k' must be an integer"),
    (b'{"question": "When?", "top_k": 2.5}', "'top_k' must be an integer"),
    (b'{"question": "When?", "top_k": true}', "'top_k' must be an integer"),
    (b'{"question": "When?", "top_k": 0}', "top_k must be an integer between 1 and 100"),
    (b'{"question": "When?", "top_k": 1000}', "top_k must be an integer between 1 and 100"),
    (b'{"question": "When?", "topk": 3}', "unknown field 'topk'"),
    (b'{"question": "   "}', "question is empty"),
    (b'{"question": "\\u0000\\u0001"}', "question is empty"),
    (json.dumps({"question": "why " * 60}).encode(), "limit is 200"),
    (b"[" * 2000, "not valid JSON"),
    (b'{"question": "caf\xe9?"}', "not valid UTF-8"),
    (b'\xff\xfe{"question": "x"}', "not valid UTF-8"),
])
def test_ask_bad_requests_are_400(client, body, match):
    r = client.post("/api/ask", content=body, headers={"Content-Type": "application/json"})
    assert_error(r, 400, match)


def test_ask_with_a_history_answers_the_follow_up_as_the_question_it_stands_for(client, pipeline):
    history = [{"question": "When did North Korea invade South Korea?", "answer": "June 1950"}]
    r = client.post("/api/ask", json={"question": "When did it end?", "history": history})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body == pipeline.ask("When did it end?", history=history).to_dict()
    assert body["question"] == "When did it end?"
    assert body["standalone_question"] == "When did the invasion of South Korea by North Korea end?"
    # stateless: the same follow-up without its history is asked as it is, and says nothing of a conversation
    alone = client.post("/api/ask", json={"question": "When did it end?"}).json()
    assert "standalone_question" not in alone
    empty = client.post("/api/ask", json={"question": EXPORT_Q, "history": []}).json()
    assert empty["standalone_question"] == EXPORT_Q
    assert client.post("/api/ask", json={"question": EXPORT_Q, "history": None}).json() == pipeline.ask(EXPORT_Q).to_dict()


@pytest.mark.parametrize("history, status, match", [
    ("June 1950", 400, "'history' must be an array of earlier turns, got a string"),
    ({"question": "When?"}, 400, "'history' must be an array of earlier turns, got an object"),
    (["When?"], 400, "'history[0]' must be an object like"),
    ([{"question": "When?", "answer": None}, {"answer": "1965"}], 400, "'history[1]' is missing 'question'"),
    ([{"question": None, "answer": None}], 400, "'history[0].question' must be a string, got null"),
    ([{"question": "When?", "answer": 1965}], 400, "'history[0].answer' must be a string or null, got an integer"),
    ([{"question": "When?", "answer": None, "source": "x"}], 400, "'history[0]' has an unknown field 'source'"),
    ([{"question": "   ", "answer": None}], 400, "history[0].question is empty"),
    ([{"question": "When?", "answer": "y" * 201}], 400, "history[0].answer is 201 characters long; the limit is 200"),
    ([{"question": "When?", "answer": None}] * 21, 400, "history has 21 turns; the limit is 20"),
])
def test_a_bad_history_is_400_naming_the_field(client, history, status, match):
    assert_error(client.post("/api/ask", json={"question": "When did it end?", "history": history}), status, match)


def test_deeply_nested_json_is_400():
    """Nesting deeper than Python's recursion limit is refused, not a 500 (the route calls parse_ask)."""
    depth = 100_000
    with pytest.raises(ApiError, match="nested too deeply") as exc:
        parse_ask(b"[" * depth + b"]" * depth)
    assert exc.value.status == 400


def test_oversized_body_is_413(client):
    body = json.dumps({"question": "x" * 4000}).encode()
    assert_error(client.post("/api/ask", content=body, headers={"Content-Type": "application/json"}), 413,
                 "larger than 2048 bytes")


def test_oversized_chunked_body_is_413(client):
    def chunks():  # no Content-Length: the limit is enforced while reading
        yield b'{"question": "'
        for _ in range(100):
            yield b"x" * 100
        yield b'"}'
    r = client.post("/api/ask", content=chunks(), headers={"Content-Type": "application/json"})
    assert_error(r, 413, "larger than")


def test_lying_content_length_is_refused(client):
    r = client.post("/api/ask", content=b'{"question": "When?"}', headers={"Content-Length": "nope"})
    assert 400 <= r.status_code < 500


def test_wrong_method_is_405_naming_the_right_one(client):
    r = client.get("/api/ask")
    assert r.status_code == 405 and r.headers["allow"] == "POST"
    assert r.json() == {"error": "GET is not allowed on /api/ask; use POST"}
    r = client.post("/api/health")
    assert r.status_code == 405 and "GET" in r.headers["allow"]
    assert client.delete(f"/api/sources/{SEED}").status_code == 405
    assert client.get("/api/nothing-here").status_code == 404


# ------------------------------------------------------------------ /api/sources and /source

def test_source_by_id(client, pipeline):
    r = client.get(f"/api/sources/{SEED}")
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"id", "title", "text", "meta"}
    assert body == pipeline.source(SEED)


@pytest.mark.parametrize("path", [
    "/api/sources/nope.txt",
    "/api/sources/..",
    "/api/sources/../qa.yaml",
    "/api/sources/..%2F..%2Fqa.yaml",
    "/api/sources/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "/api/sources/%252e%252e%252f%252e%252e%252fetc%252fpasswd",
    "/api/sources/%2Fetc%2Fpasswd",
    "/api/sources//etc/passwd",
    "/api/sources/seeds/" + SEED,
    "/api/sources/" + SEED.upper(),
    "/api/sources/sources.yaml",
    "/api/sources/%00",
    "/source/..%2F..%2Fqa.yaml",
    "/source/%252e%252e%252fqa.yaml",
])
def test_unknown_and_traversal_ids_are_404(client, path):
    r = client.get(path)
    assert r.status_code in (400, 404), (path, r.status_code, r.text[:200])
    assert "error" in r.json()
    assert "root:" not in r.text and "corpus:" not in r.text


def test_raw_traversal_path_is_404(pipeline):
    """Send the path bytes as-is (no client-side normalisation of ``..``)."""
    import asyncio

    app = create_app(pipeline, ui=False)
    for raw in (b"/api/sources/../../etc/passwd", b"/api/sources/..%2f..%2fetc%2fpasswd"):
        sent = []

        async def receive():
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message):
            sent.append(message)

        path = raw.decode().replace("%2f", "/")
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
                 "scheme": "http", "path": path, "raw_path": raw, "query_string": b"", "headers": [],
                 "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80), "root_path": ""}
        asyncio.run(app(scope, receive, send))
        assert sent[0]["status"] == 404
        assert json.loads(sent[1]["body"])["error"].startswith("no document")


def test_source_page_highlights_by_offsets(client, pipeline):
    a = pipeline.ask(EXPORT_Q).citations[0]
    r = client.get(f"/source/{a.source}", params={"start": a.start, "end": a.end, "answer_start": a.answer_start,
                                                  "answer_end": a.answer_end})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert '<mark id="hl">$51.1 billion</mark>' in r.text
    assert "script-src" not in r.headers["content-security-policy"]  # no script may run on it
    assert "<script" not in r.text


def test_source_page_bad_offsets(client):
    assert client.get(f"/source/{SEED}", params={"start": 10**9, "end": 10**9 + 5}).status_code == 200
    assert_error(client.get(f"/source/{SEED}", params={"start": "x"}), 422, "start")
    assert_error(client.get(f"/source/{SEED}", params={"start": -1}), 422, "start")


def test_render_source_escapes():
    doc = {"id": "x.txt", "title": "<b>t</b>", "text": "a <script>alert(1)</script> b",
           "meta": {"url": "javascript:alert(1)", "author": '"><img src=x onerror=alert(1)>'}}
    page = render_source(doc, 2, 27, 2, 10)
    assert "<script>" not in page and "javascript:" not in page and "<img" not in page
    assert '<mark id="hl">&lt;script&gt;</mark>' in page


# ------------------------------------------------------------------ health, widget, docs, UI

def test_health(client):
    r = client.get("/api/health")
    assert r.status_code == 200 and r.json() == {"status": "ok", "documents": 3}


def test_health_without_index_is_503(tmp_path):
    from qa import Pipeline
    from qa.config import config_from_dict

    from .fakes import FakeEmbedder

    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "a.txt").write_text("Some text.")
    p = Pipeline(config_from_dict({"corpus": str(tmp_path / "c"), "index": str(tmp_path / "i")}),
                 embedder=FakeEmbedder())
    with TestClient(create_app(p, ui=False), raise_server_exceptions=False) as c:
        assert_error(c.get("/api/health"), 503, "")
        assert_error(c.post("/api/ask", json={"question": "What?"}), 503, "")


def test_unknown_api_route_is_json_404(client):
    assert_error(client.get("/api/nothing/here"), 404, "no API route")
    assert_error(client.post("/api/other", json={}), 404, "no API route")


def test_widget_js(client):
    r = client.get("/widget.js")
    assert r.status_code == 200 and "javascript" in r.headers["content-type"]
    assert "attachShadow" in r.text and "innerHTML" not in r.text.split("*/", 1)[1]
    # the ask box's limit is this server's limits.max_question_chars (200 here), not the file's 2000
    assert "var MAX_CHARS = 200;" in r.text and "input.maxLength = MAX_CHARS;" in r.text
    assert "var MAX_TURNS = 20;" in r.text  # and it sends at most limits.max_history_turns earlier turns


def test_openapi_docs(client):
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "cdn" not in docs.text.lower()  # served offline: assets come from this server
    for src in __import__("re").findall(r'(?:src|href)="(/[^"]+)"', docs.text):
        assert client.get(src).status_code == 200, src
    spec = client.get("/openapi.json").json()
    assert {"/api/ask", "/api/sources/{doc_id}", "/api/health"} <= set(spec["paths"])
    schema = spec["paths"]["/api/ask"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert {"question", "top_k", "history"} <= set(schema["properties"])


def test_gradio_ui_is_mounted_at_root(client):
    r = client.get("/")
    assert r.status_code == 200 and "<html" in r.text.lower()
    assert client.get("/gradio_api/info").status_code == 200


HEAD_PATHS = ["/", "/widget.js", "/api/health", f"/source/{SEED}?start=0&end=40", f"/api/sources/{SEED}", "/docs"]


@pytest.mark.parametrize("path", HEAD_PATHS)
def test_head_is_answered_as_get_without_a_body(client, path):
    """Uptime monitors and link checkers send HEAD: the GET's status and headers, no body."""
    get, head = client.get(path), client.head(path)
    assert get.status_code == head.status_code == 200, (path, head.status_code, head.text[:200])
    assert head.content == b""
    assert head.headers["content-type"] == get.headers["content-type"]
    assert head.headers["content-length"] == str(len(get.content))


def test_head_on_what_get_refuses_is_refused_alike(client):
    assert client.head("/api/nothing/here").status_code == 404
    r = client.head("/api/ask")
    assert r.status_code == 405 and r.headers["allow"] == "POST" and r.content == b""
    assert client.head("/source/no-such-doc.txt").status_code == 404


def test_head_over_a_real_socket_sends_no_body(pipeline):
    """uvicorn writes exactly the headers: a following request on the same connection is read cleanly."""
    import socket

    from .live import Served, free_port

    served = Served(create_app(pipeline, ui=False), free_port())
    try:
        with socket.create_connection(("127.0.0.1", served.port), timeout=10) as s:
            s.sendall(b"HEAD /widget.js HTTP/1.1\r\nHost: x\r\n\r\nGET /api/health HTTP/1.1\r\nHost: x\r\n"
                      b"Connection: close\r\n\r\n")
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200") and b"content-length: " in head.lower()
        assert rest.startswith(b"HTTP/1.1 200")  # the HEAD sent no body before the next answer
        assert rest.endswith(b'{"status":"ok","documents":3}')
    finally:
        served.close()


def test_internal_errors_are_json_500_without_traceback(pipeline, monkeypatch):
    app = create_app(pipeline, ui=False)

    def boom(*a, **k):
        raise RuntimeError("secret detail")
    monkeypatch.setattr(pipeline, "ask", boom)
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.post("/api/ask", json={"question": "When?"})
    assert r.status_code == 500 and r.json() == {"error": "internal error; the server log has the details"}


# ------------------------------------------------------------------ CORS

def test_cors_allowed_origin(client):
    pre = client.options("/api/ask", headers={"Origin": ALLOWED, "Access-Control-Request-Method": "POST",
                                              "Access-Control-Request-Headers": "content-type"})
    assert pre.status_code == 200 and pre.headers["access-control-allow-origin"] == ALLOWED
    r = client.post("/api/ask", json={"question": EXPORT_Q}, headers={"Origin": ALLOWED})
    assert r.headers["access-control-allow-origin"] == ALLOWED


def test_cors_refused_origin(client):
    pre = client.options("/api/ask", headers={"Origin": REFUSED, "Access-Control-Request-Method": "POST",
                                              "Access-Control-Request-Headers": "content-type"})
    assert pre.status_code == 400 and "access-control-allow-origin" not in pre.headers
    r = client.post("/api/ask", json={"question": EXPORT_Q}, headers={"Origin": REFUSED})
    assert "access-control-allow-origin" not in r.headers
    # Gradio's own routes follow the same policy (it must not add its localhost-friendly headers)
    g = client.get("/gradio_api/info", headers={"Origin": "http://localhost:9999"})
    assert "access-control-allow-origin" not in g.headers


def test_no_cors_origins_means_same_origin_only(tmp_path):
    p = fake_pipeline(tmp_path)
    with TestClient(create_app(p, ui=False)) as c:
        for origin in (ALLOWED, "http://localhost:7860", "null"):
            r = c.post("/api/ask", json={"question": EXPORT_Q}, headers={"Origin": origin})
            assert r.status_code == 200 and "access-control-allow-origin" not in r.headers
