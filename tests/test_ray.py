"""Embedding on Ray: the install hint without Ray, resume after a killed run, the same index as a local build."""

from __future__ import annotations

import builtins
import shutil

import numpy as np
import pytest

from qa import cli
from qa.errors import ConfigError
from qa.models import ray_embedding
from qa.models.ray_embedding import RayEmbedder

from .conftest import SEEDS, fake_config_file, fake_pipeline
from .fakes import FakeEmbedder


def test_without_ray_the_option_says_how_to_install_it(monkeypatch, tmp_path, capsys, seed_pipeline):
    real_import = builtins.__import__

    def no_ray(name, *a, **k):
        if name == "ray" or name.startswith("ray."):
            raise ImportError("No module named 'ray'")
        return real_import(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    with pytest.raises(ConfigError, match=r"pip install -e '\.\[ray\]'"):
        RayEmbedder(FakeEmbedder(), "m", "onnx")
    cfg = fake_config_file(seed_pipeline, tmp_path, monkeypatch)
    assert cli.main(["--config", str(cfg), "index", "--ray"]) == 2
    assert "pip install -e '.[ray]'" in capsys.readouterr().err


class _FakeRay:
    """Stands in for ``ray``: runs the map over the fake embedder, one output batch per input batch."""

    def __init__(self, embedder, fail_after: int | None = None):
        self.embedder, self.fail_after, self.rows = embedder, fail_after, []
        self.data = self

    def from_items(self, items):
        self.items = items
        return self

    def map_batches(self, fn, fn_constructor_args=(), batch_size=1, **kw):
        self.batch = batch_size
        return self

    def iter_batches(self, **kw):
        for n, i in enumerate(range(0, len(self.items), self.batch)):
            if self.fail_after is not None and n >= self.fail_after:
                raise KeyboardInterrupt  # the run is killed here
            part = self.items[i:i + self.batch]
            self.rows += [x["row"] for x in part]
            yield {"row": np.array([x["row"] for x in part]),
                   "vec": list(self.embedder.embed([x["text"] for x in part]))}


def test_a_killed_run_resumes_from_the_batches_already_written(tmp_path, monkeypatch):
    monkeypatch.setattr(ray_embedding, "import_ray", lambda: object())
    texts = [f"sentence number {i} about letters" for i in range(10)]
    local = FakeEmbedder()
    emb = RayEmbedder(local, "m", "onnx", batch=3, work_dir=tmp_path)
    killed = _FakeRay(local, fail_after=2)
    monkeypatch.setattr(emb, "_init", lambda: killed)
    with pytest.raises(KeyboardInterrupt):
        emb.embed_all(texts)
    assert killed.rows == [0, 1, 2, 3, 4, 5]
    again = _FakeRay(local)
    monkeypatch.setattr(emb, "_init", lambda: again)
    seen = []
    vecs = emb.embed_all(texts, seen.append)
    assert again.rows == [6, 7, 8, 9]  # only what the killed run had not written
    assert sum(seen) == len(texts)
    np.testing.assert_allclose(vecs, local.embed(texts))
    emb.finish()
    assert not (tmp_path / ".ray-embed").exists()


def test_a_build_through_ray_equals_a_local_build(tmp_path, monkeypatch):
    monkeypatch.setattr(ray_embedding, "import_ray", lambda: object())
    local = fake_pipeline(tmp_path / "local")
    corpus = tmp_path / "seeds2"
    shutil.copytree(SEEDS, corpus)
    p = fake_pipeline(tmp_path / "ray", corpus)
    emb = RayEmbedder(p.embedder, "m", "onnx", batch=64, work_dir=p.config.index)
    fake = _FakeRay(p.embedder)
    monkeypatch.setattr(emb, "_init", lambda: fake)
    monkeypatch.setattr(p, "_bulk_embedder", lambda: emb)
    report = p.build_index(progress=False, rebuild=True)
    assert report.embedded == len(fake.rows) > 0
    q = "When did Japan rule Korea as a colony?"
    assert p.ask(q).to_dict() == local.ask(q).to_dict()
