"""Embedding an index build on Ray: sentence batches go to Ray Data actors that each load the model once.

``qa index --ray [ADDRESS]`` (or ``embedding: {engine: ray, address: ..., workers: N}``) wraps the
local embedder in :class:`RayEmbedder`. A build hands it every sentence it must embed in one
:meth:`RayEmbedder.embed_all` call; the vectors stream back into a memory-mapped file beside the
index (``<index>/.ray-embed/``) with a record of the rows already written, so a killed run resumes
from the batches it finished and embeds nothing twice. Questions (one text at a time) are embedded
locally. Without Ray installed the option says how to install it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from qa.errors import ConfigError

INSTALL = "embedding on Ray needs Ray Data: pip install -e '.[ray]'"


def import_ray():
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise ConfigError(INSTALL) from None
    return ray


class _Actor:
    """One Ray actor: the model loaded once, then batch after batch."""

    def __init__(self, model: str, runtime: str, batch_size: int):
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        from qa.models.embedding import SentenceTransformerEmbedder

        self.embedder = SentenceTransformerEmbedder(model, batch_size=batch_size, runtime=runtime)

    def __call__(self, batch: dict) -> dict:
        vecs = self.embedder.embed([str(t) for t in batch["text"]])
        return {"row": batch["row"], "vec": list(vecs)}


class RayEmbedder:
    """An embedder whose bulk work runs on Ray; single texts (questions) stay local."""

    def __init__(self, local, model: str, runtime: str, address: str = "", workers: int = 2, batch: int = 256,
                 work_dir: Path | None = None):
        self.local = local
        self.model, self.runtime = model, runtime
        self.address, self.workers, self.batch = address, workers, batch
        self.work_dir = work_dir
        import_ray()  # says how to install it before anything else happens

    @property
    def dimension(self) -> int:
        return self.local.dimension

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return self.local.embed(texts)

    def _init(self):
        ray = import_ray()
        if ray.is_initialized():
            return ray
        try:
            if self.address:
                ray.init(address=self.address, log_to_driver=False, ignore_reinit_error=True)
            else:
                ray.init(num_cpus=self.workers, log_to_driver=False, ignore_reinit_error=True,
                         include_dashboard=False)
            import logging

            logging.getLogger("ray.data").setLevel(logging.WARNING)
            ctx = ray.data.DataContext.get_current()
            ctx.enable_progress_bars = False   # the build's own bar counts the sentences
            ctx.execution_options.verbose_progress = False
        except (ConnectionError, RuntimeError, ValueError) as exc:
            first = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else type(exc).__name__
            raise ConfigError(f"Ray at {self.address or 'a local cluster'} does not answer ({first}): "
                              "start it with `ray start --head` or check embedding.address / --ray ADDRESS") from None
        return ray

    def embed_all(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        """Vectors of ``texts``, in order; batches finished by an earlier, killed run are not embedded again."""
        texts = list(texts)
        dim = self.dimension
        if not texts:
            return np.zeros((0, dim), np.float32)
        vecs, done = self._resume(texts, dim)
        todo = np.nonzero(~done)[0]
        if progress and len(texts) - len(todo):
            progress(len(texts) - len(todo))
        if len(todo):
            ray = self._init()
            ds = ray.data.from_items([{"row": int(i), "text": texts[i]} for i in todo])
            out = ds.map_batches(_Actor, fn_constructor_args=(self.model, self.runtime, 32), batch_size=self.batch,
                                 concurrency=self.workers, num_cpus=1)
            for b in out.iter_batches(batch_size=None, prefetch_batches=1):
                rows = np.asarray(b["row"], dtype=np.int64)
                vecs[rows] = np.stack(list(b["vec"])).astype(np.float32)
                done[rows] = True
                self._checkpoint(vecs, done)
                if progress:
                    progress(len(rows))
        return np.array(vecs)

    # ------------------------------------------------------------ resume

    def _paths(self, texts: list[str]) -> tuple[Path, Path] | None:
        if self.work_dir is None:
            return None
        h = hashlib.sha256()
        for t in texts:
            h.update(t.encode("utf-8") + b"\0")
        folder = self.work_dir / ".ray-embed"
        key = f"{self.model.replace('/', '_')}-{h.hexdigest()[:16]}"
        return folder / f"{key}.vectors.npy", folder / f"{key}.done.npy"

    def _resume(self, texts: list[str], dim: int):
        paths = self._paths(texts)
        if paths is None:
            return np.zeros((len(texts), dim), np.float32), np.zeros(len(texts), bool)
        vec_path, done_path = paths
        vec_path.parent.mkdir(parents=True, exist_ok=True)
        if vec_path.exists() and done_path.exists():
            vecs = np.lib.format.open_memmap(vec_path, mode="r+")
            done = np.load(done_path)
            if vecs.shape == (len(texts), dim) and done.shape == (len(texts),):
                self._done_path = done_path
                return vecs, done
        vecs = np.lib.format.open_memmap(vec_path, mode="w+", dtype=np.float32, shape=(len(texts), dim))
        done = np.zeros(len(texts), bool)
        self._done_path = done_path
        np.save(done_path, done)
        return vecs, done

    def _checkpoint(self, vecs, done) -> None:
        if isinstance(vecs, np.memmap):
            vecs.flush()  # the vectors first: a row is marked done only once its vector is on disk
            tmp = self._done_path.with_suffix(".tmp.npy")
            np.save(tmp, done)
            os.replace(tmp, self._done_path)

    def finish(self) -> None:
        """Forget the resume files: called once the build that needed them is published."""
        if self.work_dir is not None:
            shutil.rmtree(self.work_dir / ".ray-embed", ignore_errors=True)
