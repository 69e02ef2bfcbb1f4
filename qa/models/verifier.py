"""The claim verifier: does a passage support a claim, refute it, or say nothing about it?

A cross-encoder: the claim and an evidence passage go through the bundled all-MiniLM-L6-v2 together
("[CLS] claim [SEP] passage [SEP]"), and a linear head on [CLS] gives three scores (supports, refutes,
unrelated). All six layers are fine-tuned by ``bench/train_verifier.py`` on Climate-FEVER's labelled
claim-sentence pairs, SciFact's claims with their rationale sentences, and contrasting pairs made from
SQuAD sentences (a number, date or name swapped, a negation added, two names' roles exchanged), so it
judges claims put in other words, which the detail rules of the claim checker cannot. The checker
keeps the last word on details: the verifier never supports a claim whose number, date or name the
passage does not state.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

VERIFIER_FILE = Path(__file__).resolve().parents[1] / "data" / "verifier.safetensors"
LABELS = ("supports", "refutes", "unrelated")
MAX_TOKENS = 160


def verifier_model(base=None):
    """The bundled MiniLM with a three-way head on [CLS] (torch is imported here)."""
    import torch

    from qa.models.base import base_encoder

    class Verifier(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = base_encoder(base)
            self.head = torch.nn.Linear(self.encoder.config.hidden_size, len(LABELS))

        def forward(self, input_ids, attention_mask, token_type_ids):
            out = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                               token_type_ids=token_type_ids).last_hidden_state
            return self.head(out[:, 0])

    return Verifier()


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


class ClaimVerifier:
    """Probabilities of (supports, refutes, unrelated) for a claim against each of some passages."""

    def __init__(self, logits: Callable[[list], np.ndarray], name: str):
        from qa.models.base import pair_tokenizer

        self._logits = logits
        self.name = name
        self.tokenizer = pair_tokenizer(MAX_TOKENS)
        self._lock = threading.Lock()

    def probabilities(self, claim: str, passages: Sequence[str]) -> np.ndarray:
        if not passages:
            return np.zeros((0, len(LABELS)), dtype=np.float32)
        with self._lock:  # the tokenizer is not shared between threads while it encodes
            enc = self.tokenizer.encode_batch([(claim, p) for p in passages])
        return softmax(np.asarray(self._logits(enc), dtype=np.float64)).astype(np.float32)

    @classmethod
    def from_torch(cls, model, name: str) -> "ClaimVerifier":
        from qa.models.base import torch_inputs

        def logits(enc):
            import torch

            with torch.inference_mode():
                return model(**torch_inputs(enc)).float().numpy()

        verifier = cls(logits, name)
        verifier.model = model
        return verifier

    @classmethod
    def from_graph(cls, graph, name: str) -> "ClaimVerifier":
        from qa.models.base import input_arrays

        return cls(lambda enc: graph.run(**input_arrays(enc)), name)


def load_torch(path: Path = VERIFIER_FILE) -> ClaimVerifier:
    from qa.models.base import load_weights

    return ClaimVerifier.from_torch(load_weights(path, verifier_model), path.name)


def load_onnx(path: Path = VERIFIER_FILE) -> ClaimVerifier | None:
    """The verifier exported to ONNX (None when ONNX Runtime cannot run it)."""
    from qa.models.base import exported

    g = exported("verifier", path, MAX_TOKENS, lambda: load_torch(path).model, ["logits"])
    return None if g is None else ClaimVerifier.from_graph(g, path.name)


_shared: dict[str, dict[str, ClaimVerifier | None]] = {}
_shared_lock = threading.Lock()
_load_lock = threading.Lock()


def shared(path: Path = VERIFIER_FILE, runtime: str = "onnx") -> ClaimVerifier | None:
    """The verifier of ``path``, loaded once per process and runtime; None when the file is missing or
    damaged (said once: claims are then judged by the detail rules alone)."""
    from qa.models.base import load_once

    path = Path(path)
    with _shared_lock:
        per_path = _shared.setdefault(str(path.resolve()), {})
    return load_once(per_path, _load_lock, runtime, path, "claim verifier", "checking claims by their details alone",
                     lambda: load_onnx(path), lambda: load_torch(path))
