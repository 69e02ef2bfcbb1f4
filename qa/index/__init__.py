"""Building (incremental, atomic, locked) and loading the index: vectors (FAISS), BM25, build files."""
