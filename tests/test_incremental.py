"""Incremental indexing: fingerprints (with the extractor version), stable chunk ids, no needless embedding."""

from __future__ import annotations

import json
import os

import pytest

from qa import Pipeline, cli
from qa.ingest import formats
from qa.errors import StaleIndexError
from qa.index.store import load_index

from .conftest import fake_pipeline, make_corpus
from .fakes import FakeEmbedder
from .test_formats import ARTICLE, PAGE_ONE, PAGE_TWO, make_pdf

FILES = {
    "a.txt": "Alpha is the first letter. It starts the alphabet.\n\nA second paragraph about alpha.",
    "b.md": "# Beta\n\nBeta is the second letter. Greek has it too.",
    "c.html": ARTICLE,
    "d.pdf": make_pdf([PAGE_ONE, PAGE_TWO]),
}


@pytest.fixture
def mixed(tmp_path):
    return fake_pipeline(tmp_path, make_corpus(tmp_path, FILES))


def test_second_run_embeds_nothing_even_after_touching_every_file(mixed):
    emb = mixed.embedder
    first = emb.embedded
    assert first > 0
    again = mixed.build_index(progress=False)
    assert again.skipped and again.embedded == 0 and emb.embedded == first
    for f in mixed.config.corpus.iterdir():
        os.utime(f, ns=(f.stat().st_atime_ns, f.stat().st_mtime_ns + 5_000_000_000))
    touched = mixed.build_index(progress=False)  # re-read (mtimes changed) but nothing new to embed
    assert not touched.skipped and touched.embedded == 0 and emb.embedded == first
    assert (touched.added, touched.updated, touched.removed, touched.unchanged) == (0, 0, 0, 4)


def test_chunk_ids_are_stable_across_runs_for_unchanged_documents(mixed):
    before = list(mixed.index.chunk_ids)
    (mixed.config.corpus / "a.txt").write_text("Alpha was rewritten entirely. Nothing is the same.")
    (mixed.config.corpus / "e.txt").write_text("Epsilon is new.")
    mixed.build_index(progress=False)
    after = mixed.index.chunk_ids
    kept = [c for c in before if not c.startswith("a.txt:")]
    assert [c for c in after if not c.startswith(("a.txt:", "e.txt:"))] == kept
    mixed.build_index(rebuild=True, progress=False)
    assert mixed.index.chunk_ids == after


def test_an_edit_embeds_only_the_sentences_that_changed(mixed):
    emb = mixed.embedder
    before = emb.embedded
    path = mixed.config.corpus / "a.txt"
    path.write_text(path.read_text().replace("It starts the alphabet.", "It opens the alphabet."))
    r = mixed.build_index(progress=False)
    assert (r.updated, r.unchanged) == (1, 3)
    assert r.embedded == 1 and emb.embedded == before + 1


def test_a_repeated_new_sentence_is_embedded_once(tmp_path):
    corpus = make_corpus(tmp_path, {"a.txt": "Same words here.\n\nSame words here.", "b.txt": "Same words here."})
    p = fake_pipeline(tmp_path, corpus)
    assert p.embedder.embedded == 1
    v = p.index.vectors
    assert v.shape[0] == 3 and (v == v[0]).all() and abs(float(v[0] @ v[0]) - 1) < 1e-5  # every row filled


def test_a_new_extractor_version_re_reads_those_files_without_re_embedding(mixed, monkeypatch):
    fingerprints = {d["id"]: d["fingerprint"] for d in mixed.index.manifest["documents"]}
    html, text = formats.EXTRACTORS[".html"], formats.EXTRACTORS[".txt"]
    assert fingerprints["c.html"].startswith(html + ":") and fingerprints["a.txt"].startswith(text + ":")
    monkeypatch.setitem(formats.EXTRACTORS, ".html", "html-next")
    monkeypatch.setitem(formats.EXTRACTORS, ".htm", "html-next")
    with pytest.raises(StaleIndexError, match=rf"another \.html extractor \('{html}' -> 'html-next'\).*run `qa index`"):
        load_index(mixed.config)
    before = mixed.embedder.embedded
    r = mixed.build_index(progress=False)
    assert not r.skipped and (r.added, r.updated, r.removed, r.unchanged) == (0, 1, 0, 3)
    assert r.embedded == 0 and mixed.embedder.embedded == before  # same text: every vector reused
    docs = {d["id"]: d["fingerprint"] for d in mixed.index.manifest["documents"]}
    assert docs["c.html"] == "html-next:" + fingerprints["c.html"].split(":", 1)[1]
    assert load_index(mixed.config).chunk_ids == mixed.index.chunk_ids  # fresh again


def test_a_changed_extractor_output_embeds_only_new_sentences(mixed, monkeypatch):
    real = formats.html_text
    monkeypatch.setattr(formats, "html_text", lambda root: real(root) + "\n\nA footnote the new extractor keeps.")
    monkeypatch.setitem(formats.EXTRACTORS, ".html", "html-next")
    r = mixed.build_index(progress=False)
    assert r.updated == 1 and r.embedded == 1
    assert mixed.source("c.html")["text"].endswith("A footnote the new extractor keeps.")


def test_index_json_summary_after_changes(tmp_path, capsys, monkeypatch):
    p = fake_pipeline(tmp_path, make_corpus(tmp_path, FILES))
    (p.config.corpus / "a.txt").unlink()
    (p.config.corpus / "b.md").write_text("# Beta\n\nBeta changed.")
    (p.config.corpus / "z.txt").write_text("Zeta arrives.")
    cfg = tmp_path / "qa.yaml"
    cfg.write_text(f"corpus: {p.config.corpus}\nindex: {p.config.index}\n")
    original = Pipeline.from_config.__func__
    monkeypatch.setattr(Pipeline, "from_config",
                        classmethod(lambda cls, c="qa.yaml", embedder=None: original(cls, c, embedder=FakeEmbedder())))
    assert cli.main(["--config", str(cfg), "index", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert {k: d[k] for k in ("added", "updated", "removed", "unchanged")} == {
        "added": 1, "updated": 1, "removed": 1, "unchanged": 2}
    assert isinstance(d["chunks"], int) and d["chunks"] > 0 and isinstance(d["seconds"], float)
    assert d["embedded"] == 2 and d["skipped"] is False
    # What the build cost: this process's peak memory and the live build's size on disk.
    assert d["peak_rss_mb"] > 10 and 0 < d["index_mb"] < 5
    assert cli.main(["--config", str(cfg), "index", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["skipped"] and d["embedded"] == 0 and d["unchanged"] == 4 and d["index_mb"] > 0


def test_editing_sources_yaml_updates_titles_and_links_without_embedding(mixed):
    before = mixed.embedder.embedded
    (mixed.config.corpus / "sources.yaml").write_text(
        "a.txt:\n  title: The alpha page\n  url: https://example.org/alpha\n  license: CC0\n")
    r = mixed.build_index(progress=False)
    assert not r.skipped and r.embedded == 0 and mixed.embedder.embedded == before
    src = mixed.source("a.txt")
    assert src["title"] == "The alpha page" and src["meta"] == {"url": "https://example.org/alpha", "license": "CC0"}
