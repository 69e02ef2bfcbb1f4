"""PDF text as a reader sees it: wrapped lines joined, running headers and page numbers dropped, pages kept right.

The PDFs are written here, line by line at given positions and sizes, the way a typesetter lays out
a wrapped paragraph (pypdf's own extraction then shows every line break, as the first test checks).
"""

from __future__ import annotations

import io
import textwrap

import pytest
from pypdf import PdfReader

from qa.ingest import formats
from qa.ingest.corpus import load_corpus, page_of
from qa.ingest.sentences import split_sentences
from qa.errors import StaleIndexError

from .conftest import fake_pipeline, make_corpus

HEADER = "Glob Weights Specification"
TITLE = "Weights and Globs"
PARAGRAPHS = [
    # page 1
    ["Every glob carries a weight that decides which rule wins when two globs match the same file name "
     "in a shared database.",
     "The default weight value is\n50, and the maximum is 100.",  # a break after "is": the line goes on
     "After installing, uninstalling or modifying its rules file, an application must run the update "
     "command so that every other application sees the change at once."],
    # page 2
    ["Weights below fifty make a glob lose to the default ones. A glob written in capital letters is "
     "matched case-sensitively by every conforming implementation of the specification.",
     "\u2022 literal globs are checked first\n\u2022 suffix globs come next\n\u2022 other globs come last"],
    # page 3: its last sentence runs on to page 4
    ["Conflicts between two globs of equal weight are resolved by taking the longer pattern, and when the "
     "patterns are equally long the database keeps the one it read first, so the order of the rules "
     "files matters for the final result of every"],
    # page 4
    ["lookup that the shared database answers. Tools that only read the database never need the "
     "applicationwide lock."],
]
WRAP = 64


def _escape(s: str) -> str:
    return s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def text_pdf(pages: list[list[tuple[float, float, float, str]]], title: str | None = None) -> bytes:
    """A PDF of Helvetica text lines, each ``(x, y, font size, text)``, with an optional ``/Title``."""
    n = len(pages)
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(n))
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", f"<< /Type /Pages /Kids [{kids}] /Count {n} >>".encode(),
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"]
    for i, lines in enumerate(pages):
        stream = "\n".join(f"BT /F1 {s} Tf {x} {y} Td ({_escape(t)}) Tj ET" for x, y, s, t in lines)
        data = stream.encode("cp1252")
        objs.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
                    f"/Resources << /Font << /F1 3 0 R >> >> /Contents {5 + 2 * i} 0 R >>".encode())
        objs.append(b"<< /Length %d >>\nstream\n" % len(data) + data + b"\nendstream")
    info = ""
    if title is not None:
        objs.append(f"<< /Title ({_escape(title)}) /Producer (qa tests) >>".encode())
        info = f" /Info {len(objs)} 0 R"
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for k, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % k + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R{info} >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def wrapped(paragraph: str) -> list[str]:
    """A paragraph's lines as a typesetter breaks them: at most WRAP characters, a long word hyphenated."""
    lines = []
    for part in paragraph.split("\n"):
        lines += textwrap.wrap(part, WRAP, break_on_hyphens=False)
    out = []
    for line in lines:  # split "application" as "appli-" / "cation" when it ends a line
        if out and out[-1].endswith(" an") and line.startswith("application"):
            out[-1] += " appli-"
            line = line[len("appli"):]
        out.append(line)
    return out


def spec_pages(header: bool = True) -> list[list[tuple[float, float, float, str]]]:
    pages = []
    for n, paragraphs in enumerate(PARAGRAPHS, 1):
        lines = [(72, 760, 9, HEADER)] if header else []
        y = 720.0
        if n == 1:
            lines.append((72, y, 18, TITLE))
            y -= 36
        for para in paragraphs:
            for line in wrapped(para):
                lines.append((72, y, 11, line))
                y -= 14
            y -= 10  # paragraph spacing
        if header:
            lines.append((300, 40, 9, str(n)))
        pages.append(lines)
    return pages


@pytest.fixture
def spec(tmp_path):
    data = text_pdf(spec_pages(), title="")
    return data, load_corpus(make_corpus(tmp_path, {"spec.pdf": data}))[0]


def test_pypdf_alone_sees_every_line_break_and_the_headers(spec):
    data, _ = spec
    raw = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)
    assert "The default weight value is\n50, and the maximum is 100." in raw
    assert "rule wins when\ntwo globs" in raw and "appli-\ncation" in raw and "result of every\n" in raw
    assert raw.count(HEADER) == 4
    assert PdfReader(io.BytesIO(data)).metadata["/Title"] == ""


def test_wrapped_lines_are_joined_into_sentences(spec):
    _, doc = spec
    sentences = {doc.text[s:e] for s, e in split_sentences(doc.text)}
    assert "The default weight value is 50, and the maximum is 100." in sentences
    assert ("After installing, uninstalling or modifying its rules file, an application must run the update "
            "command so that every other application sees the change at once.") in sentences
    assert "appli-" not in doc.text
    # a sentence that runs over a page break is one sentence too
    assert any(s.startswith("Conflicts between") and s.endswith("answers.") for s in sentences)


def test_paragraphs_headings_and_list_items_stay_apart(spec):
    _, doc = spec
    assert doc.text.startswith(TITLE + "\n\nEvery glob carries")
    assert "\n\u2022 literal globs are checked first\n\u2022 suffix globs come next\n\u2022 other globs" in doc.text
    assert "shared database.\n\nThe default weight" in doc.text  # extra space between paragraphs: a blank line


def test_running_headers_and_page_numbers_are_dropped(spec):
    _, doc = spec
    assert HEADER not in doc.text
    assert not [line for line in doc.text.splitlines() if line.strip().isdigit()]


def test_pages_stay_right(spec):
    _, doc = spec
    assert len(doc.pages) == 4 and doc.pages[0] == 0
    for page, probe in ((1, "The default weight"), (2, "Weights below fifty"), (2, "other globs come last"),
                        (3, "Conflicts between"), (4, "Tools that only read")):
        assert page_of(doc.pages, doc.text.index(probe)) == page, probe
    # page 4 starts inside the sentence begun on page 3, right after the joining space
    assert doc.text[doc.pages[3]:].startswith("lookup that the shared database answers.")


def test_an_empty_title_is_taken_from_the_first_heading(spec, tmp_path):
    _, doc = spec
    assert doc.title == TITLE
    named = text_pdf(spec_pages(), title="Glob weights, the specification")
    (other,) = load_corpus(make_corpus(tmp_path / "named", {"named.pdf": named}))
    assert other.title == "Glob weights, the specification"
    # no larger text: the first heading-like line
    plain = [[(72, 700, 11, "Release notes"), (72, 686, 11, "The tool now reads globs from every rules file.")]]
    (doc2,) = load_corpus(make_corpus(tmp_path / "plain", {"notes.pdf": text_pdf(plain * 2, title="")}))
    assert doc2.title == "Release notes"


def test_short_documents_keep_every_line(tmp_path):
    """Two pages are too few to tell a running header from text: nothing is dropped."""
    pages = spec_pages()[:2]
    (doc,) = load_corpus(make_corpus(tmp_path, {"two.pdf": text_pdf(pages)}))
    assert doc.text.count(HEADER) == 2


def test_answers_and_highlights_span_the_wrapped_lines(spec, tmp_path):
    data, _ = spec
    p = fake_pipeline(tmp_path, corpus=make_corpus(tmp_path / "c", {"spec.pdf": data}), abstain_threshold=0.0)
    answer = p.ask("What is the default weight value of a glob?")
    first = answer.citations[0]
    assert "The default weight value is 50, and the maximum is 100." in first.quote
    assert p.source("spec.pdf")["text"][first.start:first.end] == first.quote and first.page == 1


def test_the_new_pdf_extractor_re_reads_pdfs_and_reuses_vectors(tmp_path, monkeypatch):
    """An index built by the line-by-line extractor ("pdf-1") is stale; `qa index` re-reads the PDF and
    embeds only the sentences whose text changed."""
    import qa.ingest.pdf as pdf

    data = text_pdf(spec_pages(), title="")
    corpus = make_corpus(tmp_path, {"spec.pdf": data, "notes.txt": "Unrelated notes about tea. Green tea is picked in May."})
    new = formats.EXTRACTORS[".pdf"]
    assert new != "pdf-1"
    real_join = pdf.join_pages

    def line_by_line(pages, layout):  # what pdf-1 produced: every PDF line break kept
        text, starts = real_join(pages, layout)
        return "\n".join(line.text for lines in pages for line in lines), tuple(0 for _ in starts)

    monkeypatch.setitem(formats.EXTRACTORS, ".pdf", "pdf-1")
    monkeypatch.setattr(pdf, "join_pages", line_by_line)
    p = fake_pipeline(tmp_path, corpus=corpus)
    old_sentences = len(p.index.sent_doc)
    monkeypatch.undo()
    from qa.index.store import load_index

    with pytest.raises(StaleIndexError, match=r"another \.pdf extractor \('pdf-1' -> '" + new + r"'\).*run `qa index`"):
        load_index(p.config)
    report = p.build_index(progress=False)
    assert report.updated == 1 and report.unchanged == 1
    assert 0 < report.embedded < old_sentences  # the notes and unchanged PDF lines keep their vectors
    assert "The default weight value is 50, and the maximum is 100." in p.source("spec.pdf")["text"]
