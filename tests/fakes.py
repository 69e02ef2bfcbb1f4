"""A small deterministic embedder for unit tests: hashed bag of words, no model needed."""

from __future__ import annotations

import hashlib
import re

import numpy as np


class FakeEmbedder:
    """Hashes lower-cased words into a fixed number of buckets; texts sharing words are similar."""

    name = "fake-hashing"

    def __init__(self, dimension: int = 64):
        self._dim = dimension
        self.calls = 0
        self.embedded = 0

    @property
    def dimension(self) -> int:
        return self._dim

    def embed(self, texts):
        self.calls += 1
        self.embedded += len(texts)
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in re.findall(r"\w+", t.lower()):
                h = int.from_bytes(hashlib.md5(w.encode()).digest()[:4], "little")
                out[i, h % self._dim] += 1.0
            out[i, -1] += 0.01  # never the zero vector
        out /= np.linalg.norm(out, axis=1, keepdims=True)
        return out
