"""Files -> Documents: formats, the corpus walk and sources.yaml, sentences, chunking."""
