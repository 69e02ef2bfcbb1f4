import dataclasses
import json
import shutil

import numpy as np
import pytest

from qa import Pipeline
from qa.config import config_from_dict
from qa.errors import CorruptIndexError, IndexMissingError, StaleIndexError
from qa.index.store import chunk_means, live_path, load_index

from .conftest import SEEDS, fake_pipeline, make_corpus
from .fakes import FakeEmbedder


def test_build_then_nothing_to_do(tmp_path):
    p = fake_pipeline(tmp_path)
    emb = p.embedder
    before = emb.embedded
    report = p.build_index(progress=False)
    assert report.skipped and report.embedded == 0 and emb.embedded == before
    assert report.to_dict()["unchanged"] == 3


def test_only_changed_documents_are_embedded(tmp_path):
    corpus = make_corpus(tmp_path, {"a.txt": "Alpha is first. It has two sentences.", "b.txt": "Beta text here."})
    p = fake_pipeline(tmp_path, corpus)
    (corpus / "b.txt").write_text("Beta text changed. Plus one more sentence.")
    (corpus / "c.txt").write_text("Gamma is new.")
    (corpus / "a.txt").unlink()
    r = p.build_index(progress=False)
    assert (r.added, r.updated, r.removed, r.unchanged) == (1, 1, 1, 0)
    assert r.embedded == 3  # two sentences of b, one of c
    d = r.to_dict()
    assert {"added", "updated", "removed", "unchanged", "chunks", "seconds"} <= set(d)


def test_unchanged_documents_reuse_vectors(tmp_path):
    corpus = make_corpus(tmp_path, {"a.txt": "Alpha is first. It has two sentences.", "b.txt": "Beta text here."})
    p = fake_pipeline(tmp_path, corpus)
    vec_before = p.index.vectors.copy()
    (corpus / "c.txt").write_text("Gamma is new.")
    r = p.build_index(progress=False)
    assert r.embedded == 1 and r.unchanged == 2
    assert np.array_equal(p.index.vectors[: len(vec_before)], vec_before)
    assert p.index.chunk_ids[:2] == ["a.txt:0-37", "b.txt:0-15"]


def test_stale_index_is_reported_for_corpus_model_and_chunking_changes(tmp_path):
    p = fake_pipeline(tmp_path)
    (p.config.corpus / "new.txt").write_text("A new document.")
    with pytest.raises(StaleIndexError, match=r"different corpus \(1 file\(s\) changed.*run `qa index`"):
        load_index(p.config)
    (p.config.corpus / "new.txt").unlink()
    load_index(p.config)
    other = dataclasses.replace(p.config, model="another-model")
    with pytest.raises(StaleIndexError, match="different model"):
        load_index(other)
    other = dataclasses.replace(p.config, chunking=dataclasses.replace(p.config.chunking, size=500))
    with pytest.raises(StaleIndexError, match="different chunking"):
        load_index(other)


def test_missing_index_says_run_qa_index(tmp_path):
    cfg = config_from_dict({"corpus": str(SEEDS), "index": str(tmp_path / "none")})
    with pytest.raises(IndexMissingError, match="run `qa index`"):
        load_index(cfg)


@pytest.mark.parametrize("damage", ["truncate_vectors", "garbage_manifest", "delete_faiss", "bad_pointer",
                                    "truncate_chunks"])
def test_damaged_index_is_detected(tmp_path, damage):
    p = fake_pipeline(tmp_path)
    build = live_path(p.config.index)
    if damage == "truncate_vectors":
        data = (build / "vectors.npy").read_bytes()
        (build / "vectors.npy").write_bytes(data[: len(data) // 2])
    elif damage == "garbage_manifest":
        (build / "manifest.json").write_text("{not json")
    elif damage == "delete_faiss":
        (build / "sentences.faiss").unlink()
    elif damage == "bad_pointer":
        (p.config.index / "CURRENT").write_text("build-nothing\n")
    elif damage == "truncate_chunks":
        (build / "chunks.json").write_text(json.dumps({"ids": [], "doc": [], "span": [], "sents": []}))
    with pytest.raises(CorruptIndexError, match="qa index --rebuild"):
        load_index(p.config)
    # ...and a rebuild repairs it.
    p.build_index(rebuild=True, progress=False)
    assert load_index(p.config).chunk_ids


class ExplodingEmbedder(FakeEmbedder):
    def embed(self, texts):
        raise RuntimeError("killed halfway")


def test_failed_build_leaves_previous_index_live(tmp_path):
    p = fake_pipeline(tmp_path)
    old = live_path(p.config.index)
    (p.config.corpus / "new.txt").write_text("Brand new text to embed.")
    broken = Pipeline(p.config, embedder=ExplodingEmbedder())
    with pytest.raises(RuntimeError):
        broken.build_index(progress=False)
    assert live_path(p.config.index) == old
    assert load_index(p.config, check=False).chunk_ids
    assert not [x for x in p.config.index.iterdir() if x.name.startswith(".tmp")]


def test_faiss_search_equals_brute_force(tmp_path):
    rng = np.random.default_rng(0)
    import faiss

    vecs = rng.normal(size=(500, 32)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    index = faiss.IndexFlatIP(32)
    index.add(vecs)
    q = vecs[:10] + 0.1 * rng.normal(size=(10, 32)).astype(np.float32)
    _, got = index.search(q, 10)
    want = np.argsort(-(q @ vecs.T), axis=1)[:, :10]
    assert np.array_equal(got, want)


def test_chunk_vectors_are_normalised_means():
    v = np.eye(4, dtype=np.float32)
    m = chunk_means(v, np.array([[0, 2], [2, 3]]))
    assert np.allclose(m[0], np.array([1, 1, 0, 0]) / np.sqrt(2)) and np.allclose(m[1], v[2])


def test_index_is_written_atomically_into_build_folders(tmp_path):
    p = fake_pipeline(tmp_path)
    first = live_path(p.config.index)
    (p.config.corpus / "x.txt").write_text("Extra.")
    p.build_index(progress=False)
    second = live_path(p.config.index)
    assert first != second and not first.exists()
    assert (p.config.index / "CURRENT").read_text().strip() == second.name
    shutil.rmtree(p.config.index)
    with pytest.raises(IndexMissingError):
        load_index(p.config)


def test_sentences_are_embedded_longest_first_and_land_on_their_own_rows(tmp_path):
    class Recording(FakeEmbedder):
        def __init__(self):
            super().__init__()
            self.batches = []

        def embed(self, texts):
            self.batches.append(list(texts))
            return super().embed(texts)

    corpus = make_corpus(tmp_path, {"a.txt": "Short one. A much longer second sentence with many words in it. Mid size here.",
                                    "b.txt": "Tiny. Another fairly long sentence about rivers and mountains."})
    emb = Recording()
    cfg = config_from_dict({"corpus": str(corpus), "index": str(tmp_path / "index")})
    p = Pipeline(cfg, embedder=emb)
    p.build_index(progress=False)
    lengths = [len(t) for t in emb.batches[0]]
    assert lengths == sorted(lengths, reverse=True)
    idx = p.index
    for row in range(len(idx.sent_doc)):
        assert np.array_equal(idx.vectors[row], FakeEmbedder().embed([idx.sentence_text(row)])[0])


def test_a_repeated_sentence_is_stored_and_embedded_once(tmp_path):
    """A text repeated 200 times (the probe's 49.9 MB file held 2,000 sentences 400 times each) is one vector."""
    repeated = "The harbour ledger lists crates of plums."
    corpus = make_corpus(tmp_path, {"a.txt": "\n\n".join([repeated] * 120 + ["The bridge opened in 1966."]),
                                    "b.txt": " ".join([repeated] * 80) + " Kobe hosts the festival."})
    emb = FakeEmbedder()
    p = Pipeline(config_from_dict({"corpus": str(corpus), "index": str(tmp_path / "index"), "reader": False,
                                   "extractor": False}), embedder=emb)
    report = p.build_index(progress=False)
    idx = p.index
    assert report.sentences == len(idx.sent_doc) == 202 and report.embedded == emb.embedded == 3
    assert idx.manifest["distinct"] == 3
    assert np.load(live_path(p.config.index) / "vectors.npy").shape == (3, emb.dimension)  # stored once
    assert idx.faiss_index.ntotal == 202 and idx.faiss_index.index.ntotal == 3
    for row in (0, 57, 150, 201):  # and read back on every row
        assert np.array_equal(idx.vectors[row], FakeEmbedder().embed([idx.sentence_text(row)])[0])
    ans = p.ask("When did the bridge open?")
    assert not ans.abstained and "1966" in ans.citations[0].quote
    assert p.build_index(progress=False).skipped


def test_an_index_with_a_vector_per_row_from_before_still_loads_and_is_reused(tmp_path):
    """Builds written before vectors were stored once per text have one row each and no sentence->vector map."""
    from qa.index.files import checksums

    p = fake_pipeline(tmp_path)
    answer = p.ask("When did Japan rule Korea?").to_dict()
    build = live_path(p.config.index)
    with np.load(build / "sentences.npz") as z:
        arrays = {k: z[k] for k in z.files}
    np.save(build / "vectors.npy", np.asarray(p.index.vectors))
    np.savez(build / "sentences.npz", **{k: v for k, v in arrays.items() if k != "vec"})
    manifest = json.loads((build / "manifest.json").read_text())
    del manifest["distinct"]
    manifest["checksums"] = checksums(build)
    (build / "manifest.json").write_text(json.dumps(manifest))
    old = Pipeline(p.config, embedder=p.embedder)
    assert old.ask("When did Japan rule Korea?").to_dict() == answer
    (p.config.corpus / "new.txt").write_text("A new document about the harvest.")
    before = p.embedder.embedded
    assert old.build_index(progress=False).embedded == 1 and p.embedder.embedded == before + 1  # old vectors reused
