"""Broken index state is detected with a message that says how to fix it, never served as a wrong answer;
a build killed (SIGKILL) at any point leaves the previous index loadable."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from qa import Pipeline, cli
from qa.errors import CorruptIndexError, IndexMissingError, StaleIndexError
from qa.index.files import checksums
from qa.index.store import live_path, load_index

from .conftest import ROOT, fake_pipeline, make_corpus
from .fakes import FakeEmbedder

QUESTION = "When was the zorblax festival first held?"
CORPUS = {"zorblax.txt": "The zorblax festival was first held in 1999 in Osaka. Later it moved to Kobe.",
          "plums.txt": "The quarnix ledger lists crates of plums. Plums are purple."}


def build_files(tmp_path) -> list[str]:
    return sorted(checksums(live_path(fake_pipeline(tmp_path / "probe", make_corpus(tmp_path / "probe", CORPUS))
                                      .config.index)))


# ------------------------------------------------------------------ damaged files

@pytest.mark.parametrize("damage", ["truncate", "flip", "delete"])
def test_every_damaged_build_file_is_detected_and_a_rebuild_repairs_it(tmp_path, damage):
    files = build_files(tmp_path)
    assert {"texts.json", "chunks.json", "vectors.npy", "sentences.npz", "sentences.faiss"} <= set(files)
    assert any(f.startswith("bm25-chunks/") for f in files) and any(f.startswith("bm25-sentences/") for f in files)
    for i, name in enumerate(files):
        p = fake_pipeline(tmp_path / str(i), make_corpus(tmp_path / str(i), CORPUS))
        target = live_path(p.config.index) / name
        data = target.read_bytes()
        if damage == "truncate":
            target.write_bytes(data[: len(data) // 2])
        elif damage == "flip":  # same size, one byte different: only a checksum can tell
            k = len(data) // 2
            target.write_bytes(data[:k] + bytes([data[k] ^ 0x01]) + data[k + 1:])
        else:
            target.unlink()
        with pytest.raises(CorruptIndexError, match=rf"{name.split('/')[-1]} .*run `qa index --rebuild`"):
            load_index(p.config)
        fresh = Pipeline(p.config, embedder=FakeEmbedder())
        with pytest.raises(CorruptIndexError):
            fresh.ask(QUESTION)
        report = fresh.build_index(rebuild=True, progress=False)
        assert not report.skipped and not fresh.ask(QUESTION).abstained


def test_same_length_edit_of_a_document_text_is_not_served(tmp_path):
    p = fake_pipeline(tmp_path, make_corpus(tmp_path, CORPUS))
    texts = live_path(p.config.index) / "texts.json"
    texts.write_text(texts.read_text(encoding="utf-8").replace("1999", "2099"), encoding="utf-8")
    with pytest.raises(CorruptIndexError, match=r"damaged \(texts.json changed since the index was built\): run `qa index --rebuild`"):
        Pipeline(p.config, embedder=FakeEmbedder()).ask(QUESTION)


def test_an_extra_file_in_the_build_is_reported(tmp_path):
    p = fake_pipeline(tmp_path, make_corpus(tmp_path, CORPUS))
    (live_path(p.config.index) / "stray.bin").write_bytes(b"x")
    with pytest.raises(CorruptIndexError, match="stray.bin is not in the manifest"):
        load_index(p.config)


def test_manifest_from_another_model_says_run_qa_index(tmp_path, capsys, monkeypatch):
    p = fake_pipeline(tmp_path, make_corpus(tmp_path, CORPUS))
    manifest_path = live_path(p.config.index) / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["settings"]["model"] = manifest["model"] = "some-other-model"
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(StaleIndexError, match=r"different model \('some-other-model' -> .*run `qa index`"):
        load_index(p.config)
    cfg = tmp_path / "qa.yaml"
    cfg.write_text(f"corpus: {p.config.corpus}\nindex: {p.config.index}\n")
    monkeypatch.setattr(Pipeline, "from_config", classmethod(lambda cls, c, embedder=None: Pipeline(
        p.config, embedder=FakeEmbedder())))
    assert cli.main(["--config", str(cfg), "ask", QUESTION]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "different model" in err and "run `qa index`" in err
    # `qa index` rebuilds from scratch: vectors of another model are never reused
    emb = FakeEmbedder()
    report = Pipeline(p.config, embedder=emb).build_index(progress=False)
    assert report.embedded == emb.embedded > 0


def test_a_model_with_other_dimensions_under_the_same_name_is_refused(tmp_path):
    p = fake_pipeline(tmp_path, make_corpus(tmp_path, CORPUS))
    other = Pipeline(p.config, embedder=FakeEmbedder(dimension=32))
    with pytest.raises(StaleIndexError, match=r"64-dimensional vectors but the model .* gives 32: run `qa index --rebuild`"):
        other.ask(QUESTION)
    (p.config.corpus / "new.txt").write_text("A new document arrives.")
    with pytest.raises(CorruptIndexError, match=r"holds 64-dimensional vectors .* gives 32: run `qa index --rebuild`"):
        other.build_index(progress=False)
    other.build_index(rebuild=True, progress=False)
    assert not other.ask(QUESTION).abstained


def test_missing_index_folder_says_run_qa_index_and_serve_builds_it(tmp_path):
    import shutil

    p = fake_pipeline(tmp_path, make_corpus(tmp_path, CORPUS))
    shutil.rmtree(p.config.index)
    fresh = Pipeline(p.config, embedder=FakeEmbedder())
    with pytest.raises(IndexMissingError, match=r"no index in .*: run `qa index` to build it"):
        fresh.ask(QUESTION)
    report = fresh.ensure_index(progress=False)  # what `qa serve` does
    assert report is not None and report.added == 2 and not fresh.ask(QUESTION).abstained


def test_leftovers_of_killed_builds_are_cleaned_by_the_next_build_but_not_running_ones(tmp_path):
    p = fake_pipeline(tmp_path, make_corpus(tmp_path, CORPUS))
    idx = p.config.index
    dead = 2 ** 22 + 12345  # above the default pid_max: no such process
    running = os.getppid()
    for name in (f".tmp-build-20200101T000000000000-{dead}", "build-20200101T000000000000",
                 f".tmp-build-20200101T000000000001-{running}"):
        (idx / name).mkdir()
        (idx / name / "vectors.npy").write_bytes(b"partial")
    (idx / f".CURRENT.{dead}.tmp").write_text("build-x\n")
    (p.config.corpus / "new.txt").write_text("Something new.")
    p.build_index(progress=False)
    left = sorted(x.name for x in idx.iterdir())
    assert left == sorted(["CURRENT", ".build.lock", live_path(idx).name,
                           f".tmp-build-20200101T000000000001-{running}"])


# ------------------------------------------------------------------ SIGKILL at every stage of a build

KILL_SCRIPT = textwrap.dedent("""
    import os, sys, time
    import faiss, numpy as np
    import qa.index.build as build
    from qa import Pipeline
    from qa.config import config_from_dict
    from qa.index.lexical import BM25Index
    from tests.fakes import FakeEmbedder

    stop_at, count = int(os.environ["STOP_AT"]), 0

    def stage(name):
        global count
        count += 1
        if count == stop_at:
            print(f"paused at {count} {name}", flush=True)
            time.sleep(600)

    def wrap(owner, attr):
        real = getattr(owner, attr)
        def wrapped(*args, **kwargs):
            stage(attr)
            return real(*args, **kwargs)
        setattr(owner, attr, wrapped)

    for owner, attr in [(FakeEmbedder, "embed"), (build, "_write_json"), (np, "savez"), (np, "save"),
                        (faiss, "write_index"), (BM25Index, "save"), (build, "_fsync_dir"), (os, "rename"),
                        (os, "replace"), (build, "cleanup_builds")]:
        wrap(owner, attr)
    cfg = config_from_dict({"corpus": sys.argv[1], "index": sys.argv[2], "batch_size": 1})
    Pipeline(cfg, embedder=FakeEmbedder()).build_index(progress=False)
    print(f"done after {count} stages", flush=True)
""")


def run_until(stage: int, corpus: Path, index: Path) -> str:
    """Run a build in a subprocess; SIGKILL it when it reaches ``stage``. Returns its last line."""
    env = dict(os.environ, STOP_AT=str(stage), PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(corpus), str(index)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline().strip()  # blocks until the build pauses or ends
        if line.startswith("paused"):
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
        assert line, proc.stderr.read()
        return line
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()


def assert_answers(config, expect_path: Path | None = None) -> None:
    if expect_path is not None:
        assert live_path(config.index) == expect_path
    p = Pipeline(config, embedder=FakeEmbedder())
    p._attach(load_index(config, check=False))
    ans = p.ask(QUESTION)
    assert not ans.abstained and ans.citations[0].source == "zorblax.txt"
    c = ans.citations[0]
    assert p.index.texts[p.index.doc_position[c.source]][c.start:c.end] == c.quote


def test_a_build_killed_at_any_stage_leaves_the_previous_index_loadable(tmp_path):
    p = fake_pipeline(tmp_path, make_corpus(tmp_path, CORPUS))
    old = live_path(p.config.index)
    (p.config.corpus / "plums.txt").write_text("The quarnix ledger was rewritten. Plums are green now.")
    (p.config.corpus / "more.txt").write_text("One more document. It has two sentences.")
    stages = []
    for k in range(1, 100):
        line = run_until(k, p.config.corpus, p.config.index)
        if line.startswith("done"):
            break
        stages.append(line.split(" ", 3)[3])
        swapped = stages[-1] == "cleanup_builds"  # paused *before* a call: only cleanup comes after the swap
        # before the pointer swap the old build is live; after it, the complete new one is
        assert_answers(p.config, None if swapped else old)
    assert {"embed", "_write_json", "savez", "save", "write_index", "_fsync_dir", "rename", "replace",
            "cleanup_builds"} <= set(stages), stages
    # the build that finally ran through removed every leftover of the killed ones (and their locks
    # died with them: each next build ran)
    left = sorted(x.name for x in p.config.index.iterdir())
    assert left == sorted(["CURRENT", ".build.lock", live_path(p.config.index).name])
    assert_answers(p.config)
    load_index(p.config)  # and it is fresh


def test_a_killed_first_build_leaves_no_index_rather_than_a_broken_one(tmp_path):
    corpus = make_corpus(tmp_path, CORPUS)
    index = tmp_path / "index"
    line = run_until(6, corpus, index)
    assert line.startswith("paused")
    from qa.config import config_from_dict

    cfg = config_from_dict({"corpus": str(corpus), "index": str(index)})
    with pytest.raises(IndexMissingError, match="run `qa index`"):
        load_index(cfg)
    assert run_until(10 ** 6, corpus, index).startswith("done")
    assert_answers(cfg)


# ------------------------------------------------------------------ two builds at once

class SlowEmbedder(FakeEmbedder):
    """The fake embedder, slow enough that two builds overlap."""

    def embed(self, texts):
        import time

        time.sleep(0.3)
        return super().embed(texts)


def test_two_builds_at_once_take_turns_and_leave_one_loadable_index(tmp_path):
    import threading

    from qa.index.files import build_lock
    from qa.config import config_from_dict
    from qa.index.build import build_index

    corpus = make_corpus(tmp_path, CORPUS)
    cfg = config_from_dict({"corpus": str(corpus), "index": str(tmp_path / "index"), "reader": False})
    waited, reports = [], []
    with build_lock(cfg.index):  # another process's build holds the folder
        t = threading.Thread(target=lambda: reports.append(build_index(cfg, SlowEmbedder(), progress=False,
                                                                        warn=waited.append)))
        t.start()
        t.join(timeout=1.0)
        assert t.is_alive() and not reports  # it waits its turn ...
        assert waited and "another build" in waited[0]
    t.join(timeout=30)
    assert len(reports) == 1 and reports[0].embedded > 0  # ... and builds once the lock is free

    # Two builds started together (each rebuilding from scratch): one after the other, and the live
    # build is complete; neither removed the other's build while it was live.
    threads = [threading.Thread(target=lambda: reports.append(build_index(cfg, SlowEmbedder(), rebuild=True,
                                                                          progress=False))) for _ in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=60)
    assert len(reports) == 3
    builds = [p.name for p in cfg.index.iterdir() if p.name.startswith("build-")]
    assert builds == [live_path(cfg.index).name]
    index = load_index(cfg)
    assert sorted(index.doc_ids) == sorted(CORPUS)


def test_an_edit_keeping_size_and_mtime_is_noticed(tmp_path):
    corpus = make_corpus(tmp_path, {"a.txt": "The harvest festival sells apples.\n"})
    p = fake_pipeline(tmp_path, corpus=corpus)
    path = corpus / "a.txt"
    st = path.stat()
    path.write_text("The harvest festival sells cherry.\n", encoding="utf-8")  # same length
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # as `cp -p` or `rsync -t` leave it
    r = p.build_index(progress=False)
    assert not r.skipped and r.updated == 1 and "cherry" in p.source("a.txt")["text"]


def test_sources_yaml_edited_during_a_build_is_read_by_the_next(tmp_path):
    corpus = make_corpus(tmp_path, {"a.txt": "The harvest festival sells apples.\n",
                                    "sources.yaml": "a.txt:\n  title: Old title\n"})

    class EditingEmbedder(FakeEmbedder):
        def embed(self, texts):  # the user saves sources.yaml while sentences are being embedded
            (corpus / "sources.yaml").write_text("a.txt:\n  title: New title, longer\n", encoding="utf-8")
            return super().embed(texts)

    cfg = {"corpus": str(corpus), "index": str(tmp_path / "index"), "reader": False}
    from qa.config import config_from_dict

    Pipeline(config_from_dict(cfg), embedder=EditingEmbedder()).build_index(progress=False)
    p = Pipeline(config_from_dict(cfg), embedder=FakeEmbedder())
    r = p.build_index(progress=False)
    assert not r.skipped and p.source("a.txt")["title"] == "New title, longer"


def test_an_index_replaced_while_it_is_being_loaded_is_read_again(tmp_path, monkeypatch):
    import qa.index.store as store

    p = fake_pipeline(tmp_path, corpus=make_corpus(tmp_path, {"a.txt": "The harvest festival sells apples.\n"}))
    first = live_path(p.config.index)
    real = store._read_build
    calls = []

    def racing(path, manifest, ef_search):  # another `qa index` publishes and removes this build meanwhile
        calls.append(path)
        if len(calls) == 1:
            (p.config.corpus / "b.txt").write_text("A second file about pears.\n", encoding="utf-8")
            p.build_index(progress=False)
            raise CorruptIndexError(f"{path}/vectors.npy is missing: run `qa index --rebuild`")
        return real(path, manifest, ef_search)

    monkeypatch.setattr(store, "_read_build", racing)
    index = load_index(p.config)
    assert calls[0] == first and calls[1] != first and "b.txt" in index.doc_ids


def test_an_index_folder_that_cannot_be_made_is_a_config_error(tmp_path):
    from qa.config import config_from_dict
    from qa.errors import ConfigError

    (tmp_path / "afile").write_text("not a folder", encoding="utf-8")
    corpus = make_corpus(tmp_path, {"a.txt": "The harvest festival sells apples.\n"})
    p = Pipeline(config_from_dict({"corpus": str(corpus), "index": str(tmp_path / "afile" / "idx")}),
                 embedder=FakeEmbedder())
    with pytest.raises(ConfigError, match=r"cannot create the index folder .*afile/idx .*point 'index:'"):
        p.build_index(progress=False)


def test_a_model_folder_changed_in_place_is_re_embedded_and_a_touched_one_is_not(tmp_path):
    model = tmp_path / "mymodel"
    model.mkdir()
    (model / "weights.bin").write_bytes(b"A" * 64)
    corpus = make_corpus(tmp_path, {"a.txt": "The harvest festival sells apples. The market opens at dawn.\n"})
    p = fake_pipeline(tmp_path, corpus=corpus, model=str(model))
    sentences = len(p.index.sent_doc)
    os.utime(model / "weights.bin", ns=(1, 1))  # touched, same bytes (a reinstall): re-read, nothing embedded
    with pytest.raises(StaleIndexError, match="the files of the model .* changed"):
        load_index(p.config)
    r = p.build_index(progress=False)
    assert not r.skipped and r.embedded == 0
    (model / "weights.bin").write_bytes(b"B" * 64)  # fine-tuned again under the same path: new vectors
    r = p.build_index(progress=False)
    assert r.embedded == sentences
    assert p.build_index(progress=False).skipped
