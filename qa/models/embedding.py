"""Text -> vectors. The :class:`Embedder` protocol and its sentence-transformers implementation.

Everything else in the package receives an embedder instead of loading a
model itself, so tests can inject a small deterministic fake and the real
model is loaded once, lazily, on first use. Vectors are float32 and L2
normalised, so inner product is cosine similarity.

Loading is kept cheap because ``qa ask`` pays it on every start: a model folder
that is a plain Transformer -> mean Pooling -> Normalize stack (the bundled
MiniLM is) runs through ``tokenizers`` and ONNX Runtime (:mod:`qa.models.runtime`;
``transformers`` when ``runtime: torch``), which computes the same vectors
without importing sentence-transformers (and through it scikit-learn, pandas
and scipy.stats), nor, once the graph is exported, torch. Any other model
folder is loaded by ``SentenceTransformer``. Short inputs (questions)
are encoded on one intra-op thread: on a busy 2-core machine two threads spin
against each other and a one-question encode gets many times slower.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from pathlib import Path
from typing import Protocol, Sequence, runtime_checkable

import numpy as np

from qa.models.base import input_arrays, load_transformer, resolve_model, torch_inputs
from qa.config import DEFAULT_MODEL
from qa.errors import ConfigError
from qa.models.runtime import available as runtime_available, export_module, files_key, graph, model_files, place_key

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


QUERY_SIZE = 8  # inputs of at most this many texts are encoded on QUERY_THREADS threads
QUERY_THREADS = 1


def plain_mean_pooling(folder: str | Path) -> int | None:
    """``max_seq_length`` when ``folder`` is a Transformer -> mean Pooling -> Normalize model, else None."""
    folder = Path(folder)
    try:
        modules = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
        kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
        if kinds != ["Transformer", "Pooling", "Normalize"] or modules[0].get("path", "") != "":
            return None
        pooling = json.loads((folder / modules[1]["path"] / "config.json").read_text(encoding="utf-8"))
        modes = {k for k, v in pooling.items() if k.startswith("pooling_mode") and v}
        if modes != {"pooling_mode_mean_tokens"} or not (folder / "tokenizer.json").is_file():
            return None
        st_config = json.loads((folder / "sentence_bert_config.json").read_text(encoding="utf-8"))
        if st_config.get("do_lower_case"):
            return None  # sentence-transformers lower-cases before tokenizing; leave that to it
        return int(st_config["max_seq_length"])
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return None


class MeanPoolingModel:
    """A Transformer -> mean Pooling -> Normalize model run without sentence-transformers.

    Gives the vectors ``SentenceTransformer.encode(..., normalize_embeddings=True)`` gives for the
    same folder (tests check this). ``runtime="onnx"`` (default) runs the model through ONNX Runtime
    (:mod:`qa.models.runtime`: exported once, then no torch in the process); ``"torch"``, a device other
    than the CPU, or an export that fails runs it through ``transformers``.
    """

    def __init__(self, folder: str, max_seq_length: int, device: str = "cpu", runtime: str = "onnx"):
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(Path(folder) / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_seq_length)
        self.tokenizer.enable_padding(pad_id=self.tokenizer.token_to_id("[PAD]") or 0)
        self.device = device
        self.folder = folder
        self.dimension = int(json.loads((Path(folder) / "config.json").read_text(encoding="utf-8"))["hidden_size"])
        self.model = None  # the transformers model, loaded only when torch runs it (or exports it)
        self._graphs: dict[int, object] = {}  # intra-op threads -> runtime.Graph
        self._key = None  # the graph's cache key while ONNX Runtime runs the model; None: torch does
        if runtime == "onnx" and device == "cpu" and runtime_available():
            self._key = files_key(model_files(folder), f"mean-pooling:{max_seq_length}")
        else:
            self._load_torch()

    @property
    def runtime(self) -> str:
        return "torch" if self._key is None else "onnx"

    def _load_torch(self):
        if self.model is None:
            self.model = load_transformer(self.folder).to(self.device).eval()
        return self.model

    def _graph(self, threads: int):
        """The exported graph run on ``threads`` intra-op threads (0: all cores), made on first use."""
        g = self._graphs.get(threads)
        if g is None:
            g = self._graphs[threads] = graph(f"embedding-model-{place_key(self.folder)}", self._key, self._export, threads)
            if g is not None:
                self.model = None  # a torch copy loaded for the export is not needed to run the graph: free it
        return g

    def release_bulk(self) -> None:
        """Drop the all-cores session of large batches (~100 MB): an index build made it, queries do not need it."""
        self._graphs.pop(0, None)

    def _export(self, path: Path) -> None:
        import torch

        model = self._load_torch()

        class Pooled(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.model = model

            def forward(self, input_ids, attention_mask, token_type_ids):
                return _pool(self.model(input_ids=input_ids, attention_mask=attention_mask,
                                        token_type_ids=token_type_ids).last_hidden_state, attention_mask)

        enc = self.tokenizer.encode_batch(["an example", "a longer example sentence to export with"])
        export_module(Pooled(), torch_inputs(enc), path, ["embedding"])

    def get_sentence_embedding_dimension(self) -> int:
        return self.dimension

    def encode(self, texts: list[str], batch_size: int = 32, **_) -> np.ndarray:
        """Normalised mean-pooled vectors, like ``SentenceTransformer.encode(..., normalize_embeddings=True)``
        (whose other keyword arguments are accepted and have nothing to change here)."""
        # Longest first, as sentence-transformers does, so each batch pads little.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        threads = QUERY_THREADS if len(texts) <= QUERY_SIZE else 0
        for b in range(0, len(order), batch_size):
            rows = order[b:b + batch_size]
            arrays = input_arrays(self.tokenizer.encode_batch([texts[i] for i in rows]))
            out[rows] = self._run(arrays, threads)
        return out

    def _run(self, arrays: dict[str, np.ndarray], threads: int) -> np.ndarray:
        if self._key is not None:
            g = self._graph(threads)
            if g is not None:
                return g.run(**arrays)
            self._key = None  # ONNX Runtime cannot run it here (logged): torch from now on
        import torch

        model = self._load_torch()
        with torch_threads(threads) if threads else contextlib.nullcontext(), torch.inference_mode():
            t = {k: torch.tensor(v, device=self.device) for k, v in arrays.items()}
            return _pool(model(**t).last_hidden_state, t["attention_mask"]).float().cpu().numpy()


def _pool(hidden, mask):
    """Mean over the real tokens, then L2 normalisation (torch tensors; also what the exported graph computes)."""
    import torch

    m = mask.unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
    return torch.nn.functional.normalize(pooled, p=2, dim=1)


@contextlib.contextmanager
def torch_threads(n: int):
    """Run a block with ``n`` torch intra-op threads, restoring the previous setting."""
    import torch

    before = torch.get_num_threads()
    if before == n:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class SentenceTransformerEmbedder:
    """A sentence-transformers model folder, loaded on the first call to :meth:`embed`.

    ``direct=True`` (default) runs plain mean-pooling models without importing
    sentence-transformers (see the module docstring); ``direct=False`` always uses it.
    ``runtime``: ``"onnx"`` (default) or ``"torch"``, for the direct path (see :class:`MeanPoolingModel`).
    """

    def __init__(self, name: str = DEFAULT_MODEL, batch_size: int = 32, device: str = "cpu", direct: bool = True,
                 runtime: str = "onnx"):
        self.name = name
        self.batch_size = batch_size
        self.device = device
        self.direct = direct
        self.runtime = runtime
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
        target = resolve_model(self.name)
        max_len = plain_mean_pooling(target) if self.direct else None
        try:
            if max_len is not None:
                return MeanPoolingModel(target, max_len, device=self.device, runtime=self.runtime)
            from sentence_transformers import SentenceTransformer

            return SentenceTransformer(target, device=self.device, local_files_only=True)
        except Exception as exc:  # the library raises many types for "not found"
            raise ConfigError(
                f"model {self.name!r} could not be loaded offline ({type(exc).__name__}): "
                "set 'model:' to a local sentence-transformers folder or an installed model package") from None

    def loaded_transformer(self) -> tuple[str | None, object | None]:
        """(folder, transformers model) when a plain mean-pooling model is already loaded into torch, else (None, None)."""
        model = self._model
        if isinstance(model, MeanPoolingModel):
            return model.folder, model.model
        return None, None

    def release_bulk(self) -> None:
        """Free what only large batches (an index build) need; the next large batch makes it again."""
        if isinstance(self._model, MeanPoolingModel):
            self._model.release_bulk()

    @property
    def dimension(self) -> int:
        get_dim = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        return int(get_dim())

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) == 0:
            return np.zeros((0, self.dimension), dtype=np.float32)
        model = self.model
        if isinstance(model, MeanPoolingModel):  # chooses its own threads, and may run without torch
            return model.encode(list(texts), batch_size=self.batch_size)
        with torch_threads(QUERY_THREADS) if len(texts) <= QUERY_SIZE else contextlib.nullcontext():
            vecs = model.encode(list(texts), batch_size=self.batch_size, convert_to_numpy=True,
                                normalize_embeddings=True, show_progress_bar=False)
        return np.ascontiguousarray(vecs, dtype=np.float32)
