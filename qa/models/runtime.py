"""ONNX Runtime for the transformer models: exported once with torch, then run without it.

Encoding one question through torch costs about 12 ms on one core, most of it framework overhead
for a tiny input; the same graph in ONNX Runtime costs about 5 ms, and a process that finds the
graph already exported never imports torch at all (a faster ``qa ask`` start). A graph is exported
on first use into ``$QA_CACHE_DIR`` (default ``~/.cache/qa``), under a name made from the weights'
files (path, size, modification and change time), so weights replaced in place are exported again.
Its outputs equal torch's to about 1e-7 (tests check). Callers fall back to torch when
onnxruntime is not installed, the cache cannot be written, or the export fails.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
import threading
import warnings
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

log = logging.getLogger(__name__)

# Bumped when an exporter below or in its callers changes what a graph computes.
EXPORT_VERSION = 1
OPSET = 17

_lock = threading.Lock()


_warned_missing: list[bool] = []


def available() -> bool:
    """Whether onnxruntime can be imported; says once, as a warning, when it cannot."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        if not _warned_missing:
            _warned_missing.append(True)
            log.warning("onnxruntime is not installed: running the model with torch (slower; pip install onnxruntime onnx)")
        return False
    return True


def cache_dir() -> Path:
    """Where exported graphs are kept: ``$QA_CACHE_DIR``, else ``$XDG_CACHE_HOME/qa``, else ``~/.cache/qa``."""
    env = os.environ.get("QA_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "qa"


def place_key(*paths: str | Path) -> str:
    """A short key for where weights live (resolved paths): graphs of one place replace each other."""
    h = hashlib.sha256()
    for p in paths:
        h.update(str(Path(p).resolve()).encode("utf-8", "surrogateescape") + b"\0")
    return h.hexdigest()[:12]


def files_key(*parts: Iterable[Path] | str) -> str:
    """A short key for a graph: each file's resolved path, size, mtime and ctime, and any plain strings."""
    h = hashlib.sha256(f"export-{EXPORT_VERSION}".encode())
    for part in parts:
        if isinstance(part, str):
            h.update(b"\0s" + part.encode("utf-8"))
            continue
        for p in sorted(Path(x).resolve() for x in part):
            st = p.stat()
            h.update(f"\0f{p}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ctime_ns}".encode("utf-8", "surrogateescape"))
    return h.hexdigest()[:20]


def model_files(folder: str | Path) -> list[Path]:
    """The files of a model folder that its weights and configuration live in (hidden ones left out)."""
    folder = Path(folder)
    return [p for p in folder.rglob("*") if p.is_file()
            and not any(part.startswith(".") or part == "__pycache__" for part in p.relative_to(folder).parts)]


class Graph:
    """An exported model run by ONNX Runtime on a fixed number of intra-op threads (0: all cores)."""

    def __init__(self, path: Path, threads: int):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.session.get_inputs()]

    def run(self, **arrays: np.ndarray) -> np.ndarray:
        return self.run_all(**arrays)[0]

    def run_all(self, **arrays: np.ndarray) -> list[np.ndarray]:
        """Every output of the graph, in the order it was exported with."""
        return self.session.run(None, {name: arrays[name] for name in self.inputs})


def graph(name: str, key: str, export: Callable[[Path], None], threads: int) -> Graph | None:
    """The graph ``name`` for ``key``, exported with ``export(path)`` when not cached; None when that fails.

    ``name`` says what and where (e.g. ``embedding-model-<place_key>``); exporting a new key removes the
    graphs of the same name with other keys, so changed weights do not leave old graphs behind.

    The export writes to a temporary file that is renamed into place, so a process that is
    interrupted, or two processes exporting at once, never leave a half-written graph behind.
    """
    if not available():
        return None
    path = cache_dir() / f"{name}-{key}.onnx"
    with _lock:
        try:
            return _graph(name, path, export, threads)
        except OSError as exc:  # a cache folder that cannot be entered, or a damaged graph that cannot be removed
            log.warning("ONNX cache %s is not usable (%s: %s); running %s with torch (set QA_CACHE_DIR)",
                        path.parent, type(exc).__name__, exc, name)
            return None


def _graph(name: str, path: Path, export: Callable[[Path], None], threads: int) -> Graph | None:
    for _ in range(2):
        if not path.is_file():
            tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                # Said because the first run is seconds slower than every later one.
                print(f"qa: preparing {name.rsplit('-', 1)[0]} for ONNX Runtime in {path.parent} (once, a few seconds)",
                      file=sys.stderr, flush=True)
                export(tmp)
                os.replace(tmp, path)
                _remove_older(path, name)
            except Exception as exc:  # torch's exporter raises many types; torch still works
                log.warning("could not export %s to ONNX (%s: %s); running it with torch", name, type(exc).__name__, exc)
                tmp.unlink(missing_ok=True)
                return None
        try:
            return Graph(path, threads)
        except Exception as exc:  # a damaged cache file: export it again, once
            log.warning("cached graph %s could not be loaded (%s); exporting it again", path, exc)
            path.unlink(missing_ok=True)
    return None


def _remove_older(path: Path, name: str) -> None:
    """Delete the graphs exported earlier under ``name`` (from weights that have changed since): 90 MB each."""
    for old in path.parent.glob(f"{name}-*.onnx"):
        if old != path and len(old.name) == len(path.name):  # the same name, another key
            try:
                old.unlink()
            except OSError:
                pass


def export_module(module, example: dict[str, object], path: Path, outputs: list[str],
                  token_outputs: tuple[str, ...] = ()) -> None:
    """``torch.onnx.export`` of ``module(**example)`` with batch and sequence length left dynamic
    (``token_outputs``: outputs with one value per token, whose second axis is the sequence too)."""
    import torch

    names = list(example)
    axes = {n: {0: "batch", 1: "tokens"} for n in names}
    axes.update({o: {0: "batch", 1: "tokens"} if o in token_outputs else {0: "batch"} for o in outputs})
    with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on shapes it keeps dynamic
        torch.onnx.export(module.eval(), tuple(example[n] for n in names), str(path), input_names=names,
                          output_names=outputs, dynamic_axes=axes, opset_version=OPSET, dynamo=False)


def quantize(source: Path, target: Path) -> None:
    """``source``'s graph with its matrix weights in int8 (dynamic quantisation) written to ``target``:
    about 1.5x faster on these CPUs, a quarter of the size."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # its advice to pre-process applies to convolutional models, not this one
    try:
        quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8)
    finally:
        root.setLevel(level)
