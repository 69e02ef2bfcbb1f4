"""A cross-encoder that reads the question together with a candidate sentence.

The bi-encoder compares a question and a sentence only through two separate vectors; the reader
puts both through the bundled all-MiniLM-L6-v2 as one input ("question [SEP] sentence"), so the
question's words can attend to the sentence's, and a linear head on the mean-pooled output scores
how likely the sentence holds the answer. Its top layers and head are fine-tuned on SQuAD *train*
by ``bench/train_reader.py``; ``qa/data/reader.safetensors`` holds only those weights (float16),
the rest is the bundled model. The answer stage calls it on a few candidate sentences, and only
when the linear ranker is unsure between them.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Sequence

import numpy as np

from qa.models.base import (base_encoder, base_path, exported, input_arrays, load_once, load_weights, pair_tokenizer,
                      torch_inputs)

READER_FILE = Path(__file__).resolve().parents[1] / "data" / "reader.safetensors"
MAX_TOKENS = 128


def cross_encoder(base=None):
    """The bundled MiniLM with a linear head on its mean-pooled output (torch is imported here).

    ``base``: the bundled MiniLM already loaded by the embedder; a copy of it takes 30 ms, a reload over 1 s.
    """
    import torch

    class CrossEncoder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = base_encoder(base)
            self.head = torch.nn.Linear(self.encoder.config.hidden_size, 1)

        def forward(self, input_ids, attention_mask, token_type_ids=None):
            out = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                               token_type_ids=token_type_ids).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(out.dtype)
            pooled = (out * mask).sum(1) / mask.sum(1).clamp(min=1.0)
            return self.head(pooled).squeeze(-1)

    return CrossEncoder()


class Reader:
    """Scores (question, sentence) pairs in torch; higher means likelier to hold the answer."""

    def __init__(self, model):
        self.model = model
        self.tokenizer = pair_tokenizer(MAX_TOKENS)
        self._lock = threading.Lock()


    @classmethod
    def load(cls, path: Path = READER_FILE, base=None) -> "Reader | None":
        """The shipped reader, or None when its weights are missing. ``base``: the bundled MiniLM, already loaded."""
        if not path.is_file():
            return None
        return cls(load_weights(path, lambda: cross_encoder(base)))

    def logits(self, questions: Sequence[str], sentences: Sequence[str]):
        with self._lock:  # the tokenizer is not shared between threads while it encodes
            enc = self.tokenizer.encode_batch(list(zip(questions, sentences)))
        return self.model(**torch_inputs(enc))

    def score(self, question: str, sentences: Sequence[str]) -> np.ndarray:
        import torch

        if not sentences:
            return np.zeros(0, dtype=np.float32)
        # torch's own thread setting: all cores for one command-line question (a few sentence pairs are
        # worth splitting), one per request in `qa serve`, which runs requests in parallel.
        with torch.inference_mode():
            return self.logits([question] * len(sentences), sentences).float().numpy()



class OnnxReader:
    """The shipped reader exported to ONNX (:mod:`qa.models.runtime`): the same logits, no torch once exported."""

    def __init__(self, graph):
        self.graph = graph
        self.tokenizer = pair_tokenizer(MAX_TOKENS)
        self._lock = threading.Lock()

    @classmethod
    def load(cls, path: Path = READER_FILE, embedder=None) -> "OnnxReader | None":
        """The exported reader, or None when ONNX Runtime is missing or the export fails."""
        g = exported("reader", path, MAX_TOKENS, lambda: Reader.load(path, base=bundled_encoder(embedder)).model,
                     ["logit"])
        return None if g is None else cls(g)

    def score(self, question: str, sentences: Sequence[str]) -> np.ndarray:
        if not sentences:
            return np.zeros(0, dtype=np.float32)
        with self._lock:  # the tokenizer is not shared between threads while it encodes
            enc = self.tokenizer.encode_batch([(question, s) for s in sentences])
        return self.graph.run(**input_arrays(enc)).astype(np.float32)


_shared: dict[str, "Reader | OnnxReader | None"] = {}
_shared_lock = threading.Lock()


def shared(embedder=None, runtime: str = "onnx") -> "Reader | OnnxReader | None":
    """The shipped reader, loaded once per process and runtime (about 90 MB, shared by every pipeline).

    ``runtime="onnx"`` runs it through ONNX Runtime when it can (else torch). When ``embedder`` runs the
    bundled MiniLM in torch, its loaded weights are copied instead of read again.
    """
    return load_once(_shared, _shared_lock, runtime, READER_FILE, "reader", "answering without it",
                     lambda: OnnxReader.load(READER_FILE, embedder=embedder),
                     lambda: Reader.load(READER_FILE, base=bundled_encoder(embedder)))


def bundled_encoder(embedder):
    """The embedder's loaded transformers model when it is the bundled MiniLM run directly, else None."""
    loaded = getattr(embedder, "loaded_transformer", None)
    folder, model = loaded() if loaded else (None, None)
    return model if folder == base_path() else None
