"""Hostile and odd input on every edge that takes user text: never a traceback, never a 500.

Each input gives either a normal result (an answer or an abstention) or a clear refusal: exit 2 with
one line on the CLI, a 4xx JSON ``{"error": ...}`` over HTTP, a message in the chat. The edges are
listed once (``HTTP_ENDPOINTS``, ``CLI_COMMANDS``) so a new text-taking route -- the claim checker's
``/api/check`` and ``qa check`` -- joins every test here by adding one line.
"""

from __future__ import annotations

import io
import json
import sys

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qa import cli
from qa.serve.api import create_app

from .conftest import fake_config_file, fake_pipeline

# (path, the JSON field holding the user's text, the fields a 200 body must have)
HTTP_ENDPOINTS = [
    pytest.param("/api/ask", "question", {"question", "answer", "abstained", "citations", "passages"}, id="ask"),
]
# (argv before the text, the JSON key echoing the text)
CLI_COMMANDS = [
    pytest.param(["ask"], "question", id="ask"),
]

MAX_CHARS, MAX_BYTES = 2000, 65536  # the defaults in qa.yaml

# id -> (text, None for "answer or abstention" or a substring of the refusal)
TEXTS = {
    "empty": ("", "is empty"),
    "whitespace": (" \t\n\r\u00a0\u3000 ", "is empty"),
    "control-only": ("\x00\x01\x02\x1b\x7f\u200b", "is empty"),
    "nul-inside": ("When did\x00 Japan rule\x00 Korea?", None),
    "ansi-escape": ("\x1b[31mWhen did Japan rule Korea?\x1b[0m", None),
    "japanese": ("日本が韓国を植民地支配したのはいつですか？", None),
    "korean": ("일본은 언제 한국을 식민지로 지배했습니까?", None),
    "arabic": ("متى حكمت اليابان كوريا كمستعمرة؟", None),
    "emoji": ("🇯🇵🇰🇷 When did Japan rule Korea? 🤔👍🏽", None),
    "rtl-override": ("\u202eWhen did Japan rule Korea?\u202c", None),
    "combining-marks": ("W̴̡͔h̸e̷n̶ d̷i̵d̶ J̸a̷p̶a̷n̴ r̵u̵l̶e̷ K̴o̵r̵e̵a̴?", None),
    "html": ('<img src=x onerror="alert(1)"><script>alert(2)</script>', None),
    "json-looking": ('{"question": "When?"}', None),
    "one-char": ("?", None),
    "at-the-limit": ("why " * (MAX_CHARS // 4 - 1) + "why", None),
    "over-the-limit": ("why " * 2500, f"the limit is {MAX_CHARS}"),
    "lone-surrogate": ("caf\udce9?", "not valid Unicode"),
}
TEXT_PARAMS = [pytest.param(text, refusal, id=name) for name, (text, refusal) in TEXTS.items()]


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    return fake_pipeline(tmp_path_factory.mktemp("robust"))


@pytest.fixture(scope="module")
def client(pipeline):
    with TestClient(create_app(pipeline), raise_server_exceptions=False) as c:
        yield c


def post_json(client, path: str, body: bytes, content_type: str | None = "application/json"):
    return client.post(path, content=body, headers={"Content-Type": content_type} if content_type else {})


def check_response(r, fields: set[str]) -> dict:
    """Every reply: 200 with the contract's fields, or 4xx with exactly ``{"error": one line}``."""
    assert r.status_code == 200 or 400 <= r.status_code < 500, (r.status_code, r.text[:300])
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    if r.status_code == 200:
        assert fields <= set(body), body
    else:
        assert set(body) == {"error"} and body["error"] and "\n" not in body["error"], body
        assert "Traceback" not in body["error"]
    return body


# ------------------------------------------------------------------ HTTP: the texts

@pytest.mark.parametrize("path, field, fields", HTTP_ENDPOINTS)
@pytest.mark.parametrize("text, refusal", TEXT_PARAMS)
def test_http_text(client, path, field, fields, text, refusal):
    # json.dumps escapes a lone surrogate as \udce9, which is how a client can send one
    r = post_json(client, path, json.dumps({field: text}).encode())
    body = check_response(r, fields)
    if refusal is None:
        assert r.status_code == 200 and body[field] == text  # echoed exactly as asked
    else:
        assert r.status_code == 400 and refusal in body["error"]


@pytest.mark.parametrize("path, field, fields", HTTP_ENDPOINTS)
def test_http_100k_characters_is_refused(client, path, field, fields):
    r = post_json(client, path, json.dumps({field: "why " * 25_000}).encode())
    assert check_response(r, fields) == {"error": f"request body is larger than {MAX_BYTES} bytes "
                                                  "(limits.max_body_bytes in qa.yaml)"}
    assert r.status_code == 413


@pytest.mark.parametrize("path, field, fields", HTTP_ENDPOINTS)
@pytest.mark.parametrize("body, status, match", [
    (b'{"FIELD": "caf\xe9?"}', 400, "not valid UTF-8"),
    (b"\xff\xfe\x00{", 400, "not valid UTF-8"),
    (b'\xef\xbb\xbf{"FIELD": "When?"}', 400, "not valid JSON"),  # a BOM is not JSON
    (b"[]", 400, "JSON object"),
    (b'["FIELD"]', 400, "JSON object"),
    (b"42", 400, "JSON object"),
    (b"null", 400, "JSON object"),
    (b'"When?"', 400, "JSON object"),
    (b"{}", 400, "missing field 'FIELD'"),
    (b'{"FIELD": 1}', 400, "'FIELD' must be a string"),
    (b'{"FIELD": {"FIELD": "When?"}}', 400, "'FIELD' must be a string"),
    (b'{"FIELD": true}', 400, "'FIELD' must be a string"),
    (b'{"FIELD": "When?", "extra": 1}', 400, "unknown field 'extra'"),
    (b'{"FIELD": "When?", "FIELD": "Who?"}', 200, ""),  # duplicate keys: the last wins, as in JSON.parse
    (b"{'FIELD': 'When?'}", 400, "not valid JSON"),
    (b'{"FIELD": "When?"} trailing', 400, "not valid JSON"),
    (b'{"FIELD": NaN}', 400, "'FIELD' must be a string"),
    (b"\x00" * 100, 400, "not valid JSON"),
])
def test_http_wrong_bodies(client, path, field, fields, body, status, match):
    r = post_json(client, path, body.replace(b"FIELD", field.encode()))
    out = check_response(r, fields)
    assert r.status_code == status
    if status != 200:
        assert match.replace("FIELD", field) in out["error"]


@pytest.mark.parametrize("path, field, fields", HTTP_ENDPOINTS)
@pytest.mark.parametrize("content_type, status", [
    ("application/json", 200),
    ("application/json; charset=utf-8", 200),
    ("Application/JSON; charset=\"UTF-8\"", 200),
    (None, 415),
    ("text/plain", 415),
    ("application/x-www-form-urlencoded", 415),
    ("multipart/form-data; boundary=x", 415),
    ("application/json; charset=latin-1", 415),
    ("application/jsonp", 415),
])
def test_http_content_type(client, path, field, fields, content_type, status):
    r = post_json(client, path, json.dumps({field: "When did Japan rule Korea?"}).encode(), content_type)
    out = check_response(r, fields)
    assert r.status_code == status
    if status == 415:
        assert "Content-Type" in out["error"] or "charset" in out["error"]


# ------------------------------------------------------------------ HTTP: fuzzing

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
                           max_leaves=12)


@pytest.mark.parametrize("path, field, fields", HTTP_ENDPOINTS)
@FUZZ
@given(body=st.binary(max_size=2048))
def test_fuzz_http_raw_bytes(client, path, field, fields, body):
    check_response(post_json(client, path, body), fields)


@pytest.mark.parametrize("path, field, fields", HTTP_ENDPOINTS)
@FUZZ
@given(text=st.text(st.characters(codec=None), max_size=300))
def test_fuzz_http_any_text(client, path, field, fields, text):
    r = post_json(client, path, json.dumps({field: text}).encode())
    body = check_response(r, fields)
    if r.status_code == 200:
        assert body[field] == text


@pytest.mark.parametrize("path, field, fields", HTTP_ENDPOINTS)
@FUZZ
@given(value=json_values)
def test_fuzz_http_any_json(client, path, field, fields, value):
    check_response(post_json(client, path, json.dumps(value).encode()), fields)
    check_response(post_json(client, path, json.dumps({field: value}).encode()), fields)


# ------------------------------------------------------------------ CLI

@pytest.fixture
def config_file(pipeline, tmp_path, monkeypatch):
    return fake_config_file(pipeline, tmp_path, monkeypatch)


@pytest.mark.parametrize("command, key", CLI_COMMANDS)
@pytest.mark.parametrize("text, refusal", TEXT_PARAMS)
def test_cli_argument(config_file, capsys, command, key, text, refusal):
    code = cli.main(["--config", str(config_file), *command, text, "--json"])
    out, err = capsys.readouterr()
    if refusal is None:
        assert code == 0 and err == "" and json.loads(out)[key] == text
    else:
        assert code == 2 and out == ""
        assert err.startswith("qa: error: ") and refusal in err and err.count("\n") == 1


def test_cli_100k_character_argument(config_file, capsys):
    code = cli.main(["--config", str(config_file), "ask", "why " * 25_000])
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and err == ("qa: error: question is 99999 characters long; the limit is 2000 "
                                               "(limits.max_question_chars in qa.yaml)\n")


@pytest.mark.parametrize("command, key", CLI_COMMANDS)
def test_cli_stdin_lines(config_file, capsys, monkeypatch, command, key):
    """One output line per input line: bad lines say why, the good ones are still answered, exit 2."""
    lines = [TEXTS[name][0] for name in ("nul-inside", "japanese", "emoji", "over-the-limit", "control-only")]
    raw = "\n".join(lines).encode("utf-8") + b"\ncaf\xe9 \xff?\r\nWhen did Japan rule Korea?\n"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(raw), encoding="utf-8"))
    code = cli.main(["--config", str(config_file), *command, "--json", "-"])
    out, err = capsys.readouterr()
    rows = [json.loads(x) for x in out.splitlines()]
    assert code == 2 and err == "" and len(rows) == 7
    assert [r[key] for r in rows[:3]] == lines[:3] and all("error" not in r for r in rows[:3])
    assert "the limit is 2000 (limits.max_question_chars" in rows[3]["error"]
    assert "is empty" in rows[4]["error"]
    assert rows[5] == {key: "caf\ufffd \ufffd?",
                       "error": "line 6 of stdin is not valid UTF-8 (byte 3); send UTF-8 text"}
    assert rows[6][key] == "When did Japan rule Korea?" and "error" not in rows[6]


def test_cli_stdin_invalid_utf8_in_text_mode_exits_2(config_file, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"\xff\xfe\n"), encoding="utf-8"))
    code = cli.main(["--config", str(config_file), "ask", "-"])
    out, err = capsys.readouterr()
    assert code == 2 and err == "qa: error: line 1 of stdin is not valid UTF-8 (byte 0); send UTF-8 text\n"


def test_cli_stdin_limit_comes_from_qa_yaml(config_file, capsys, monkeypatch):
    config_file.write_text(config_file.read_text() + "limits: {max_question_chars: 12}\n")
    monkeypatch.setattr(sys, "stdin", io.StringIO("Who is Yoon?\nWho is Yoon Suk Yeol?\n"))
    code = cli.main(["--config", str(config_file), "ask", "--json", "-"])
    rows = [json.loads(x) for x in capsys.readouterr()[0].splitlines()]
    assert code == 2 and "error" not in rows[0] and "the limit is 12" in rows[1]["error"]


# ------------------------------------------------------------------ the Gradio chat

@pytest.mark.parametrize("text, refusal", TEXT_PARAMS)
def test_ui_text(pipeline, text, refusal):
    from qa.serve.ui import build_ui, esc

    respond = next(fn.fn for fn in build_ui(pipeline).fns.values() if getattr(fn, "name", "") == "respond")
    history, state, box, *_ = respond(text, [])
    if not text.strip():
        assert history == [] and box == ""  # nothing to ask
        return
    assert history == state and len(history) == 2 and history[1]["role"] == "assistant"
    json.dumps(history).encode("utf-8")  # everything sent to the browser encodes
    if refusal is None:
        assert history[0]["content"] == esc(text) and box == ""
    else:
        assert refusal in history[1]["content"] and box == text  # kept in the box to edit


# ------------------------------------------------------------------ the real model

@pytest.mark.slow
def test_real_model_over_http(real_seed_pipeline):
    """With the real embedder: every text is an answer, an abstention or a 4xx, never a 500."""
    with TestClient(create_app(real_seed_pipeline, ui=False), raise_server_exceptions=False) as c:
        for name, (text, refusal) in TEXTS.items():
            r = post_json(c, "/api/ask", json.dumps({"question": text}).encode())
            body = check_response(r, {"question", "answer"})
            assert (r.status_code == 200) == (refusal is None), (name, body)
        for name in ("japanese", "korean", "arabic", "emoji", "html"):  # off-topic in English terms
            r = post_json(c, "/api/ask", json.dumps({"question": TEXTS[name][0]}).encode())
            body = r.json()
            assert body["abstained"] or body["citations"][0]["quote"], (name, body)
        ok = post_json(c, "/api/ask", json.dumps({"question": TEXTS["nul-inside"][0]}).encode()).json()
        assert ok["answer"] == "1910 to 1945", ok  # control characters do not change the answer


def test_cli_invalid_utf8_argument_in_a_real_process(tmp_path):
    """Invalid bytes in argv reach Python as lone surrogates: one line, exit 2, before any model loads."""
    import os
    import subprocess
    from pathlib import Path

    (tmp_path / "docs").mkdir()
    (tmp_path / "qa.yaml").write_text("corpus: docs\nindex: idx\n")
    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=str(root))
    proc = subprocess.run([sys.executable.encode(), b"-m", b"qa.cli", b"--config", str(tmp_path / "qa.yaml").encode(),
                           b"ask", b"caf\xe9 \xff?"], capture_output=True, env=env, timeout=120)
    assert proc.returncode == 2 and proc.stdout == b""
    assert proc.stderr == (b"qa: error: question is not valid Unicode (a lone surrogate at character 3); "
                           b"send it as UTF-8 text\n")


# ------------------------------------------------------------------ the claim checker meets the same texts

@pytest.mark.parametrize("text, refusal", TEXT_PARAMS)
def test_http_check_text(client, text, refusal):
    r = post_json(client, "/api/check", json.dumps({"claim": text}).encode())
    body = check_response(r, {"verdicts"})
    if refusal is None:
        assert r.status_code == 200 and body["verdicts"]
        assert all(v["verdict"] in {"supported", "contradicted", "not_found"} for v in body["verdicts"])
    else:
        assert r.status_code == 400 and body["error"]


@pytest.mark.parametrize("body", [b"[]", b"42", b"{}", b'{"claim": 1}', b"\xff\xfe", b'{"claim": "x", "extra": 1}'])
def test_http_check_wrong_shapes(client, body):
    r = post_json(client, "/api/check", body)
    assert r.status_code == 400 and set(check_response(r, set())) == {"error"}


def test_http_check_needs_json(client):
    r = post_json(client, "/api/check", b"claim=x", "application/x-www-form-urlencoded")
    assert r.status_code == 415 and set(r.json()) == {"error"}


@pytest.mark.parametrize("text, refusal", TEXT_PARAMS)
def test_cli_check_argument(config_file, capsys, text, refusal):
    code = cli.main(["--config", str(config_file), "check", text, "--json"])
    out, err = capsys.readouterr()
    if refusal is None:
        assert code == 0 and err == ""
        assert all(json.loads(line)["verdict"] for line in out.splitlines())
    else:
        assert code == 2 and out == ""
        assert err.startswith("qa: error: ") and err.count("\n") == 1
