"""What a hostile filesystem does to `qa index`, `qa ask` and `qa serve`: a symlink loop, a read-only
index folder, a full disk. Each is one line on stderr and exit 2 (or a warning), never a traceback,
and the previous index stays live and answers.

The injected failures run everywhere; the real ones (a 256 KB tmpfs, a read-only remount) run in a
private mount namespace (``unshare``) and are skipped where the system does not allow one.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from qa import cli
from qa.index import build, files
from qa.index.store import live_path

from .conftest import ROOT, fake_config_file, fake_pipeline, make_corpus

QUESTION = "When did the zorblax festival start?"
CORPUS = {"a.txt": "The zorblax festival started in 1999 in Osaka. It moved to Kobe in 2004.\n"}


@pytest.fixture
def setup(tmp_path, monkeypatch):
    p = fake_pipeline(tmp_path, make_corpus(tmp_path, CORPUS), abstain_threshold=0.0)
    return p, fake_config_file(p, tmp_path, monkeypatch)


def run(argv, capsys) -> tuple[int, str, str]:
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_a_symlink_loop_added_to_an_indexed_corpus_does_not_stop_ask(setup, capsys):
    p, cfg = setup
    os.symlink("self.txt", p.config.corpus / "self.txt")
    code, out, err = run(["--config", str(cfg), "ask", QUESTION], capsys)
    assert code == 0 and "1999" in out and "Traceback" not in err
    code, out, err = run(["--config", str(cfg), "index"], capsys)
    assert code == 0 and "up to date" in out and err == ""  # a loop is no document: nothing changed
    code, out, err = run(["--config", str(cfg), "index", "--rebuild"], capsys)
    assert code == 0 and err == "warning: self.txt: skipped, it is a symlink loop (it points back to itself); " \
                                "remove the link\n"


def _read_only_lock(monkeypatch):
    real_open = open

    def fake_open(path, *args, **kwargs):  # root may write anywhere: simulate a read-only folder's refusal
        if Path(path).name == files.LOCK:
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(files, "open", fake_open, raising=False)


def test_a_read_only_index_folder_is_up_to_date_or_one_line_and_still_answers(setup, capsys, monkeypatch):
    p, cfg = setup
    _read_only_lock(monkeypatch)
    code, out, err = run(["--config", str(cfg), "index", "--json"], capsys)
    assert code == 0 and json.loads(out)["skipped"] and err == ""
    (p.config.corpus / "b.txt").write_text("The quibbit bridge opened in 1966.")
    code, out, err = run(["--config", str(cfg), "index"], capsys)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err.startswith(f"qa: error: cannot write the index in {p.config.index} (Read-only file system): ")
    assert "the previous index, if any, is still the one served" in err
    code, out, err = run(["--config", str(cfg), "ask", QUESTION], capsys)
    assert code == 0 and "1999" in out and err.startswith("warning: index was built from a different corpus")


@pytest.mark.parametrize("failure", ["enospc", "numpy_short_write", "faiss"])
def test_a_full_disk_is_one_line_and_the_previous_index_stays_live(setup, capsys, monkeypatch, failure):
    p, cfg = setup
    live = live_path(p.config.index)
    if failure == "enospc":
        def fail(*a, **k):
            raise OSError(errno.ENOSPC, "No space left on device")
        monkeypatch.setattr(build.np, "save", fail)
    elif failure == "numpy_short_write":  # numpy's own words for a write cut short, with no errno
        def fail(*a, **k):
            raise OSError("652800 requested and 60384 written")
        monkeypatch.setattr(build.np, "save", fail)
        monkeypatch.setattr(files.shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(1 << 30, 1 << 30, 4096))
    else:  # faiss raises a RuntimeError that names the system's error at its end
        import faiss

        def fail(index, path):
            raise RuntimeError(f"Error in void faiss::write_index(const Index*, IOWriter*, int) at index_write.cpp:"
                               f"499: Error: 'ret == (size * 4)' failed: write error in {path}: 204755 != 512000 "
                               "(No space left on device)")
        monkeypatch.setattr(faiss, "write_index", fail)
    (p.config.corpus / "b.txt").write_text("The quibbit bridge opened in 1966.")
    code, out, err = run(["--config", str(cfg), "index"], capsys)
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert "no space left on" in err.lower()
    assert live_path(p.config.index) == live  # still the previous build, and nothing half-written is left
    assert sorted(x.name for x in p.config.index.iterdir()) == sorted([files.CURRENT, files.LOCK, live.name])
    code, out, err = run(["--config", str(cfg), "ask", QUESTION], capsys)
    assert code == 0 and "1999" in out


def test_serve_keeps_the_last_good_build_when_the_update_cannot_be_written(setup, monkeypatch):
    p, _ = setup
    from qa.pipeline import Pipeline

    (p.config.corpus / "b.txt").write_text("The quibbit bridge opened in 1966.")
    _read_only_lock(monkeypatch)
    warnings: list[str] = []
    fresh = Pipeline(p.config, embedder=p.embedder)
    assert fresh.ensure_index(progress=False, warn=warnings.append) is None
    assert fresh.stale and "different corpus" in fresh.stale
    assert len(warnings) == 1 and "(Read-only file system)" in warnings[0] and "serving the last good build" in warnings[0]
    assert "1999" in fresh.ask(QUESTION).answer


# ------------------------------------------------------------------ the real thing, in a private mount namespace

DRIVER = textwrap.dedent("""
    import contextlib, io, json, subprocess, sys
    from pathlib import Path
    sys.path.insert(0, {root!r})
    from qa import cli
    from qa.pipeline import Pipeline
    from tests.fakes import FakeEmbedder

    original = Pipeline.from_config.__func__
    Pipeline.from_config = classmethod(lambda cls, c="qa.yaml", embedder=None: original(cls, c, embedder=FakeEmbedder()))
    cfg, index, corpus = {cfg!r}, Path({index!r}), Path({corpus!r})

    def qa(*argv):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli.main(["--config", cfg, *argv])
        return [code, out.getvalue(), err.getvalue()]

    def sh(command):
        subprocess.run(command, shell=True, check=True)

    steps = {{}}
    sh(f"mount -t tmpfs -o size=256k tmpfs {{index}}")
    steps["first"] = qa("index")
    (corpus / "big.txt").write_text(" ".join(f"Ledger line {{i}} records {{i * 7}} crates." for i in range(20000)))
    steps["full"] = qa("index")
    steps["ask_full"] = qa("ask", "When did the zorblax festival start?")
    steps["left"] = sorted(p.name for p in index.iterdir())
    (corpus / "big.txt").unlink()
    sh(f"mount -o remount,ro {{index}}")
    steps["read_only_unchanged"] = qa("index")
    (corpus / "b.txt").write_text("The quibbit bridge opened in 1966.")
    steps["read_only_changed"] = qa("index")
    steps["ask_read_only"] = qa("ask", "When did the zorblax festival start?")
    print(json.dumps(steps))
""")


def test_a_real_full_disk_and_a_real_read_only_folder(tmp_path):
    unshare = shutil.which("unshare")
    if unshare is None or subprocess.run([unshare, "-rm", "true"], capture_output=True).returncode != 0:
        pytest.skip("no private mount namespace here (unshare -rm)")
    corpus = make_corpus(tmp_path, CORPUS)
    index = tmp_path / "index"
    index.mkdir()
    cfg = tmp_path / "qa.yaml"
    cfg.write_text(f"corpus: {corpus}\nindex: {index}\nreader: false\nabstain_threshold: 0.0\n")
    script = DRIVER.format(root=str(ROOT), cfg=str(cfg), index=str(index), corpus=str(corpus))
    proc = subprocess.run([unshare, "-rm", sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300, cwd=ROOT, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    steps = json.loads(proc.stdout.strip().splitlines()[-1])
    assert steps["first"][0] == 0
    code, out, err = steps["full"]
    assert code == 2 and err.count("\n") == 1 and "(No space left on device)" in err and "Traceback" not in err
    assert steps["ask_full"][0] == 0 and "1999" in steps["ask_full"][1]
    assert len([n for n in steps["left"] if n.startswith("build-")]) == 1 and not [
        n for n in steps["left"] if n.startswith(".tmp")]
    assert steps["read_only_unchanged"][0] == 0 and "up to date" in steps["read_only_unchanged"][1]
    code, out, err = steps["read_only_changed"]
    assert code == 2 and err.count("\n") == 1 and "(Read-only file system)" in err
    code, out, err = steps["ask_read_only"]
    assert code == 0 and "1999" in out and err.startswith("warning: index was built from a different corpus")
