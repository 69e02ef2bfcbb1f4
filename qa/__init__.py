"""qa: source-grounded, extractive question answering over your own documents.

>>> from qa import Pipeline
>>> p = Pipeline.from_config("qa.yaml")
>>> p.ask("When was the Treaty on Basic Relations signed?").to_dict()
"""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from .answer import Answer, Citation  # noqa: E402
from .chunking import Chunk  # noqa: E402
from .claims import Evidence, Mismatch, Verdict  # noqa: E402
from .config import Config, load_config  # noqa: E402
from .documents import Document  # noqa: E402
from .embedding import Embedder, SentenceTransformerEmbedder  # noqa: E402
from .errors import QAError  # noqa: E402
from .pipeline import Pipeline  # noqa: E402
from .quotes import QuoteCheck  # noqa: E402
from .retrieval import Passage  # noqa: E402

__all__ = ["Answer", "Chunk", "Citation", "Config", "Document", "Embedder", "Evidence", "Mismatch", "Passage",
           "Pipeline", "QAError", "QuoteCheck", "SentenceTransformerEmbedder", "Verdict", "load_config"]
__version__ = "0.1.0"
