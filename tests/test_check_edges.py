"""`qa check`, POST /api/check and the "Check a claim" tab: one Pipeline.check behind all three."""

from __future__ import annotations

import html
import io
import json
import re
import sys
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient

from qa import Pipeline, cli
from qa.serve.api import create_app
from qa.serve.ui import build_ui, marked_html, quote_html, verdicts_html

from .conftest import fake_pipeline, make_corpus
from .fakes import FakeEmbedder

CONTRA = "Japan exported $15.1 billion to South Korea in 2021."
SUPPORTED = "Japan exported $51.1 billion to South Korea in 2021."
SEED = "000_c6a6f3801ffa9646.txt"
VERDICT_KEYS = {"claim", "verdict", "confidence", "evidence", "mismatches"}


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    return fake_pipeline(tmp_path_factory.mktemp("check"), limits={"max_question_chars": 300, "max_body_bytes": 2048})


# ------------------------------------------------------------------ CLI

@pytest.fixture
def config_file(tmp_path, monkeypatch):
    p = fake_pipeline(tmp_path)
    cfg = tmp_path / "qa.yaml"
    cfg.write_text(f"corpus: {p.config.corpus}\nindex: {p.config.index}\n")
    original = Pipeline.from_config.__func__
    made = []

    def from_config(cls, config="qa.yaml", embedder=None):
        made.append(config)
        return original(cls, config, embedder=embedder or FakeEmbedder())

    monkeypatch.setattr(Pipeline, "from_config", classmethod(from_config))
    return SimpleNamespace(path=cfg, made=made)


def run(argv, capsys, monkeypatch=None, stdin=None):
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_check_json_is_the_contract(config_file, capsys):
    code, out, err = run(["--config", str(config_file.path), "check", CONTRA, "--json"], capsys)
    assert code == 0, err
    d = json.loads(out)
    assert set(d) == VERDICT_KEYS and d["verdict"] == "contradicted"
    m = d["mismatches"][0]
    assert {"claim_text", "evidence_text", "evidence_start", "evidence_end"} <= set(m)
    assert (m["claim_text"], m["evidence_text"]) == ("$15.1 billion", "$51.1 billion")


def test_check_text_output_and_several_claims(config_file, capsys):
    code, out, _ = run(["--config", str(config_file.path), "check", f"{CONTRA} Bananas are yellow fruit."], capsys)
    assert code == 0
    assert out.startswith("CONTRADICTED") and 'the source says "$51.1 billion"' in out and "NOT FOUND" in out


def test_check_stdin_one_object_per_line_model_loaded_once(config_file, capsys, monkeypatch):
    code, out, _ = run(["--config", str(config_file.path), "check", "--json", "-"], capsys, monkeypatch,
                       stdin=f"{CONTRA}\n\n{SUPPORTED}\nBananas are yellow fruit.\n")
    assert code == 0 and len(config_file.made) == 1
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["verdict"] for r in rows] == ["contradicted", "supported", "not_found"]
    # every object names its input line; a not_found one also says where to look ("related")
    assert [set(r) for r in rows] == [VERDICT_KEYS | {"line"}] * 2 + [VERDICT_KEYS | {"line", "related"}]
    assert [r["line"] for r in rows] == [1, 3, 4]


def test_check_stdin_line_numbers_when_one_line_holds_several_claims(config_file, capsys, monkeypatch):
    code, out, _ = run(["--config", str(config_file.path), "check", "--json", "-"], capsys, monkeypatch,
                       stdin=f"{SUPPORTED} bananas are a yellow fruit.\n{CONTRA}\n")
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [(r["line"], r["verdict"]) for r in rows] == [(1, "supported"), (1, "not_found"), (2, "contradicted")]
    assert rows[1]["claim"] == "bananas are a yellow fruit."


def test_not_found_shows_related_passages_with_offsets(config_file, capsys):
    code, out, _ = run(["--config", str(config_file.path), "check", "--json",
                        "Japanese whalers sailed to Antarctica in the winter."], capsys)
    d = json.loads(out)
    assert code == 0 and d["verdict"] == "not_found" and d["evidence"] == [] and 1 <= len(d["related"]) <= 3
    for r in d["related"]:
        assert {"source", "title", "start", "end", "quote", "score"} <= set(r)
    code, out, _ = run(["--config", str(config_file.path), "check", "Japanese whalers sailed to Antarctica."], capsys)
    assert "NOT FOUND" in out and "related [1]" in out


def test_check_quote_cli(config_file, capsys):
    code, out, _ = run(["--config", str(config_file.path), "check", "--quote", "japan EXPORTED $51.1 billion",
                        "--json"], capsys)
    d = json.loads(out)
    assert code == 0 and d["status"] == "verbatim" and d["source"] == SEED
    code, out, _ = run(["--config", str(config_file.path), "check", "--quote", "Japan shipped $51.1 billion to South Korea",
                        "--source", SEED], capsys)
    assert code == 0 and out.startswith("NOT VERBATIM") and '"shipped" -> "exported"' in out


@pytest.mark.parametrize("argv, message", [
    (["check"], "claim is empty"),
    (["check", "   "], "claim is empty"),
    (["check", "x", "--quote", "y"], "not both"),
    (["check", "x", "--source", SEED], "--source only applies to --quote"),
    (["check", "--quote", " "], "quote is empty"),
    (["check", "--quote", "anything at all", "--source", "nope.txt"], "no document with id 'nope.txt'"),
])
def test_check_user_mistakes_exit_2_with_one_line(config_file, capsys, argv, message):
    code, out, err = run(["--config", str(config_file.path), *argv], capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and message in err and "Traceback" not in err


# ------------------------------------------------------------------ HTTP

@pytest.fixture(scope="module")
def client(pipeline):
    with TestClient(create_app(pipeline), raise_server_exceptions=False) as c:
        yield c


def assert_error(r, status: int, match: str) -> None:
    assert r.status_code == status, r.text
    assert set(r.json()) == {"error"} and match.lower() in r.json()["error"].lower(), r.json()


def test_api_check_returns_the_pipeline_verdicts(client, pipeline):
    r = client.post("/api/check", json={"claim": f"{CONTRA} {SUPPORTED}"})
    assert r.status_code == 200
    body = r.json()
    assert body == {"verdicts": [v.to_dict() for v in pipeline.check_text(f"{CONTRA} {SUPPORTED}")]}
    assert [v["verdict"] for v in body["verdicts"]] == ["contradicted", "supported"]
    e = body["verdicts"][0]["evidence"][0]
    assert client.get(f"/api/sources/{e['source']}").json()["text"][e["start"]:e["end"]] == e["quote"]


def test_api_and_ui_show_related_passages_on_not_found(client, pipeline):
    claim = "Japanese whalers sailed to Antarctica in the winter."
    v, = client.post("/api/check", json={"claim": claim}).json()["verdicts"]
    assert v["verdict"] == "not_found" and v["related"]
    r = v["related"][0]
    assert client.get(f"/api/sources/{r['source']}").json()["text"][r["start"]:r["end"]] == r["quote"]
    out = verdicts_html([v], lambda d: pipeline.source(d)["text"])
    assert "The closest passages" in out and 'class="related"' in out


def test_api_check_quote(client):
    r = client.post("/api/check", json={"quote": "Japan shipped $51.1 billion to South Korea", "source": SEED})
    assert r.status_code == 200
    q = r.json()["quote"]
    assert q["status"] == "differs" and q["source"] == SEED
    assert [(d["quote_text"], d["source_text"]) for d in q["diffs"]] == [("shipped", "exported")]


@pytest.mark.parametrize("body, status, match", [
    (b"", 400, "empty"),
    (b"[1]", 400, "JSON object"),
    (b"{bad", 400, "not valid JSON"),
    (b'{"claim": 3}', 400, "'claim' must be a string"),
    (b'{"claim": "a", "quote": "b"}', 400, "exactly one of"),
    (b'{"claim": "a", "source": "x"}', 400, "only applies to a 'quote'"),
    (b'{"claims": "a"}', 400, "unknown field 'claims'"),
    (b'{"claim": "   "}', 400, "claim is empty"),
    (b'{"quote": "some words", "source": "nope"}', 400, "no document with id 'nope'"),
    (b'{"claim": "' + b"x" * 400 + b'"}', 400, "limit is 300"),
    (b'{"claim": "' + b"x" * 3000 + b'"}', 413, "larger than 2048 bytes"),
    (b"\xff\xfe", 400, "UTF-8"),
])
def test_api_check_refusals(client, body, status, match):
    assert_error(client.post("/api/check", content=body, headers={"content-type": "application/json"}),
                 status, match)


# ------------------------------------------------------------------ UI

MARK = re.compile(r'<mark class="qa-diff">(.*?)</mark>')


def test_marked_html_marks_exact_offsets_and_escapes():
    text = "1950 <b>then</b> 1950 again"
    out = marked_html(text, 0, len(text), [(17, 21)])
    assert MARK.findall(out) == ["1950"] and out.startswith("1950 &lt;b&gt;")
    assert html.unescape(re.sub(r"</?mark[^>]*>", "", out)) == text
    with pytest.raises(ValueError, match="outside"):
        marked_html(text, 0, 5, [(3, 9)])


def test_verdicts_html_highlights_mismatches_by_offsets(pipeline):
    text_of = lambda d: pipeline.source(d)["text"]  # noqa: E731
    vs = [v.to_dict() for v in pipeline.check_text(f"{CONTRA} Bananas are yellow fruit.")]
    out = verdicts_html(vs, text_of)
    assert MARK.findall(out) == ["$15.1 billion", "$51.1 billion"]
    assert "Contradicted" in out and "Not found" in out and "What’s the Story" in out


def test_check_tab_is_xss_safe(tmp_path):
    corpus = make_corpus(tmp_path, {"<i>x</i>.txt": "Zorblax festival <img src=x onerror=alert(1)> was first "
                                                    "held in 1999 <script>alert(2)</script> in Osaka.\n"})
    p = fake_pipeline(tmp_path, corpus=corpus)
    text_of = lambda d: p.source(d)["text"]  # noqa: E731
    claim = "The Zorblax festival <img src=x onerror=alert(1)> was first held in 1997 <script>alert(2)</script> in Osaka."
    vs = [v.to_dict() for v in p.check_text(claim)]
    assert vs[0]["verdict"] == "contradicted"
    q = p.check_quote("zorblax festival <img src=y> was first held").to_dict()
    for out in (verdicts_html(vs, text_of), quote_html(q, text_of)):
        assert "<img" not in out and "<script" not in out and "<i>" not in out
    assert MARK.findall(verdicts_html(vs, text_of)) == ["1997", "1999"]


def test_check_tab_runs_through_the_pipeline(pipeline):
    demo = build_ui(pipeline)
    fn = next(f.fn for f in demo.fns.values() if getattr(f, "name", "") == "run_check")
    out = fn(CONTRA, "Check claims", "")
    assert "Contradicted" in out and "$51.1 billion</mark>" in out
    out = fn("Japan shipped $51.1 billion to South Korea", "Verify a quote", SEED)
    assert "Not verbatim" in out and '<mark class="qa-ins">exported</mark>' in out
    assert "Type a claim" in fn("  ", "Check claims", "")
    assert "limit is" in fn("x" * 400, "Check claims", "")
