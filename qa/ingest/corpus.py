"""Load a corpus folder into :class:`Document` objects.

The document id is the file's path relative to the corpus folder (with ``/``).
``text`` is what :mod:`qa.ingest.formats` extracts: for ``.txt``/``.md`` the decoded
file, byte for byte; for HTML the main text; for PDF the page texts (with each
page's start offset in ``pages``). Citation offsets index into exactly that
text, which is also what the sources view shows. Files that cannot be
read are skipped with a warning that names them and says why; the rest load.
An optional ``sources.yaml`` in the corpus folder gives titles and metadata.
"""

from __future__ import annotations

import bisect
import hashlib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import yaml

from qa.errors import CorpusError
from qa.ingest.formats import EXTRACTORS, SUFFIXES, extract, markdown_headings

log = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = SUFFIXES
MANIFEST_NAME = "sources.yaml"
META_KEYS = ("title", "url", "author", "site", "date", "license")
# Formats a user may expect to be read, since they hold text: skipped with one warning per format
# (images, archives and the like are passed over in silence).
NAMED_UNSUPPORTED = {".svg": "an image, even when it holds text", ".xhtml": "rename it .html",
                     ".xml": "save the text as .txt or .html", ".rtf": "save it as .txt or .pdf",
                     ".doc": "save it as .pdf or .txt", ".docx": "save it as .pdf or .txt",
                     ".odt": "save it as .pdf or .txt", ".epub": "save it as .html or .pdf"}

Warn = Callable[[str], None]


@dataclass(frozen=True)
class Document:
    """One source document; ``text`` is what every offset indexes into."""

    id: str
    title: str
    text: str
    fingerprint: str
    pages: tuple[int, ...] = ()  # start offset in ``text`` of each page (PDF only)
    meta: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("Document.id must not be empty")
        if self.pages and (self.pages[0] != 0 or list(self.pages) != sorted(self.pages)):
            raise ValueError("Document.pages must be ascending page start offsets from 0")


def page_of(pages: Sequence[int], offset: int) -> int | None:
    """1-based page holding ``offset``, or None for a document without pages."""
    if not pages:
        return None
    return bisect.bisect_right(pages, offset)


def fingerprint(data: bytes, suffix: str = ".txt") -> str:
    """``<extractor version>:<sha256 of the bytes>``: equal bytes read by the same extractor, equal fingerprint."""
    return f"{EXTRACTORS[suffix.lower()]}:{hashlib.sha256(data).hexdigest()}"


def _markdown_title(text: str) -> str | None:
    """The first heading, outside code fences ("# install" in a bash block is no title)."""
    headings = markdown_headings(text)
    return headings[0][1] if headings else None


def load_sources_manifest(folder: Path, warn: Warn) -> dict[str, dict[str, Any]]:
    """Read ``sources.yaml`` (doc id -> metadata); a broken manifest is a warning, not a failure."""
    path = folder / MANIFEST_NAME
    if not path.is_file():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError, OSError) as exc:
        warn(f"{path}: ignored, not readable YAML ({type(exc).__name__})")
        return {}
    if not isinstance(data, dict):
        warn(f"{path}: ignored, expected a mapping of document id -> metadata")
        return {}
    out = {}
    for doc_id, meta in data.items():
        if isinstance(meta, dict):
            out[str(doc_id)] = {k: str(v) for k, v in meta.items() if k in META_KEYS and v is not None}
        else:
            warn(f"{path}: entry {doc_id!r} ignored, expected a mapping with 'title' etc.")
    return out


def _utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
        return True
    except UnicodeEncodeError:  # undecodable bytes of a file name arrive as lone surrogates
        return False


def iter_corpus_files(folder: Path, warn: Warn) -> Iterator[tuple[str, Path]]:
    """Yield ``(doc_id, path)`` for supported files inside ``folder``, in a stable order.

    Hidden files and folders are ignored; symlinks that point outside the
    corpus folder are skipped with a warning, so a corpus can never expose
    files from elsewhere on the machine.
    """
    root = folder.resolve()

    def unreadable(exc: OSError) -> None:  # os.walk would skip a folder it cannot list without a word
        where = Path(exc.filename or root)
        name = where.relative_to(root).as_posix() + "/" if where.is_relative_to(root) else str(where)
        warn(f"{name}: skipped, the folder cannot be read ({exc.strerror or type(exc).__name__}); "
             "give the user running qa permission to read it")

    unsupported: dict[str, list[str]] = {}
    for dirpath, dirnames, filenames in os.walk(root, onerror=unreadable, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for d in [d for d in dirnames if (Path(dirpath) / d).is_symlink()]:  # os.walk does not follow them
            warn(f"{(Path(dirpath) / d).relative_to(root).as_posix()}/: skipped, it is a symlinked folder; "
                 "copy the folder into the corpus or link its files one by one")
        for name in sorted(filenames):
            if name.startswith(".") or name == MANIFEST_NAME:
                continue
            path = Path(dirpath) / name
            doc_id = path.relative_to(root).as_posix()
            if path.suffix.lower() not in SUPPORTED_SUFFIXES:
                if path.suffix.lower() in NAMED_UNSUPPORTED:
                    unsupported.setdefault(path.suffix.lower(), []).append(doc_id)
                continue
            if not _utf8(doc_id):  # the id is written to the index as UTF-8 and shown in citations
                warn(f"{doc_id.encode('utf-8', 'backslashreplace').decode()}: skipped, its name is not valid "
                     "UTF-8; rename the file")
                continue
            if path.is_symlink():
                try:
                    target = path.resolve()
                except (RuntimeError, OSError):  # a link to itself, or links pointing at each other
                    warn(f"{doc_id}: skipped, it is a symlink loop (it points back to itself); remove the link")
                    continue
                if not target.is_relative_to(root):
                    warn(f"{doc_id}: skipped, it is a symlink pointing outside the corpus folder")
                    continue
            if not path.is_file():  # a pipe or device would block or never end; a broken link has no text
                why = ("it disappeared while the corpus was being read" if not os.path.lexists(path)
                       else "it is a broken symlink" if path.is_symlink() else "it is not a regular file")
                warn(f"{doc_id}: skipped, {why}")
                continue
            yield doc_id, path
    for suffix, ids in sorted(unsupported.items()):
        more = f" and {len(ids) - 1} more" if len(ids) > 1 else ""
        warn(f"{ids[0]}{more}: skipped, {suffix} files are not indexed ({NAMED_UNSUPPORTED[suffix]}); "
             f"supported formats: {', '.join(SUPPORTED_SUFFIXES)}")


def read_document(doc_id: str, path: Path, meta: dict[str, Any], warn: Warn,
                  max_bytes: int | None = None) -> Document | None:
    """Read one file; return None (after a warning saying why) when it cannot be used.

    At most ``max_bytes`` (+1) bytes are read, so a huge file is refused without loading it.
    """
    try:
        with open(path, "rb") as fh:
            data = fh.read() if max_bytes is None else fh.read(max_bytes + 1)
    except FileNotFoundError:
        warn(f"{doc_id}: skipped, it disappeared while the corpus was being read")
        return None
    except OSError as exc:
        warn(f"{doc_id}: skipped, cannot be read ({exc.strerror or type(exc).__name__})")
        return None
    if max_bytes is not None and len(data) > max_bytes:
        warn(f"{doc_id}: skipped, it is larger than {max_bytes / 1e6:g} MB (limits.max_file_mb in qa.yaml)")
        return None
    suffix = path.suffix.lower()
    got = extract(doc_id, suffix, data, warn)
    if got is None:
        return None
    title = (meta.get("title") or got.title or (_markdown_title(got.text) if suffix == ".md" else None)
             or doc_id)
    return Document(id=doc_id, title=title, text=got.text, fingerprint=fingerprint(data, suffix), pages=got.pages,
                    meta={k: v for k, v in meta.items() if k != "title"})


def check_corpus_folder(folder: str | Path) -> Path:
    """``folder`` as a Path; :class:`CorpusError` naming the config key when it is not a folder."""
    folder = Path(folder)
    if not folder.is_dir():
        what = "is a file, not a folder" if folder.exists() else "not found"
        raise CorpusError(f"corpus folder {what}: {folder} (set 'corpus:' in the config)")
    return folder


def load_corpus(folder: str | Path, warn: Warn | None = None, max_bytes: int | None = None) -> list[Document]:
    """Load every supported document under ``folder`` (files over ``max_bytes`` are skipped).

    Raises :class:`CorpusError` when the folder is missing or nothing in it is usable.
    """
    warn = warn or log.warning
    folder = check_corpus_folder(folder)
    manifest = load_sources_manifest(folder, warn)
    docs = []
    seen = set()
    for doc_id, path in iter_corpus_files(folder, warn):
        seen.add(doc_id)
        doc = read_document(doc_id, path, manifest.get(doc_id, {}), warn, max_bytes)
        if doc is not None:
            docs.append(doc)
    for doc_id in sorted(set(manifest) - seen):  # a typo or a moved file: its title would silently not apply
        warn(f"{MANIFEST_NAME}: entry {doc_id!r} matches no document (ids are paths relative to the corpus "
             "folder, like 'notes/a.md')")
    if not docs:
        raise CorpusError(f"no readable documents ({', '.join(SUPPORTED_SUFFIXES)}) in {folder}")
    return docs
