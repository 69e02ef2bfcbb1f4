"""Candidate sentences -> an extractive Answer with citations, or an abstention."""
