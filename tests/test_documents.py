import os
from pathlib import Path

import pytest

from qa.ingest.corpus import load_corpus
from qa.errors import CorpusError

from .conftest import SEEDS, make_corpus


def test_seed_corpus_loads_byte_for_byte_with_titles():
    docs = load_corpus(SEEDS)
    assert [d.id for d in docs] == sorted(p.name for p in SEEDS.glob("*.txt"))
    for d in docs:
        assert d.text.encode("utf-8") == (SEEDS / d.id).read_bytes()
        assert d.title and d.title != d.id  # sources.yaml gives each a human title
    shared = Path(__file__).parents[2] / "shared" / "seeds"
    if shared.is_dir():
        for d in docs:
            assert (shared / d.id).read_bytes() == (SEEDS / d.id).read_bytes()


def test_ids_are_relative_paths_and_crlf_is_kept(tmp_path):
    corpus = make_corpus(tmp_path, {"a.txt": "One.\r\nTwo.", "sub/b.md": "# Heading B\n\nBody.", "c.pdf": "x"})
    docs = load_corpus(corpus)
    assert [d.id for d in docs] == ["a.txt", "sub/b.md"]
    assert docs[0].text == "One.\r\nTwo."
    assert docs[1].title == "Heading B"


def test_bad_files_are_skipped_with_a_warning_naming_them(tmp_path):
    corpus = make_corpus(tmp_path, {
        "good.txt": "Fine text.", "latin1.txt": "caf\xe9".encode("latin-1"), "empty.txt": "  \n",
        "binary.txt": b"\x00\x01\x02abc"})
    outside = tmp_path / "secret.txt"
    outside.write_text("secret")
    os.symlink(outside, corpus / "link.txt")
    warnings: list[str] = []
    docs = load_corpus(corpus, warn=warnings.append)
    assert [d.id for d in docs] == ["good.txt"]
    text = "\n".join(warnings)
    assert "latin1.txt: skipped, not valid UTF-8" in text
    assert "empty.txt: skipped, it is empty" in text
    assert "binary.txt: skipped, it looks binary" in text
    assert "link.txt: skipped, it is a symlink pointing outside" in text


def test_unreadable_file_is_skipped(tmp_path, monkeypatch):
    import qa.ingest.corpus

    corpus = make_corpus(tmp_path, {"good.txt": "Fine.", "locked.txt": "x"})

    def fake_open(path, *args, **kwargs):  # root can read mode-000 files, so simulate the permission error
        if Path(path).name == "locked.txt":
            raise PermissionError(13, "Permission denied")
        return open(path, *args, **kwargs)

    monkeypatch.setattr(qa.ingest.corpus, "open", fake_open, raising=False)
    warnings: list[str] = []
    assert [d.id for d in load_corpus(corpus, warn=warnings.append)] == ["good.txt"]
    assert warnings == ["locked.txt: skipped, cannot be read (Permission denied)"]


def test_missing_or_empty_corpus_is_an_error(tmp_path):
    with pytest.raises(CorpusError, match="corpus folder not found"):
        load_corpus(tmp_path / "nope")
    with pytest.raises(CorpusError, match="no readable documents"):
        load_corpus(make_corpus(tmp_path, {"x.bin": "a"}))


def test_a_file_gone_between_listing_and_reading_is_skipped(tmp_path):
    from qa.ingest.corpus import read_document

    warnings: list[str] = []
    assert read_document("gone.txt", tmp_path / "gone.txt", {}, warnings.append) is None
    assert warnings == ["gone.txt: skipped, it disappeared while the corpus was being read"]


def test_files_over_the_size_limit_are_not_read_whole(tmp_path):
    corpus = make_corpus(tmp_path, {"big.txt": "word " * 1000, "small.txt": "Small."})
    warnings: list[str] = []
    docs = load_corpus(corpus, warn=warnings.append, max_bytes=4000)
    assert [d.id for d in docs] == ["small.txt"]
    assert warnings == ["big.txt: skipped, it is larger than 0.004 MB (limits.max_file_mb in qa.yaml)"]
    assert [d.id for d in load_corpus(corpus, max_bytes=5000)] == ["big.txt", "small.txt"]
