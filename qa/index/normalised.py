"""The documents as quotes are compared, kept with each build: normalised once, searched many times.

A quote is found verbatim by searching the normalised text of every document (a C-speed scan, no
normalising per request), and its offsets in the original are recovered from a checkpoint: a
normalised offset, the original offset it came from and whether a space came just before, stored
about every ``EVERY`` normalised characters. From the nearest checkpoint a few thousand characters
are normalised again, which gives the exact map for just the place that matched
(:mod:`qa.text.normal`). Files: ``normalised.json`` (the texts, in document order) and
``normalised.npz`` (the checkpoints).
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from qa.text.normal import Normalised, normalise

EVERY = 4096  # normalised characters between checkpoints: each lookup normalises at most this much again


@dataclass(frozen=True)
class NormalisedTexts:
    """Every document's normalised text, and checkpoints to map its offsets back to the original."""

    texts: list[str]
    check_doc: np.ndarray    # (D + 1,): document d's checkpoints are rows check_doc[d]:check_doc[d + 1]
    check_norm: np.ndarray   # normalised offset of each checkpoint
    check_orig: np.ndarray   # original offset it came from
    check_space: np.ndarray  # whether a space was emitted just before it

    @classmethod
    def build(cls, originals: Sequence[str]) -> "NormalisedTexts":
        texts, doc, norm, orig, space = [], [0], [], [], []
        for text in originals:
            n, checks = normalise(text, every=EVERY)
            texts.append(n.text)
            for p, o, s in checks:
                norm.append(p)
                orig.append(o)
                space.append(s)
            doc.append(len(norm))
        return cls(texts, np.asarray(doc, np.int64), np.asarray(norm, np.int64), np.asarray(orig, np.int64),
                   np.asarray(space, bool))

    def save(self, folder: Path) -> None:
        with open(folder / "normalised.json", "w", encoding="utf-8") as fh:
            json.dump(self.texts, fh, ensure_ascii=False)
        np.savez(folder / "normalised.npz", doc=self.check_doc, norm=self.check_norm, orig=self.check_orig,
                 space=self.check_space)

    @classmethod
    def load(cls, folder: Path, n_docs: int) -> "NormalisedTexts | None":
        """The build's normalised texts, or None when it has none (built before they were kept)."""
        if not (folder / "normalised.json").exists():
            return None
        texts = json.loads((folder / "normalised.json").read_text(encoding="utf-8"))
        with np.load(folder / "normalised.npz") as z:
            out = cls(texts, z["doc"], z["norm"], z["orig"], z["space"])
        if len(texts) != n_docs or len(out.check_doc) != n_docs + 1:
            raise ValueError("normalised texts do not match the documents")
        return out

    def window(self, doc: int, original: str, a: int, b: int) -> tuple[Normalised, int, int]:
        """The normalised text of document ``doc`` around normalised ``[a, b)``, with its map.

        Returns ``(part, p0, o0)``: ``part.text == texts[doc][p0:p0 + len(part.text)]``, it covers at
        least ``[a, b + 1)`` (or up to the end), and its offsets are original offsets minus ``o0``.
        """
        lo, hi = int(self.check_doc[doc]), int(self.check_doc[doc + 1])
        k = lo + max(0, int(np.searchsorted(self.check_norm[lo:hi], a, side="right")) - 1)
        p0, o0, space = int(self.check_norm[k]), int(self.check_orig[k]), bool(self.check_space[k])
        need = min(b + 1, len(self.texts[doc])) - p0
        span = need + 64
        while True:
            end = min(len(original), o0 + span)
            while end < len(original) and unicodedata.combining(original[end]):  # never cut a letter's marks
                end += 1
            part = normalise(original, o0, end, space=space, final=end == len(original))
            if len(part.text) >= need or end == len(original):
                return part, p0, o0
            span *= 2
