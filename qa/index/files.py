"""Housekeeping of the index's build folders: checksums, verification, and removal of leftovers.

A build records the sha256 of each of its files in its manifest; loading
recomputes them, so a truncated, edited or missing file is reported instead of
served. Builds killed before they went live leave ``.tmp-build-<stamp>-<pid>``
folders (or a ``.CURRENT.<pid>.tmp`` pointer) behind; the next build removes
those whose process is gone, and every superseded ``build-*`` folder. Builds of one index folder
take turns (``build_lock``): two `qa index` runs at once would otherwise each remove the other's
build as superseded.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

from qa.errors import ConfigError, CorruptIndexError, IndexWriteError

CURRENT = "CURRENT"
LOCK = ".build.lock"


class ReadOnlyIndexError(IndexWriteError):
    """Not even the build lock can be written: fine for a build with nothing to do."""


def write_failure(index_dir: Path, exc: BaseException) -> str:
    """One line for a build that could not write into ``index_dir``: what failed, and what to do."""
    text = str(exc).strip()
    why = getattr(exc, "strerror", None) or (text.splitlines()[0] if text else type(exc).__name__)
    if getattr(exc, "errno", None) != errno.ENOSPC:
        try:
            if shutil.disk_usage(index_dir).free < 1 << 20:  # numpy and faiss report a full disk without an errno
                why = f"no space left on the device ({why})"
        except OSError:
            pass
    return (f"cannot write the index in {index_dir} ({why}): free space there, make the folder writable or point "
            "'index:' in the config to another folder; the previous index, if any, is still the one served")


@contextlib.contextmanager
def build_lock(index_dir: Path, waiting: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold the index folder's build lock (an advisory ``flock``; the OS releases it if the process dies).

    When another process holds it, ``waiting`` is told once and this one waits its turn.
    """
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create the index folder {index_dir} ({exc.strerror}): "
                          "point 'index:' in the config to a writable folder") from None
    try:
        fh = open(index_dir / LOCK, "a+b")
    except OSError as exc:
        raise ReadOnlyIndexError(write_failure(index_dir, exc)) from None
    with fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if waiting:
                waiting(f"another build of {index_dir} is running; waiting for it to finish")
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def digest(path: Path) -> str:
    """sha256 of one file, as recorded in a build's manifest."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def checksums(folder: Path) -> dict[str, str]:
    """sha256 of every file of a build (manifest.json aside), by path relative to the build."""
    return {p.relative_to(folder).as_posix(): digest(p) for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != "manifest.json"}


def verify_build(path: Path, manifest: dict) -> None:
    """Refuse a build whose files are not the ones it was written with (truncated, edited, missing)."""
    recorded = manifest.get("checksums")
    if recorded is None:
        return  # built before checksums were recorded; the loader's size checks still apply
    actual = checksums(path)
    bad = sorted(k for k in set(recorded) | set(actual) if recorded.get(k) != actual.get(k))
    if bad:
        what = "is missing" if bad[0] not in actual else "is not in the manifest" if bad[0] not in recorded \
            else "changed since the index was built"
        raise CorruptIndexError(f"index at {path} is damaged ({bad[0]} {what}): run `qa index --rebuild`")


def _pid_alive(name: str) -> bool:
    """Whether the process whose id ends ``name`` (``...-<pid>`` / ``...<pid>.tmp``) still runs."""
    digits = name.removesuffix(".tmp").replace(".", "-").rsplit("-", 1)[-1]
    if not digits.isdigit() or int(digits) == os.getpid():
        return False
    try:
        os.kill(int(digits), 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # it exists but is not ours
    return True


def cleanup_builds(index_dir: Path, keep: set[str]) -> None:
    """Remove older builds and leftovers of killed ones (never the live build, nor a build still running)."""
    for p in index_dir.iterdir():
        if p.name in keep:
            continue
        if p.is_dir() and p.name.startswith("build-"):
            shutil.rmtree(p, ignore_errors=True)
        elif p.is_dir() and p.name.startswith(".tmp-build-") and not _pid_alive(p.name):
            shutil.rmtree(p, ignore_errors=True)
        elif p.is_file() and p.name.startswith(f".{CURRENT}.") and not _pid_alive(p.name):
            with contextlib.suppress(OSError):  # a read-only folder keeps its leftovers; they do no harm
                p.unlink(missing_ok=True)
