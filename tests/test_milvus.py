"""The milvus backend against milvus-lite: same answers as faiss on the seeds, incremental updates,
atomic publish, errors a user can act on. ``pytest -m server`` runs the seed test against the Milvus
server named by ``QA_MILVUS_URI`` (and ``QA_MILVUS_TOKEN``) instead of a milvus-lite file."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
import yaml

from qa import Pipeline, cli
from qa.config import config_from_dict
from qa.errors import ConfigError, IndexMissingError, StaleIndexError
from qa.index.interface import CHUNKS, SENTENCES

from .conftest import ROOT, SEEDS, fake_pipeline, make_corpus
from .fakes import FakeEmbedder

pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")

QUESTIONS = [q["question"] for q in yaml.safe_load((ROOT / "eval" / "seed_questions.yaml").read_text("utf-8"))["questions"]]


def milvus_pipeline(tmp, corpus, uri=None, token="", **settings) -> Pipeline:
    store = {"kind": "milvus", "uri": uri or str(tmp / "milvus.db"), "collection": "qa_test"}
    if token:
        store["token"] = token
    cfg = config_from_dict({"corpus": str(corpus), "index": str(tmp / "index"), "reader": False, "extractor": False,
                            "store": store, **settings})
    p = Pipeline(cfg, embedder=FakeEmbedder())
    p.build_index(progress=False, rebuild=True)
    return p


def same_answer(a, b) -> bool:
    key = lambda x: (x.answer, x.abstained, [(c.source, c.start, c.end, c.answer_start, c.answer_end)  # noqa: E731
                                             for c in x.citations], [(p.source, p.start, p.end) for p in x.passages])
    return key(a) == key(b) and abs(a.confidence - b.confidence) < 1e-3


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("milvus")
    corpus = tmp / "seeds"
    shutil.copytree(SEEDS, corpus)
    return fake_pipeline(tmp / "f", corpus), milvus_pipeline(tmp, corpus)


def test_seed_answers_equal_the_faiss_backend(pair):
    faiss, milvus = pair
    assert milvus.store.counts() == faiss.store.counts()
    same = sum(same_answer(faiss.ask(q), milvus.ask(q)) for q in QUESTIONS)
    assert same >= 0.97 * len(QUESTIONS), f"{same} of {len(QUESTIONS)} answers equal"


def test_lexical_scores_and_idf_match_bm25s(pair):
    faiss, milvus = pair
    tokens = ["japan", "korea", "treati", "1965", "nowher"]
    for of in (CHUNKS, SENTENCES):
        np.testing.assert_allclose(milvus.store.idf(tokens, of), faiss.store.idf(tokens, of), rtol=1e-6)
        fl, ml = faiss.store.lexical(tokens[:4], of), milvus.store.lexical(tokens[:4], of)
        assert ml.max == pytest.approx(fl.max, rel=1e-5)
        f_ids, f_scores = fl.top(10)
        m_ids, m_scores = ml.top(10)
        np.testing.assert_allclose(m_scores, f_scores, rtol=1e-5)
        # The same texts, under each backend's ids (compared by span), above the tied scores at the cut.
        rows = (lambda st, ids: st.chunks(ids) if of == CHUNKS else st.sentences(ids))
        clear = lambda sc: sc > f_scores[-1] + 1e-4  # noqa: E731
        fr, mr = rows(faiss.store, f_ids[clear(f_scores)]), rows(milvus.store, m_ids[clear(m_scores)])
        assert sorted(map(tuple, fr.span.tolist())) == sorted(map(tuple, mr.span.tolist()))
        np.testing.assert_allclose(ml.scores(m_ids), m_scores, rtol=1e-5)


def test_sources_and_conversation_on_milvus(pair):
    faiss, milvus = pair
    doc_id = faiss.store.document_ids()[0]
    assert milvus.source(doc_id) == faiss.source(doc_id)
    with pytest.raises(KeyError):
        milvus.source("no-such-file.txt")
    first = milvus.ask("Who was South Korea's head of state between 1961 and 1979?")
    follow = milvus.ask("Where did he serve during World War II?", history=[first])
    ref = faiss.ask("Where did he serve during World War II?", history=[faiss.ask(first.question)])
    assert follow.standalone_question == ref.standalone_question and same_answer(follow, ref)


def test_incremental_add_update_remove(tmp_path):
    files = {"a.txt": "Alpha is the first letter. It starts the alphabet.\n\nA second paragraph about alpha.",
             "b.md": "# Beta\n\nBeta is the second letter. Greek has it too.",
             "c.txt": "Gamma is the third letter. Physicists name rays after it."}
    corpus = make_corpus(tmp_path, files)
    p = milvus_pipeline(tmp_path, corpus)
    version = p.store.live["version"]
    emb = p.embedder
    again = p.build_index(progress=False)
    assert again.skipped and again.embedded == 0
    (corpus / "a.txt").write_text(files["a.txt"] + "\n\nAlpha was borrowed from the Phoenician aleph.", "utf-8")
    (corpus / "d.txt").write_text("Delta is the fourth letter. River mouths are named after it.", "utf-8")
    (corpus / "c.txt").unlink()
    before = emb.embedded
    report = p.build_index(progress=False)
    assert (report.added, report.updated, report.removed, report.unchanged) == (1, 1, 1, 1)
    assert emb.embedded - before == report.embedded == 3  # the new sentence of a.txt and d.txt's two
    assert p.store.live["version"] == version  # written into the live version, not copied
    ref = fake_pipeline(tmp_path / "ref", corpus)
    assert p.store.counts() == ref.store.counts()
    words = ["alpha", "gamma", "delta", "letter"]
    for of in (CHUNKS, SENTENCES):  # document frequencies follow the changes exactly
        np.testing.assert_allclose(p.store.idf(words, of), ref.store.idf(words, of), rtol=1e-6)
    with pytest.raises(KeyError):
        p.source("c.txt")
    assert "aleph" in p.source("a.txt")["text"]
    assert p.ask("Which letter are river mouths named after?").passages[0].source == "d.txt"
    assert all(x.source != "c.txt" for q in ("gamma rays physicists", "third letter") for x in p.ask(q).passages)


def test_a_failed_build_leaves_the_live_version_serving(tmp_path, monkeypatch):
    corpus = tmp_path / "seeds"
    shutil.copytree(SEEDS, corpus)
    p = milvus_pipeline(tmp_path, corpus)
    before = p.ask("When did Japan rule Korea as a colony?")
    from qa.index import milvus_build

    def boom(self, *a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(milvus_build.MilvusWriter, "publish", boom)
    with pytest.raises(OSError):
        p.build_index(progress=False, rebuild=True)
    monkeypatch.undo()
    fresh = Pipeline(p.config, embedder=FakeEmbedder())
    assert same_answer(fresh.ask(before.question), before)


def test_model_mismatch_and_missing_index_are_one_line(tmp_path):
    corpus = tmp_path / "seeds"
    shutil.copytree(SEEDS, corpus)
    p = milvus_pipeline(tmp_path, corpus)
    other = config_from_dict({"corpus": str(corpus), "index": str(tmp_path / "index"), "model": "another-model",
                              "store": {"kind": "milvus", "uri": p.config.store.uri, "collection": "qa_test"}})
    with pytest.raises(StaleIndexError, match="built with the model .* not 'another-model'"):
        Pipeline(other, embedder=FakeEmbedder()).ask("When?")
    empty = config_from_dict({"corpus": str(corpus), "index": str(tmp_path / "index"),
                              "store": {"kind": "milvus", "uri": p.config.store.uri, "collection": "nothing_here"}})
    with pytest.raises(IndexMissingError, match="no index in Milvus collection 'nothing_here'.*run `qa index`"):
        Pipeline(empty, embedder=FakeEmbedder()).ask("When?")


def test_unreachable_server_is_exit_2_with_one_line(tmp_path, capsys):
    corpus = make_corpus(tmp_path, {"a.txt": "Alpha."})
    cfg = tmp_path / "qa.yaml"
    cfg.write_text(f"corpus: {corpus}\nindex: {tmp_path / 'index'}\n"
                   "store: {kind: milvus, uri: 'http://127.0.0.1:9', timeout: 2}\n")
    assert cli.main(["--config", str(cfg), "ask", "When?"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "cannot reach Milvus at http://127.0.0.1:9" in err


def test_store_config_is_checked():
    with pytest.raises(ConfigError, match="store.uri must be"):
        config_from_dict({"corpus": "c", "index": "i", "store": {"kind": "milvus"}})
    with pytest.raises(ConfigError, match="store.kind must be one of faiss, milvus"):
        config_from_dict({"corpus": "c", "index": "i", "store": {"kind": "qdrant"}})
    with pytest.raises(ConfigError, match="environment variable QA_NO_SUCH_VAR"):
        config_from_dict({"corpus": "c", "index": "i",
                          "store": {"kind": "milvus", "uri": "http://h:19530", "token": "${QA_NO_SUCH_VAR}"}})
    cfg = config_from_dict({"corpus": "c", "index": "i", "store": {"kind": "milvus", "uri": "index/m.db"}}, base="/x")
    assert cfg.store.uri == "/x/index/m.db"


@pytest.mark.server
def test_seed_answers_on_a_milvus_server(tmp_path):
    uri = os.environ.get("QA_MILVUS_URI")
    if not uri:
        pytest.skip("set QA_MILVUS_URI (and QA_MILVUS_TOKEN) to a Milvus >= 2.4 server")
    corpus = tmp_path / "seeds"
    shutil.copytree(SEEDS, corpus)
    faiss = fake_pipeline(tmp_path / "f", corpus)
    milvus = milvus_pipeline(tmp_path, corpus, uri=uri, token=os.environ.get("QA_MILVUS_TOKEN", ""))
    same = sum(same_answer(faiss.ask(q), milvus.ask(q)) for q in QUESTIONS)
    assert same >= 0.97 * len(QUESTIONS)
