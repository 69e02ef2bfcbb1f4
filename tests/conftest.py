"""Shared fixtures: a fake-embedder pipeline over a copy of the seeds, and the real model once per run."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from qa import Pipeline
from qa.config import config_from_dict

from .fakes import FakeEmbedder

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"

# Exported ONNX graphs (qa/models/runtime.py) go into the checkout's ignored .cache/, not the user's home.
os.environ.setdefault("QA_CACHE_DIR", str(ROOT / ".cache" / "qa-test"))


def make_corpus(tmp: Path, files: dict[str, str | bytes]) -> Path:
    corpus = tmp / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        path = corpus / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return corpus


def fake_pipeline(tmp: Path, corpus: Path | None = None, **settings) -> Pipeline:
    """A pipeline with the fake embedder over ``corpus`` (default: a copy of the seeds), index built."""
    if corpus is None:
        corpus = tmp / "seeds"
        shutil.copytree(SEEDS, corpus)
    # Unit tests stay model-free: the span reader is off unless a test turns it on.
    cfg = config_from_dict({"corpus": str(corpus), "index": str(tmp / "index"), "reader": False, **settings})
    p = Pipeline(cfg, embedder=FakeEmbedder())
    p.build_index(progress=False)
    return p


@pytest.fixture
def seed_pipeline(tmp_path) -> Pipeline:
    return fake_pipeline(tmp_path)


@pytest.fixture(scope="session")
def real_embedder():
    """The bundled MiniLM model, loaded once per test run."""
    from qa.models.embedding import SentenceTransformerEmbedder

    emb = SentenceTransformerEmbedder()
    emb.embed(["warm up"])
    return emb


@pytest.fixture(scope="session")
def real_seed_pipeline(tmp_path_factory, real_embedder) -> Pipeline:
    tmp = tmp_path_factory.mktemp("real")
    corpus = tmp / "seeds"
    shutil.copytree(SEEDS, corpus)
    cfg = config_from_dict({"corpus": str(corpus), "index": str(tmp / "index")})
    p = Pipeline(cfg, embedder=real_embedder)
    p.build_index(progress=False)
    return p


def fake_config_file(pipeline: Pipeline, tmp: Path, monkeypatch, extra: str = "") -> Path:
    """A qa.yaml for ``pipeline``'s corpus and index, with ``Pipeline.from_config`` (what the CLI calls)
    patched to use the fake embedder. The reader stays off, as in every fake pipeline."""
    cfg = tmp / "qa.yaml"
    cfg.write_text(f"corpus: {pipeline.config.corpus}\nindex: {pipeline.config.index}\nreader: false\n{extra}")
    original = Pipeline.from_config.__func__

    def from_config(cls, config="qa.yaml", embedder=None):
        return original(cls, config, embedder=embedder or FakeEmbedder())

    monkeypatch.setattr(Pipeline, "from_config", classmethod(from_config))
    return cfg
