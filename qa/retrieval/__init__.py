"""Question -> ranked passages and candidate sentences with their features (dense + BM25)."""
