"""Document formats: HTML main text, PDF pages (citations carry page numbers), titles, Markdown sections."""

import io
import json

from pypdf import PdfReader, PdfWriter

from qa.ingest.chunking import chunk_document
from qa.ingest.corpus import load_corpus, page_of
from qa.ingest.formats import extract_html

from .conftest import fake_pipeline, make_corpus

ARTICLE = """<!doctype html>
<html><head><title>  Korea &amp; Japan  </title><style>p { color: red }</style>
<script>var tracking = "SCRIPTTEXT";</script></head>
<body>
<header>HEADERTEXT site banner</header>
<nav><a href="/">NAVTEXT Home</a> | <a href="/about">About</a></nav>
<main>
  <h1>Relations</h1>
  <p>The Treaty on Basic Relations was signed in <b>1965</b>.
     It normalised relations between the two countries.</p>
  <!-- a comment that is not text -->
  <ul><li>First item</li><li>Second item</li></ul>
  <div>A closing remark.</div>
  <noscript>NOSCRIPTTEXT</noscript>
  <form><label>FORMTEXT</label></form>
</main>
<aside>ASIDETEXT related links</aside>
<footer>FOOTERTEXT copyright</footer>
</body></html>"""


def make_pdf(pages: list[str]) -> bytes:
    """A minimal hand-written PDF: one Helvetica text line per page, with a correct xref table."""
    n = len(pages)
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(n))
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>",
            f"<< /Type /Pages /Kids [{kids}] /Count {n} >>".encode(),
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    for i, text in enumerate(pages):
        stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
        objs.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
                    f"/Resources << /Font << /F1 3 0 R >> >> /Contents {5 + 2 * i} 0 R >>".encode())
        objs.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for k, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % k + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)


PAGE_ONE = "The capital of Japan is Tokyo, a very large city."
PAGE_TWO = "The capital of South Korea is Seoul, on the Han river."


def encrypted(data: bytes) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.encrypt("secret")
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


# ---------------------------------------------------------------- HTML

def test_html_keeps_main_text_and_drops_chrome():
    got = extract_html("a.html", ARTICLE.encode(), warn=lambda m: None)
    assert got.title == "Korea & Japan"
    assert got.text == ("Relations\n\nThe Treaty on Basic Relations was signed in 1965. It normalised relations "
                        "between the two countries.\n\nFirst item\nSecond item\n\nA closing remark.")
    for junk in ("SCRIPT", "HEADER", "NAV", "NOSCRIPT", "FORM", "ASIDE", "FOOTER", "color: red", "comment"):
        assert junk not in got.text


def test_html_without_main_uses_body_and_prefers_article():
    body = b"<html><body><nav>menu</nav><p>Alpha one.</p><p>Beta two.</p></body></html>"
    assert extract_html("b.html", body, lambda m: None).text == "Alpha one.\n\nBeta two."
    art = b"<body><div>Outside.</div><article><p>Inside.</p></article></body>"
    assert extract_html("c.htm", art, lambda m: None).text == "Inside."


def test_html_chunks_index_the_extracted_text(tmp_path):
    long_para = " ".join(f"Sentence number {i} talks about the treaty." for i in range(60))
    page = f"<html><body><main><h2>Part</h2><p>{long_para}</p><p>Tail.</p></main></body></html>"
    corpus = make_corpus(tmp_path, {"a.html": ARTICLE, "long.htm": page})
    docs = load_corpus(corpus)
    assert [d.id for d in docs] == ["a.html", "long.htm"]
    for d in docs:
        assert "<" not in d.text
        chunks = chunk_document(d, size=300, overlap=80)
        assert len(chunks) >= (2 if d.id == "long.htm" else 1)
        for c in chunks:
            assert d.text[c.start:c.end] == c.text
            for s, e in c.sentences:
                assert c.start <= s < e <= c.end


def test_html_through_the_pipeline_cites_extracted_text(tmp_path):
    p = fake_pipeline(tmp_path, make_corpus(tmp_path, {"a.html": ARTICLE}), abstain_threshold=0.0)
    d = p.ask("When was the Treaty on Basic Relations signed?").to_dict()
    doc = p.source("a.html")
    assert doc["title"] == "Korea & Japan" and "NAVTEXT" not in doc["text"]
    for c in d["citations"]:
        assert doc["text"][c["start"]:c["end"]] == c["quote"]
        assert "page" not in c
    assert "1965" in d["citations"][0]["quote"]


# ---------------------------------------------------------------- PDF

def test_hand_written_pdf_is_readable_by_pypdf():
    reader = PdfReader(io.BytesIO(make_pdf([PAGE_ONE, PAGE_TWO])))
    assert [pg.extract_text().strip() for pg in reader.pages] == [PAGE_ONE, PAGE_TWO]


def test_pdf_pages_are_joined_and_recorded(tmp_path):
    corpus = make_corpus(tmp_path, {"atlas.pdf": make_pdf([PAGE_ONE, PAGE_TWO])})
    (doc,) = load_corpus(corpus)
    assert doc.text == PAGE_ONE + "\n\n" + PAGE_TWO
    assert doc.pages == (0, len(PAGE_ONE) + 2)
    assert doc.title == "atlas.pdf"
    assert page_of(doc.pages, 0) == 1
    assert page_of(doc.pages, len(PAGE_ONE)) == 1
    assert page_of(doc.pages, doc.pages[1]) == 2
    assert page_of(doc.pages, len(doc.text) - 1) == 2
    assert page_of((), 5) is None


def test_pdf_citations_carry_page_numbers(tmp_path):
    corpus = make_corpus(tmp_path, {"atlas.pdf": make_pdf([PAGE_ONE, PAGE_TWO]), "notes.txt": "Unrelated notes."})
    p = fake_pipeline(tmp_path, corpus, abstain_threshold=0.0)
    manifest = json.loads((p.index.path / "manifest.json").read_text())
    entries = {d["id"]: d for d in manifest["documents"]}
    assert entries["atlas.pdf"]["pages"] == [0, len(PAGE_ONE) + 2]
    assert "pages" not in entries["notes.txt"]
    for question, page, word in [("What is the capital of Japan?", 1, "Tokyo"),
                                 ("What is the capital of South Korea?", 2, "Seoul")]:
        ans = p.ask(question)
        assert not ans.abstained
        first = ans.citations[0]
        assert first.source == "atlas.pdf" and first.page == page and word in first.quote
        d = ans.to_dict()
        assert d["citations"][0]["page"] == page
        for c in d["citations"]:
            text = p.index.texts[p.index.doc_position[c["source"]]]
            assert text[c["start"]:c["end"]] == c["quote"]
            assert ("page" in c) == (c["source"] == "atlas.pdf")
        for ps in d["passages"]:
            assert ("page" in ps) == (ps["source"] == "atlas.pdf")
            if ps["source"] == "atlas.pdf":
                assert ps["page"] == page_of(p.index.pages[p.index.doc_position["atlas.pdf"]], ps["start"])


def test_unusable_pdfs_are_skipped_with_a_warning_naming_them(tmp_path):
    good = make_pdf([PAGE_ONE, PAGE_TWO])
    corpus = make_corpus(tmp_path, {"good.pdf": good, "locked.pdf": encrypted(good),
                                    "garbage.pdf": b"%PDF-1.4 this is not really a pdf",
                                    "blank.pdf": make_pdf([""])})
    warnings: list[str] = []
    docs = load_corpus(corpus, warn=warnings.append)
    assert [d.id for d in docs] == ["good.pdf"]
    text = "\n".join(warnings)
    assert "locked.pdf: skipped, the PDF is encrypted" in text
    assert "garbage.pdf: skipped, not a readable PDF" in text
    assert "blank.pdf: skipped, the PDF has no extractable text" in text


def test_pdf_with_empty_user_password_is_read(tmp_path):
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf([PAGE_ONE]))))
    writer.encrypt("", owner_password="owner")
    buf = io.BytesIO()
    writer.write(buf)
    (doc,) = load_corpus(make_corpus(tmp_path, {"open.pdf": buf.getvalue()}))
    assert doc.text == PAGE_ONE


# ---------------------------------------------------------------- titles and sections

def test_title_fallbacks(tmp_path):
    corpus = make_corpus(tmp_path, {
        "sources.yaml": "given.html:\n  title: From the manifest\n",
        "given.html": "<title>HTML title</title><p>Body.</p>",
        "titled.html": "<html><head><title>HTML title</title></head><body><p>Body.</p></body></html>",
        "untitled.html": "<p>Body only.</p>",
        "heading.md": "Intro line.\n\n## First heading\n\nBody.",
        "plain.md": "No heading here.",
        "plain.txt": "# Not a markdown heading in a text file.",
    })
    titles = {d.id: d.title for d in load_corpus(corpus)}
    assert titles == {"given.html": "From the manifest", "titled.html": "HTML title",
                      "untitled.html": "untitled.html", "heading.md": "First heading",
                      "plain.md": "plain.md", "plain.txt": "plain.txt"}


def test_markdown_chunks_carry_their_section(tmp_path):
    text = ("Preamble sentence before any heading, long enough to stand alone as a block.\n\n"
            "# Geography\n\nJapan is an island country. " + "It has many mountains. " * 8 + "\n\n"
            "```\n# not a heading, code\n```\n\n"
            "## Trade ##\n\nKorea and Japan trade a lot. " + "Exports grew every year. " * 8)
    corpus = make_corpus(tmp_path, {"notes.md": text, "notes.txt": text})
    md, txt = load_corpus(corpus)
    chunks = chunk_document(md, size=200, overlap=0)
    by_start = [(c.text[:20], c.section) for c in chunks]
    assert chunks[0].section is None
    assert {c.section for c in chunks} == {None, "Geography", "Trade"}
    for c in chunks:
        assert md.text[c.start:c.end] == c.text
        expect = None
        for line_start, name in [(text.index("# Geography"), "Geography"), (text.index("## Trade"), "Trade")]:
            if line_start <= c.start:
                expect = name
        assert c.section == expect, by_start
    assert all(c.section is None for c in chunk_document(txt, size=200, overlap=0))
