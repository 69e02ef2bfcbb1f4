"""The vector index: exact vs HNSW by size, agreement with brute force, reload without re-embedding."""

import dataclasses
import json
import shutil

import numpy as np
import pytest

from qa import Pipeline
from qa.index import vectors
from qa.config import VectorsConfig
from qa.errors import CorruptIndexError, StaleIndexError
from qa.index.store import live_path, load_index

from .conftest import fake_pipeline


def unit(rng, n, d):
    x = rng.standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def brute_force(data, queries, k):
    return np.argsort(-(queries @ data.T), axis=1, kind="stable")[:, :k]


def test_flat_index_equals_numpy_argsort():
    rng = np.random.default_rng(0)
    data, queries = unit(rng, 2000, 48), unit(rng, 30, 48)
    index = vectors.build(data, vectors.plan(VectorsConfig(), len(data)))
    assert vectors.kind_of(index) == "flat"
    scores, rows = vectors.search(index, queries, 10)
    assert np.array_equal(rows, brute_force(data, queries, 10))
    assert np.allclose(scores, np.take_along_axis(queries @ data.T, rows, axis=1), atol=1e-5)


def test_hnsw_agrees_with_brute_force_and_returns_inner_products():
    rng = np.random.default_rng(1)
    data, queries = unit(rng, 5000, 32), unit(rng, 100, 32)
    spec = vectors.plan(VectorsConfig(exact_below=1000, hnsw_m=16, ef_construction=100), len(data))
    assert spec == vectors.VectorIndexSpec("hnsw", m=16, ef_construction=100)
    index = vectors.build(data, spec, ef_search=128)
    assert vectors.kind_of(index) == "hnsw" and index.metric_type == 0  # faiss.METRIC_INNER_PRODUCT
    scores, rows = vectors.search(index, queries, 10)
    truth = brute_force(data, queries, 10)
    recall = np.mean([len(set(r) & set(t)) / 10 for r, t in zip(rows, truth)])
    assert recall >= 0.95
    assert np.allclose(scores, np.take_along_axis(queries @ data.T, rows, axis=1), atol=1e-5)
    assert np.all(np.diff(scores, axis=1) <= 1e-6)  # best first


def test_ef_search_trades_recall_and_is_applied_on_load(tmp_path):
    rng = np.random.default_rng(2)
    data, queries = unit(rng, 4000, 64), unit(rng, 100, 64)
    index = vectors.build(data, vectors.VectorIndexSpec("hnsw", m=4, ef_construction=8), ef_search=1)
    truth = brute_force(data, queries, 10)

    def recall(ix):
        rows = vectors.search(ix, queries, 10)[1]
        return np.mean([len(set(r) & set(t)) / 10 for r, t in zip(rows, truth)])

    low = recall(index)
    vectors.save(index, tmp_path / "v.faiss")
    reloaded = vectors.load(tmp_path / "v.faiss", ef_search=400)
    assert reloaded.hnsw.efSearch == 400
    assert recall(reloaded) > low + 0.1


def test_threshold_switches_between_exact_and_hnsw():
    settings = VectorsConfig(exact_below=100)
    assert vectors.plan(settings, 99).kind == "flat"
    assert vectors.plan(settings, 100).kind == "hnsw"
    assert vectors.plan(VectorsConfig(exact_below=0), 0).kind == "hnsw"
    assert vectors.VectorIndexSpec.from_dict(None) == vectors.VectorIndexSpec("flat")


def test_search_of_an_empty_index_returns_nothing():
    index = vectors.build(np.zeros((0, 8), np.float32), vectors.VectorIndexSpec("hnsw", m=8, ef_construction=16))
    scores, rows = vectors.search(index, np.ones(8, np.float32), 5)
    assert rows.shape == (1, 0) and scores.shape == (1, 0)


def _with_vectors(config, **settings):
    return dataclasses.replace(config, vectors=dataclasses.replace(config.vectors, **settings))


def test_large_corpus_gets_hnsw_recorded_in_the_manifest(tmp_path):
    p = fake_pipeline(tmp_path, vectors={"exact_below": 10, "hnsw_m": 8, "ef_construction": 40, "ef_search": 64})
    n = p.index.manifest["sentences"]
    assert n >= 10
    assert p.index.manifest["vectors"] == {"kind": "hnsw", "m": 8, "ef_construction": 40}
    assert vectors.kind_of(p.index.faiss_index) == "hnsw" and p.index.faiss_index.hnsw.efSearch == 64
    ans = p.ask("Which river flows through the capital?")
    assert all(c.quote == p.source(c.source)["text"][c.start:c.end] for c in ans.citations)


def test_vector_settings_change_rebuilds_faiss_without_re_embedding(tmp_path):
    p = fake_pipeline(tmp_path)  # seeds are far below the default threshold: exact
    assert p.index.manifest["vectors"] == {"kind": "flat"}
    old_build, old_vectors = p.index.path, p.index.vectors.copy()
    flat_answer = p.ask("When did Japan rule Korea?").to_dict()

    hnsw_cfg = _with_vectors(p.config, exact_below=1, hnsw_m=16, ef_construction=64)
    with pytest.raises(StaleIndexError, match=r"different vector index \(\{'kind': 'flat'\} -> .*hnsw.*run `qa index`"):
        load_index(hnsw_cfg)
    emb = p.embedder
    calls = emb.calls
    q = Pipeline(hnsw_cfg, embedder=emb)
    report = q.build_index(progress=False)
    assert emb.calls == calls and report.embedded == 0 and not report.skipped
    assert report.unchanged == report.documents and report.chunks == p.index.manifest["chunks"]
    assert q.index.path != old_build and not old_build.exists()
    assert vectors.kind_of(q.index.faiss_index) == "hnsw"
    assert np.array_equal(q.index.vectors, old_vectors)
    # The seeds are small enough that HNSW finds the same neighbours: same answer.
    assert q.ask("When did Japan rule Korea?").to_dict() == flat_answer

    # A fresh process (new Pipeline) loads the HNSW build as is; a second `qa index` has nothing to do.
    r = Pipeline(hnsw_cfg, embedder=emb)
    assert vectors.kind_of(r.index.faiss_index) == "hnsw"
    calls = emb.calls
    assert r.build_index(progress=False).skipped and emb.calls == calls

    # ef_search is a query-time setting: no rebuild, applied on load.
    assert load_index(_with_vectors(hnsw_cfg, ef_search=300)).faiss_index.hnsw.efSearch == 300
    # And back to exact, still without embedding.
    assert Pipeline(p.config, embedder=emb).build_index(progress=False).embedded == 0 and emb.calls == calls
    assert vectors.kind_of(load_index(p.config).faiss_index) == "flat"


def test_hnsw_changes_are_detected_and_rebuild_keeps_the_old_index_on_failure(tmp_path, monkeypatch):
    p = fake_pipeline(tmp_path, vectors={"exact_below": 1, "hnsw_m": 8})
    other = _with_vectors(p.config, hnsw_m=12)
    with pytest.raises(StaleIndexError, match="different vector index"):
        load_index(other)
    live = live_path(p.config.index)

    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(vectors, "save", boom)
    with pytest.raises(KeyboardInterrupt):
        Pipeline(other, embedder=p.embedder).build_index(progress=False)
    assert live_path(p.config.index) == live and load_index(p.config).faiss_index.hnsw.nb_neighbors(0) == 2 * 8
    assert [x.name for x in p.config.index.iterdir() if x.name.startswith(".tmp")] == []


def test_index_from_before_the_setting_is_read_as_exact(tmp_path):
    p = fake_pipeline(tmp_path)
    build = live_path(p.config.index)
    manifest = json.loads((build / "manifest.json").read_text())
    del manifest["vectors"]
    (build / "manifest.json").write_text(json.dumps(manifest))
    assert vectors.kind_of(load_index(p.config).faiss_index) == "flat"


def test_faiss_file_of_the_wrong_kind_is_corrupt(tmp_path):
    p = fake_pipeline(tmp_path)
    build = live_path(p.config.index)
    manifest = json.loads((build / "manifest.json").read_text())
    cfg = _with_vectors(p.config, exact_below=1)
    manifest["vectors"] = vectors.plan(cfg.vectors, manifest["sentences"]).to_dict()
    assert manifest["vectors"]["kind"] == "hnsw"  # but sentences.faiss is the exact index
    (build / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(CorruptIndexError, match="run `qa index --rebuild`"):
        load_index(cfg)


@pytest.mark.slow
def test_hnsw_answers_like_exact_with_the_real_model(real_seed_pipeline, tmp_path):
    """Real MiniLM vectors of the seeds, rebuilt as HNSW from the stored vectors: same answers."""
    src = real_seed_pipeline
    shutil.copytree(src.config.index, tmp_path / "index")
    cfg = _with_vectors(dataclasses.replace(src.config, index=tmp_path / "index"),
                        exact_below=1, hnsw_m=16, ef_construction=100, ef_search=64)
    q = Pipeline(cfg, embedder=src.embedder)
    assert q.build_index(progress=False).embedded == 0
    assert vectors.kind_of(q.index.faiss_index) == "hnsw"
    for question in ["When did Japan rule Korea?", "Who wrote the Declaration of Independence?",
                     "What is the boiling point of water?"]:
        assert q.ask(question).to_dict() == src.ask(question).to_dict()


def test_a_single_query_runs_on_one_thread_and_restores_the_thread_count():
    import faiss

    rng = np.random.default_rng(3)
    data = unit(rng, 500, 16)
    index = vectors.build(data, vectors.VectorIndexSpec())
    before = faiss.omp_get_max_threads()
    rows = vectors.search(index, data[7], 3)[1]
    assert rows[0, 0] == 7 and faiss.omp_get_max_threads() == before


# ------------------------------------------------------------------ one vector per distinct sentence text

def test_row_index_search_equals_brute_force_over_rows():
    """FAISS holds each distinct vector once; searched by row, it must give what a search over every row gives."""
    rng = np.random.default_rng(5)
    distinct = unit(rng, 40, 16)
    row_vector = rng.integers(0, 40, 600)
    rows_data = distinct[row_vector]
    index = vectors.RowIndex(vectors.build(distinct, vectors.VectorIndexSpec()), row_vector)
    assert index.ntotal == 600 and vectors.kind_of(index) == "flat"
    queries = unit(rng, 20, 16)
    scores, rows = vectors.search(index, queries, 25)
    brute = queries @ rows_data.T
    for q in range(len(queries)):
        assert len(set(rows[q].tolist())) == 25
        assert np.allclose(brute[q, rows[q]], scores[q], atol=1e-5)  # each row scored as itself
        assert np.allclose(scores[q], np.sort(brute[q])[::-1][:25], atol=1e-5)  # and the best 25 rows' scores
    _, one = vectors.search(index, queries[0], 1000)  # more than there are rows: every row once
    assert sorted(one[0].tolist()) == list(range(600))


def test_row_vectors_read_like_an_array_of_rows():
    rng = np.random.default_rng(6)
    distinct = unit(rng, 5, 8)
    row_vector = np.array([0, 1, 0, 2, 4, 4, 3])
    v = vectors.RowVectors(distinct, row_vector)
    full = distinct[row_vector]
    assert v.shape == (7, 8) and len(v) == 7
    assert np.array_equal(v[3], full[3]) and np.array_equal(v[[5, 0]], full[[5, 0]])
    assert np.array_equal(v[np.array([6, 2])], full[[6, 2]]) and np.array_equal(v[2:5], full[2:5])
    assert np.array_equal(np.asarray(v), full) and np.array_equal(v.copy(), full) and (v == full).all()


def test_chunk_means_summed_in_blocks_are_the_means():
    from qa.index.store import chunk_means

    rng = np.random.default_rng(7)
    data = unit(rng, 50, 8)
    spans = np.array([[0, 3], [2, 6], [6, 7], [7, 20], [15, 30], [30, 50]])
    want = np.stack([data[a:b].sum(axis=0) for a, b in spans])
    want /= np.linalg.norm(want, axis=1, keepdims=True)
    for block in (1, 2, 4, 100):
        assert np.allclose(chunk_means(data, spans, block=block), want, atol=1e-6)
    assert np.allclose(chunk_means(vectors.RowVectors(data, np.arange(50)), spans), want, atol=1e-6)
