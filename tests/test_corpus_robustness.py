"""A corpus folder meets every kind of file: bad ones are skipped with a warning naming them and why;
the good ones still index and answer."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import qa.ingest.corpus
import qa.ingest.formats
from qa import Pipeline
from qa.config import config_from_dict

from .conftest import make_corpus
from .fakes import FakeEmbedder
from .test_formats import PAGE_ONE, encrypted, make_pdf

GOOD = "The zorblax festival was first held in 1999 in Osaka. Later festivals moved to Kobe."
# A 1.5 MB file on one line: real prose, so it must index (sentences are cut, chunks stay bounded).
LONG_LINE = " ".join(f"Record {i} of the quarnix ledger lists {i * 7} crates of plums." for i in range(25_000))
LIMIT_MB = 2

EXPECTED = {  # file -> why it is skipped, as the warning says it
    "latin1.txt": "skipped, not valid UTF-8 (byte 3); re-save it as UTF-8",
    "empty.txt": "skipped, it is empty",
    "blank.md": "skipped, it is empty",
    "binary.txt": "skipped, it looks binary (contains NUL bytes)",
    "binary.html": "skipped, it looks binary (contains NUL bytes)",
    "locked.txt": "skipped, cannot be read (Permission denied)",
    "locked.pdf": "skipped, the PDF is encrypted and needs a password; save an unprotected copy",
    "huge.txt": f"skipped, it is larger than {LIMIT_MB} MB (limits.max_file_mb in qa.yaml)",
    "outside.txt": "skipped, it is a symlink pointing outside the corpus folder",
    "pipe.txt": "skipped, it is not a regular file",
    "broken-link.txt": "skipped, it is a broken symlink",
    "vanishing.txt": "skipped, it disappeared while the corpus was being read",
    "loop.txt": "skipped, it is a symlink loop (it points back to itself); remove the link",
    "ping.txt": "skipped, it is a symlink loop (it points back to itself); remove the link",
    "pong.txt": "skipped, it is a symlink loop (it points back to itself); remove the link",
    "drawing.svg": "skipped, .svg files are not indexed (an image, even when it holds text); supported "
                   "formats: .txt, .md, .html, .htm, .pdf",
    "locked-dir/": "skipped, the folder cannot be read (Permission denied); give the user running qa "
                   "permission to read it",
}


@pytest.fixture
def hostile(tmp_path, monkeypatch):
    corpus = make_corpus(tmp_path, {
        "good.txt": GOOD,
        "long-line.txt": LONG_LINE,
        "latin1.txt": "caf\xe9 au lait".encode("latin-1"),
        "empty.txt": b"",
        "blank.md": " \n\t\n",
        "binary.txt": bytes(range(256)) * 4,
        "binary.html": b"<html>\x00\x01\x02</html>",
        "locked.txt": "Secret text nobody can read.",
        "locked.pdf": encrypted(make_pdf([PAGE_ONE])),
        "huge.txt": "x" * (LIMIT_MB * 1_000_000 + 1),
        "vanishing.txt": "This file is deleted while the corpus is read.",
        "drawing.svg": '<svg xmlns="http://www.w3.org/2000/svg"><text>The zorblax logo</text></svg>',
        "photo.png": b"\x89PNG\r\n",  # not a text format anyone expects read: passed over in silence
        "locked-dir/inside.txt": "Nobody may list this folder.",
    })
    secret = tmp_path / "secret.txt"
    secret.write_text("The secret password is swordfish.")
    os.symlink(secret, corpus / "outside.txt")
    os.symlink(corpus / "good.txt", corpus / "inside-link.txt")  # a link inside the corpus is fine
    os.symlink(corpus / "no-such-file.txt", corpus / "broken-link.txt")
    os.mkfifo(corpus / "pipe.txt")
    os.symlink("loop.txt", corpus / "loop.txt")  # a link to itself
    os.symlink("pong.txt", corpus / "ping.txt")  # two links pointing at each other
    os.symlink("ping.txt", corpus / "pong.txt")
    real_scandir = os.scandir

    def fake_scandir(path="."):  # root can list mode-000 folders, so simulate the permission error
        if Path(path).name == "locked-dir":
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", fake_scandir)

    real_open = open

    def fake_open(path, *args, **kwargs):  # root can read mode-000 files, so simulate the permission error
        if Path(path).name == "locked.txt":
            raise PermissionError(13, "Permission denied")
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(qa.ingest.corpus, "open", fake_open, raising=False)
    real_extract = qa.ingest.corpus.extract

    def extract_then_delete(doc_id, suffix, data, warn):  # "vanishing.txt" goes after it was listed
        if doc_id == "binary.txt":
            (corpus / "vanishing.txt").unlink(missing_ok=True)
        return real_extract(doc_id, suffix, data, warn)

    monkeypatch.setattr(qa.ingest.corpus, "extract", extract_then_delete)
    cfg = config_from_dict({"corpus": str(corpus), "index": str(tmp_path / "index"), "abstain_threshold": 0.0,
                            "limits": {"max_file_mb": LIMIT_MB}})
    return Pipeline(cfg, embedder=FakeEmbedder())


def test_bad_files_are_skipped_by_name_and_the_rest_indexes_and_answers(hostile):
    seen: list[str] = []
    report = hostile.build_index(progress=False, warn=seen.append)
    assert seen == list(report.warnings)
    for name, why in EXPECTED.items():
        assert f"{name}: {why}" in seen, (name, seen)
    assert len(seen) == len(EXPECTED)
    assert sorted(hostile.index.doc_ids) == ["good.txt", "inside-link.txt", "long-line.txt"]
    assert report.documents == 3
    ans = hostile.ask("When was the zorblax festival first held in Osaka?")
    assert not ans.abstained and ans.citations[0].source in ("good.txt", "inside-link.txt")
    assert "swordfish" not in " ".join(hostile.index.texts)
    long = hostile.ask("How many crates of plums does record 24000 of the quarnix ledger list?")
    assert not long.abstained and long.citations[0].source == "long-line.txt"
    assert "Record 24000 of the quarnix ledger lists 168000 crates of plums." in long.citations[0].quote
    spans = hostile.index.chunk_span[hostile.index.chunk_doc == hostile.index.doc_position["long-line.txt"]]
    assert (spans[:, 1] - spans[:, 0]).max() <= hostile.config.chunking.size


def test_index_is_fresh_after_a_file_vanished_mid_build(hostile):
    from qa.index.store import load_index

    hostile.build_index(progress=False)
    assert not (hostile.config.corpus / "vanishing.txt").exists()
    load_index(hostile.config)  # not "stale": the vanished file is not recorded as part of the corpus
    assert hostile.build_index(progress=False).skipped


def test_cli_index_prints_one_warning_line_per_skipped_file(hostile, capsys, monkeypatch):
    from qa import cli

    monkeypatch.setattr(Pipeline, "from_config", classmethod(lambda cls, *a, **k: hostile))
    assert cli.main(["index"]) == 0
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert len(lines) == len(EXPECTED) and all(line.startswith("warning: ") for line in lines)
    assert "warning: latin1.txt: skipped, not valid UTF-8" in err
    assert out.startswith("indexed 3 documents")


# ------------------------------------------------------------------ names, encodings and page structure

def _pipeline(tmp_path, corpus, embedder=None) -> Pipeline:
    cfg = config_from_dict({"corpus": str(corpus), "index": str(tmp_path / "index"), "reader": False})
    return Pipeline(cfg, embedder=embedder or FakeEmbedder())


def test_a_file_name_that_is_not_utf8_is_skipped_and_the_rest_index(tmp_path):
    corpus = make_corpus(tmp_path, {"good.txt": GOOD})
    with open(os.fsencode(str(corpus)) + b"/caf\xe9.txt", "wb") as f:
        f.write(b"The quibbit bridge opened in 1966.")
    warnings: list[str] = []
    report = _pipeline(tmp_path, corpus).build_index(progress=False, warn=warnings.append)
    assert report.documents == 1
    assert any("skipped, its name is not valid UTF-8; rename the file" in w for w in warnings), warnings


def test_byte_order_marks_are_no_text_and_utf16_files_are_read(tmp_path):
    corpus = make_corpus(tmp_path, {
        "bom.md": "\ufeff# Bom Title\n\nThe zorblax festival was first held in 1999 in Osaka.\n".encode("utf-8"),
        "wide.txt": "The quibbit bridge opened in 1966 in Lisbon.".encode("utf-16"),  # with its BOM
    })
    p = _pipeline(tmp_path, corpus)
    p.build_index(progress=False)
    bom = p.source("bom.md")
    assert bom["title"] == "Bom Title" and bom["text"].startswith("# Bom Title")
    assert p.source("wide.txt")["text"] == "The quibbit bridge opened in 1966 in Lisbon."


def test_markdown_title_skips_code_fences_and_closing_hashes(tmp_path):
    corpus = make_corpus(tmp_path, {
        "fenced.md": "```bash\n# install the deps\n```\n\n# Real Title\n\nThe zorblax festival began in 1999.\n",
        "closed.md": "# Closed Title #\r\n\r\nThe quibbit bridge opened in 1966.\r\n",
    })
    p = _pipeline(tmp_path, corpus)
    p.build_index(progress=False)
    assert p.source("fenced.md")["title"] == "Real Title" and p.source("closed.md")["title"] == "Closed Title"


def test_every_article_of_a_page_is_text_and_an_empty_main_falls_back_to_the_body(tmp_path):
    corpus = make_corpus(tmp_path, {
        "blog.html": "<html><body><article><p>First post about kiwis.</p></article>"
                     "<article><p>Second post about mangos.</p></article></body></html>",
        "empty-main.html": "<html><body><main></main><p>The papaya harvest began in 1987.</p></body></html>",
        "nested.html": "<html><body><article><p>Outer post about figs.</p>"
                       "<article><p>Inner comment about dates.</p></article></article></body></html>",
    })
    p = _pipeline(tmp_path, corpus)
    p.build_index(progress=False)
    assert "kiwis" in p.source("blog.html")["text"] and "mangos" in p.source("blog.html")["text"]
    assert "papaya harvest" in p.source("empty-main.html")["text"]
    assert p.source("nested.html")["text"].count("Inner comment about dates.") == 1


def test_a_sources_yaml_entry_for_no_document_is_a_warning(tmp_path):
    corpus = make_corpus(tmp_path, {"good.txt": GOOD, "sources.yaml": "good.txt:\n  title: Good\n./gone.txt:\n  title: G\n"})
    warnings: list[str] = []
    p = _pipeline(tmp_path, corpus)
    p.build_index(progress=False, warn=warnings.append)
    assert p.source("good.txt")["title"] == "Good"
    assert any("entry './gone.txt' matches no document" in w for w in warnings), warnings


def test_a_symlinked_folder_is_named_in_a_warning(tmp_path):
    corpus = make_corpus(tmp_path, {"good.txt": GOOD})
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "x.txt").write_text("The quibbit bridge opened in 1966.", encoding="utf-8")
    os.symlink(tmp_path / "elsewhere", corpus / "linked")
    warnings: list[str] = []
    report = _pipeline(tmp_path, corpus).build_index(progress=False, warn=warnings.append)
    assert report.documents == 1 and any("linked/: skipped, it is a symlinked folder" in w for w in warnings)
