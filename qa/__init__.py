"""qa: source-grounded, extractive question answering over your own documents.

>>> from qa import Pipeline
>>> p = Pipeline.from_config("qa.yaml")
>>> p.ask("When was the Treaty on Basic Relations signed?").to_dict()

Names are imported on first use (PEP 562), so ``import qa`` and ``qa --help`` stay fast
and a command pulls in only the stages it runs.
"""

import importlib
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

_EXPORTS = {
    "Answer": "answer.answerer", "Citation": "answer.answerer", "Chunk": "ingest.chunking", "Config": "config",
    "load_config": "config", "Document": "ingest.corpus", "Embedder": "models.embedding",
    "SentenceTransformerEmbedder": "models.embedding", "QAError": "errors", "Pipeline": "pipeline",
    "Passage": "retrieval.retriever", "Evidence": "check.verdicts", "Mismatch": "check.verdicts",
    "Verdict": "check.verdicts", "QuoteCheck": "check.quotes",
}

__all__ = ["Answer", "Chunk", "Citation", "Config", "Document", "Embedder", "Evidence", "Mismatch", "Passage",
           "Pipeline", "QAError", "QuoteCheck", "SentenceTransformerEmbedder", "Verdict", "load_config"]
__version__ = "0.1.0"


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'qa' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
