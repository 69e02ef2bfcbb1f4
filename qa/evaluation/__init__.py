"""qa eval: question sets, claim sets and SQuAD-format files."""
