"""The CLI edge: exit codes, one-line errors, JSON output, stdin batch mode."""

import io
import json
import subprocess
import sys

import pytest

from qa import cli

from .conftest import fake_config_file, fake_pipeline


@pytest.fixture
def config_file(tmp_path, monkeypatch):
    return fake_config_file(fake_pipeline(tmp_path), tmp_path, monkeypatch, "abstain_threshold: 0.0\n")


def run(argv, capsys, stdin: str | None = None, monkeypatch=None):
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_ask_json(config_file, capsys):
    code, out, err = run(["--config", str(config_file), "ask", "When did Japan colonize Korea?", "--json"], capsys)
    assert code == 0
    d = json.loads(out)
    assert d["question"] == "When did Japan colonize Korea?" and "citations" in d


def test_ask_text(config_file, capsys):
    code, out, _ = run(["--config", str(config_file), "ask", "When did Japan colonize Korea?"], capsys)
    assert code == 0 and "[1]" in out and "confidence" in out


def test_ask_stdin_one_json_object_per_line(config_file, capsys, monkeypatch):
    questions = "When did Japan colonize Korea?\n\nWhat did Japan export?\nWho is Yoon?\n"
    code, out, _ = run(["--config", str(config_file), "ask", "--json", "-"], capsys, questions, monkeypatch)
    lines = out.strip().splitlines()
    assert code == 0 and len(lines) == 3
    assert [json.loads(x)["question"] for x in lines] == ["When did Japan colonize Korea?",
                                                           "What did Japan export?", "Who is Yoon?"]


def test_a_closed_output_pipe_ends_quietly(config_file, tmp_path, monkeypatch, capsys):
    class ClosedPipe(io.StringIO):  # stdout after `| head -1` has exited
        def __init__(self, fd):
            super().__init__()
            self.fd = fd

        def write(self, s):
            raise BrokenPipeError(32, "Broken pipe")

        def fileno(self):
            return self.fd

    with open(tmp_path / "stdout", "w") as f:
        monkeypatch.setattr(sys, "stdin", io.StringIO("When did Japan colonize Korea?\n" * 3))
        monkeypatch.setattr(sys, "stdout", ClosedPipe(f.fileno()))
        assert cli.main(["--config", str(config_file), "ask", "--json", "-"]) == 141
    assert "Traceback" not in capsys.readouterr().err


def test_index_json_summary(config_file, capsys):
    code, out, _ = run(["--config", str(config_file), "index", "--json"], capsys)
    d = json.loads(out)
    assert code == 0 and d["skipped"] and d["unchanged"] == 3 and d["added"] == 0
    assert {"added", "updated", "removed", "unchanged", "chunks", "seconds"} <= set(d)


@pytest.mark.parametrize("argv, message", [
    (["ask", ""], "question is empty"),
    (["ask", "   "], "question is empty"),
    (["ask", "q", "--top-k", "0"], "--top-k must be between 1 and 100"),
    (["chat", "When?"], "qa chat takes '-' (questions from stdin) or nothing (a prompt)"),
    (["chat", "--json"], "--json reads the questions from stdin: qa chat --json -"),
    (["chat", "-", "--top-k", "101"], "--top-k must be between 1 and 100"),
])
def test_user_mistakes_exit_2_with_one_line(config_file, capsys, argv, message):
    code, out, err = run(["--config", str(config_file), *argv], capsys)
    assert code == 2 and out == ""
    assert err.startswith("qa: error: ") and message in err and err.count("\n") == 1


def test_missing_config_exits_2(tmp_path, capsys):
    code, _, err = run(["--config", str(tmp_path / "missing.yaml"), "ask", "hi"], capsys)
    assert code == 2 and "config file not found" in err and err.count("\n") == 1


def test_missing_index_exits_2_and_says_run_qa_index(tmp_path, capsys):
    cfg = tmp_path / "qa.yaml"
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text("Hello there.")
    cfg.write_text("corpus: docs\nindex: idx\n")
    code, _, err = run(["--config", str(cfg), "ask", "hi"], capsys)
    assert code == 2 and f"run `qa --config {cfg} index`" in err  # the command that fixes it, with its config


def test_serve_on_a_taken_port_exits_2_before_loading_anything(config_file, capsys, monkeypatch):
    import socket

    from qa.pipeline import Pipeline

    monkeypatch.setattr(Pipeline, "ensure_index", lambda *a, **k: pytest.fail("loaded before the port was checked"))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, _, err = run(["--config", str(config_file), "serve", "--port", str(port)], capsys)
    assert code == 2 and err.count("\n") == 1 and f"127.0.0.1:{port}" in err and "--port" in err


@pytest.mark.parametrize("host, url", [("127.0.0.1", "http://127.0.0.1:{port}/"), ("0.0.0.0", "http://127.0.0.1:{port}/"),
                                       ("localhost", "http://localhost:{port}/"), ("::1", "http://[::1]:{port}/")])
def test_browser_url(host, url):
    assert cli.browser_url(host, 7860) == url.format(port=7860)


def test_serve_prints_the_address_to_open_once_it_listens(config_file, capsys, monkeypatch):
    """`qa serve` says which URL to open, when the server is up (not before the model has loaded)."""
    import socket
    import threading

    import qa.serve.api

    def fake_serve(pipeline, host, port, **_):
        assert "open http" not in capsys.readouterr().out  # nothing listens yet: nothing announced
        with socket.socket() as server:
            server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            server.bind((host, port))
            server.listen()
            announcer = next(t for t in threading.enumerate() if t.name == "qa-announce")
            announcer.join(10)

    monkeypatch.setattr(qa.serve.api, "serve", fake_serve)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code, out, _ = run(["--config", str(config_file), "serve", "--port", str(port)], capsys)
    assert code == 0 and f"open http://127.0.0.1:{port}/ in a browser" in out


def test_abstention_text_lists_passages_on_one_line_each(tmp_path, capsys, monkeypatch):
    cfg = fake_config_file(fake_pipeline(tmp_path), tmp_path, monkeypatch, "abstain_threshold: 1.0\n")
    code, out, _ = run(["--config", str(cfg), "ask", "When did Japan colonize Korea?"], capsys)
    related = out.split("Related, but not an answer:\n", 1)[1].rstrip("\n").split("\n")
    assert code == 0 and len(related) == 3 and all(line.startswith("  - ") for line in related)


def test_a_stale_index_answers_from_the_last_good_build_with_a_warning(config_file, capsys, tmp_path):
    (tmp_path / "seeds" / "extra.txt").write_text("More text.")
    code, out, err = run(["--config", str(config_file), "ask", "When did Japan colonize Korea?", "--json"], capsys)
    assert code == 0 and json.loads(out)["citations"]
    assert err.count("\n") == 1 and err.startswith("warning: index was built from a different corpus")
    assert f"until `qa --config {config_file} index` runs" in err


def test_a_touched_file_with_the_same_bytes_is_not_stale(config_file, capsys, tmp_path):
    import os

    for f in (tmp_path / "seeds").iterdir():
        st = f.stat()
        os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    code, out, err = run(["--config", str(config_file), "ask", "When did Japan colonize Korea?"], capsys)
    assert code == 0 and err == ""
    (tmp_path / "seeds" / "000_c6a6f3801ffa9646.txt").write_text("Now other words.")  # same name, new bytes
    code, out, err = run(["--config", str(config_file), "ask", "When did Japan colonize Korea?"], capsys)
    assert code == 0 and "1 file(s) changed, e.g. 000_c6a6f3801ffa9646.txt" in err


def test_console_script_is_installed_and_reports_errors_without_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "qa.cli", "--config", str(tmp_path / "nope.yaml"), "ask", "x"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().startswith("qa: error: config file not found")


def test_ask_text_prints_the_note():
    from qa.answer.answerer import Answer, Citation

    text = "Delegates signed the treaty in Seoul."
    c = Citation("a.txt", "A", 0, len(text), text, 0, len(text), 0.8)
    out = cli._render(Answer("When?", text, False, 0.8, (c,), note="The question asks for a date; none."))
    assert out.splitlines()[:3] == [text, "confidence 80%", "note: The question asks for a date; none."]
    assert "note:" not in cli._render(Answer("When?", text, False, 0.8, (c,)))
    assert "confidence 99%" in cli._render(Answer("When?", text, False, 0.996, (c,)))  # never a rounded-up 100%


@pytest.mark.parametrize("port", ["70000", "-1", "http"])
def test_a_port_out_of_range_is_a_usage_error(port, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["serve", "--port", port])
    assert info.value.code == 2 and "from 0 to 65535" in capsys.readouterr().err


INVADE = "When did North Korea invade South Korea?"
UNDERSTOOD = "When did the invasion of South Korea by North Korea end?"


def test_chat_json_stdin_answers_each_question_in_its_conversation(config_file, capsys, monkeypatch):
    questions = f"{INVADE}\nWhen did it end?\n\nWhen did it end?\n{'x' * 3000}\nWhen did it end?\n"
    code, out, _ = run(["--config", str(config_file), "chat", "--json", "-"], capsys, questions, monkeypatch)
    lines = [json.loads(x) for x in out.strip().splitlines()]
    assert code == 2 and len(lines) == 5  # the over-long line is an error object; the others are answered
    assert [x.get("standalone_question") for x in lines] == [INVADE, UNDERSTOOD, "When did it end?", None,
                                                              "When did it end?"]
    assert lines[1]["question"] == "When did it end?" and "citations" in lines[1]
    assert "limit is 2000" in lines[3]["error"]


def test_chat_at_a_prompt_says_what_a_follow_up_was_understood_as(config_file, capsys, monkeypatch):
    session = f"{INVADE}\nWhen did it end?\n{'x' * 3000}\n/new\nWhen did it end?\n"
    code, out, err = run(["--config", str(config_file), "chat"], capsys, session, monkeypatch)
    assert code == 0  # Ctrl-D (the end of stdin) ends it
    assert out.count("Understood as:") == 1 and f"Understood as: {UNDERSTOOD}\n" in out
    assert "(a new conversation)" in out and out.count("confidence") + out.count("don't answer") == 3
    assert "qa: error: question is 3000 characters long" in err  # said, and the chat goes on
