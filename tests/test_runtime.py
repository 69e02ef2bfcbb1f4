"""ONNX Runtime: the exported graphs compute what torch computes, are cached, and fall back safely."""

from __future__ import annotations

import numpy as np
import pytest

from qa.models import runtime
from qa.config import config_from_dict
from qa.errors import ConfigError


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("QA_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _tiny_export(calls):
    def export(path):
        import torch

        calls.append(path)
        torch.manual_seed(0)
        runtime.export_module(torch.nn.Linear(3, 2), {"x": torch.ones(2, 4, 3)}, path, ["y"])
    return export


def test_a_graph_is_exported_once_and_then_read_from_the_cache(cache):
    calls = []
    g = runtime.graph("tiny", "k1", _tiny_export(calls), threads=1)
    assert g is not None and len(calls) == 1
    out = g.run(x=np.ones((1, 5, 3), dtype=np.float32))  # batch and length are not fixed by the example
    assert out.shape == (1, 5, 2)
    again = runtime.graph("tiny", "k1", _tiny_export(calls), threads=1)
    assert len(calls) == 1 and np.array_equal(again.run(x=np.ones((1, 5, 3), dtype=np.float32)), out)
    assert [p.name for p in cache.iterdir()] == ["tiny-k1.onnx"]  # no temporary file left behind


def test_a_damaged_cached_graph_is_exported_again(cache):
    calls = []
    runtime.graph("tiny", "k1", _tiny_export(calls), threads=1)
    (cache / "tiny-k1.onnx").write_bytes(b"not a graph")
    g = runtime.graph("tiny", "k1", _tiny_export(calls), threads=1)
    assert g is not None and len(calls) == 2


def test_a_failed_export_gives_none_and_leaves_nothing(cache, caplog):
    def export(path):
        path.write_bytes(b"half")
        raise RuntimeError("exporter broke")

    assert runtime.graph("tiny", "k1", export, threads=1) is None
    assert "exporter broke" in caplog.text
    assert list(cache.iterdir()) == []


def test_the_key_changes_when_a_weights_file_changes(tmp_path):
    f = tmp_path / "model.safetensors"
    f.write_bytes(b"one")
    k1 = runtime.files_key([f], "x")
    f.write_bytes(b"three")
    assert runtime.files_key([f], "x") != k1
    assert runtime.files_key([f], "x") != runtime.files_key([f], "y")


def test_cache_folder_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("QA_CACHE_DIR", str(tmp_path / "c"))
    assert runtime.cache_dir() == tmp_path / "c"
    monkeypatch.delenv("QA_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert runtime.cache_dir() == tmp_path / "x" / "qa"


def test_runtime_setting_is_checked(tmp_path):
    assert config_from_dict({"corpus": ".", "index": "i"}).runtime == "onnx"
    assert config_from_dict({"corpus": ".", "index": "i", "runtime": "torch"}).runtime == "torch"
    with pytest.raises(ConfigError, match="runtime.*'onnx' or 'torch'"):
        config_from_dict({"corpus": ".", "index": "i", "runtime": "tensorflow"})


@pytest.mark.slow
def test_embedder_falls_back_to_torch_when_the_export_fails(monkeypatch, cache):
    from qa.models import embedding

    monkeypatch.setattr(embedding, "graph", lambda *a, **k: None)
    emb = embedding.SentenceTransformerEmbedder()
    v = emb.embed(["When did the war end?"])
    assert emb.model.runtime == "torch" and v.shape == (1, 384)


@pytest.mark.slow
def test_pipeline_runs_torch_when_configured(tmp_path, real_seed_pipeline):
    from qa import Pipeline

    cfg = config_from_dict({"corpus": str(real_seed_pipeline.config.corpus),
                            "index": str(real_seed_pipeline.config.index), "runtime": "torch"})
    p = Pipeline(cfg)
    question = "How much did Japan export to South Korea in 2021?"
    a, b = p.ask(question), real_seed_pipeline.ask(question)
    assert p.embedder.model.runtime == "torch" and real_seed_pipeline.embedder.model.runtime == "onnx"
    assert a.answer == b.answer == "$51.1 billion"
    # the embedding graphs are exact; the reader's ONNX graph has int8 weights, torch's float32
    assert a.citations[0].start == b.citations[0].start and a.confidence == pytest.approx(b.confidence, abs=0.05)


def test_a_new_export_removes_the_graph_of_older_weights(cache):
    calls = []
    runtime.graph("tiny-place1", "aaaa", _tiny_export(calls), threads=1)
    runtime.graph("tiny-place2", "aaaa", _tiny_export(calls), threads=1)  # another model: kept
    runtime.graph("tiny-place1", "bbbb", _tiny_export(calls), threads=1)  # the same model, changed weights
    assert sorted(p.name for p in cache.iterdir()) == ["tiny-place1-bbbb.onnx", "tiny-place2-aaaa.onnx"]


def test_a_cache_folder_that_cannot_be_entered_gives_none(cache, monkeypatch, caplog):
    def denied(self):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(runtime.Path, "is_file", denied)
    assert runtime.graph("tiny", "k1", _tiny_export([]), threads=1) is None
    assert "not usable" in caplog.text and "QA_CACHE_DIR" in caplog.text


def test_a_damaged_graph_that_cannot_be_removed_gives_none(cache, monkeypatch, caplog):
    runtime.graph("tiny", "k1", _tiny_export([]), threads=1)
    (cache / "tiny-k1.onnx").write_bytes(b"damaged")

    def denied(self, missing_ok=False):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(runtime.Path, "unlink", denied)
    assert runtime.graph("tiny", "k1", _tiny_export([]), threads=1) is None


def test_missing_onnxruntime_is_said_once(monkeypatch, caplog):
    import sys

    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails
    monkeypatch.setattr(runtime, "_warned_missing", [])
    assert runtime.available() is False and runtime.available() is False
    assert caplog.text.count("onnxruntime is not installed") == 1


@pytest.mark.slow
def test_an_index_build_frees_the_all_cores_session(tmp_path, cache):
    from qa import Pipeline
    from qa.models.embedding import SentenceTransformerEmbedder

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text(" ".join(f"Sentence number {i} says something." for i in range(40)))
    emb = SentenceTransformerEmbedder()
    p = Pipeline(config_from_dict({"corpus": str(corpus), "index": str(tmp_path / "index")}), embedder=emb)
    p.build_index(progress=False)
    p.ask("What does sentence number 3 say?")
    assert list(emb.model._graphs) == [1]  # only the question session is left
    assert emb.model.model is None  # nor is the torch copy that exported the graph kept


def test_an_export_is_announced_once_on_stderr(cache, capsys):
    runtime.graph("tiny-place", "k1", _tiny_export([]), threads=1)
    runtime.graph("tiny-place", "k1", _tiny_export([]), threads=1)
    err = capsys.readouterr().err
    assert err.count("qa: preparing tiny for ONNX Runtime") == 1
