"""Citations link to the original document with a text fragment; every edge shows the link and the page."""

from __future__ import annotations

from urllib.parse import unquote

import pytest
from fastapi.testclient import TestClient

from qa import cli
from qa.answer.answerer import Citation
from qa.serve.api import create_app, render_source
from qa.text.links import cite_url, encode_term, safe_url, text_directive
from qa.serve.ui import answer_html

from .conftest import fake_pipeline, make_corpus
from .test_formats import PAGE_ONE, PAGE_TWO, make_pdf

TREATY = ("Relations\n\nThe Treaty on Basic Relations was signed in 1965 - it normalised relations between "
          "Japan & Korea, finally.\n\nFirst item\nSecond item")


def terms(url: str) -> list[str]:
    """The decoded terms of the text directive of ``url``."""
    directive = url.split("#", 1)[1].split(":~:text=", 1)[1]
    assert "-" not in directive and "&" not in directive and " " not in directive
    return [unquote(t) for t in directive.split(",")]


# ------------------------------------------------------------------ the fragment itself

def test_terms_are_percent_encoded_including_dash_ampersand_and_comma():
    assert encode_term("a-b & c, d") == "a%2Db%20%26%20c%2C%20d"
    assert encode_term("Séoul – 서울") == "S%C3%A9oul%20%E2%80%93%20%EC%84%9C%EC%9A%B8"
    assert unquote(encode_term("x-y,z&w #:~:")) == "x-y,z&w #:~:"


def test_short_quote_is_matched_exactly_with_whitespace_collapsed():
    assert text_directive("signed in  1965 -\tfinally") == "text=signed%20in%201965%20%2D%20finally"
    assert text_directive("  \n ") is None


def test_long_quote_is_a_start_end_range_of_its_first_and_last_words():
    quote = " ".join(f"word{i}" for i in range(40))
    assert terms(cite_url("https://x.org/p", quote)) == ["word0 word1 word2 word3 word4",
                                                         "word35 word36 word37 word38 word39"]


def test_quote_over_several_blocks_takes_start_from_the_first_line_and_end_from_the_last():
    assert terms(cite_url("https://x.org/p", TREATY)) == ["Relations", "Second item"]


def test_cite_url_keeps_only_http_links_and_an_existing_fragment():
    for bad in ("javascript:alert(1)", "JAVASCRIPT:x", "data:text/html,<b>", "ftp://x.org/a", "//x.org",
                "https://x.org/a b", "https://x.org/\nb", "", None, 42, "https://"):
        assert cite_url(bad, "quote") is None and safe_url(bad) is None
    assert cite_url(" https://x.org/a?b=1 ", "one two") == "https://x.org/a?b=1#:~:text=one%20two"
    assert cite_url("https://x.org/a#sec", "one") == "https://x.org/a#sec:~:text=one"
    assert cite_url("https://x.org/a#sec:~:text=old", "new") == "https://x.org/a#sec:~:text=new"
    assert cite_url("https://x.org/doc.pdf", "one", page=3) == "https://x.org/doc.pdf#page=3:~:text=one"


def test_citation_refuses_a_non_http_url():
    with pytest.raises(ValueError, match="http"):
        Citation("a.txt", "A", 0, 3, "abc", None, None, 0.5, url="javascript:alert(1)")


# ------------------------------------------------------------------ through the pipeline and every edge

@pytest.fixture
def linked(tmp_path):
    corpus = make_corpus(tmp_path, {
        "treaty.txt": "The Treaty on Basic Relations was signed in 1965 - it normalised relations, at last.",
        "atlas.pdf": make_pdf([PAGE_ONE, PAGE_TWO]),
        "bare.txt": "Kimchi is a fermented dish of cabbage.",
        "sources.yaml": ("treaty.txt:\n  title: The treaty\n  url: https://example.org/treaty?x=1\n"
                         "  author: A. Writer\n  date: 2020-01-02\n  license: CC BY 4.0\n"
                         "atlas.pdf:\n  url: https://example.org/atlas.pdf\n"
                         "bare.txt:\n  url: \"javascript:alert(1)\"\n"),
    })
    return fake_pipeline(tmp_path, corpus, abstain_threshold=0.0)


def test_citation_json_has_a_url_scrolling_to_the_quote(linked):
    d = linked.ask("When was the Treaty on Basic Relations signed?").to_dict()
    c = d["citations"][0]
    assert c["source"] == "treaty.txt"
    assert {"source", "title", "start", "end", "quote", "answer_start", "answer_end", "score", "url"} <= set(c)
    assert c["url"].startswith("https://example.org/treaty?x=1#:~:text=")
    assert terms(c["url"]) == [" ".join(c["quote"].split())]


def test_pdf_citation_url_opens_the_page(linked):
    c = linked.ask("What is the capital of South Korea?").to_dict()["citations"][0]
    assert c["source"] == "atlas.pdf" and c["page"] == 2
    assert c["url"].startswith("https://example.org/atlas.pdf#page=2:~:text=")


def test_unsafe_url_gives_no_link(linked):
    d = linked.ask("What is kimchi made of?").to_dict()
    assert d["citations"][0]["source"] == "bare.txt" and "url" not in d["citations"][0]


def test_cli_shows_page_and_link(linked, capsys, monkeypatch):
    import qa.pipeline

    monkeypatch.setattr(qa.pipeline.Pipeline, "from_config", classmethod(lambda cls, *a, **k: linked))
    assert cli.main(["ask", "What is the capital of South Korea?"]) == 0
    out = capsys.readouterr().out
    assert "(atlas.pdf, p. 2, chars " in out
    assert "https://example.org/atlas.pdf#page=2:~:text=" in out
    assert cli.main(["ask", "When was the Treaty on Basic Relations signed?"]) == 0
    out = capsys.readouterr().out
    assert "(treaty.txt, chars 0-" in out and "https://example.org/treaty?x=1#:~:text=" in out


def test_ui_shows_page_and_escaped_original_link(linked):
    r = linked.ask("What is the capital of South Korea?").to_dict()
    page = answer_html(r, lambda i: linked.source(i)["text"])
    assert "[1] atlas.pdf · p. 2</summary>" in page
    url = r["citations"][0]["url"]
    assert f'href="{url}"' in page and 'rel="noopener noreferrer"' in page and "Open the original" in page
    hostile = dict(r, citations=[dict(r["citations"][0], url='https://x.org/"><script>alert(1)</script>')])
    page = answer_html(hostile, lambda i: linked.source(i)["text"])
    assert "<script>" not in page and 'href="https://x.org/&quot;&gt;&lt;script&gt;' in page
    for bad in ("javascript:alert(1)", None):
        page = answer_html(dict(r, citations=[dict(r["citations"][0], url=bad)]), lambda i: linked.source(i)["text"])
        assert "Open the original" not in page and "javascript:" not in page


def test_api_sources_carry_metadata_and_the_source_page_links_to_the_quote(linked):
    with TestClient(create_app(linked, ui=False)) as client:
        body = client.get("/api/sources/treaty.txt").json()
        assert body["meta"] == {"url": "https://example.org/treaty?x=1", "author": "A. Writer",
                                "date": "2020-01-02", "license": "CC BY 4.0"}
        assert "pages" not in body
        assert client.get("/api/sources/atlas.pdf").json()["pages"] == [0, len(PAGE_ONE) + 2]
        s = len(PAGE_ONE) + 2
        html_page = client.get("/source/atlas.pdf", params={"start": s, "end": s + len(PAGE_TWO)}).text
        assert "page 2" in html_page
        assert ('href="https://example.org/atlas.pdf#page=2:~:text=The%20capital%20of%20South%20Korea%20is%20Seoul'
                '%2C%20on%20the%20Han%20river." rel="noopener noreferrer"') in html_page
        assert "license: CC BY 4.0" in client.get("/source/treaty.txt").text


def test_source_page_never_links_a_script_url():
    doc = {"id": "x.txt", "title": "t", "text": "abc def", "meta": {"url": "javascript:alert(1)"}}
    assert "href" not in render_source(doc, 0, 3, None, None)



def test_a_url_needs_a_host_and_no_user_name():
    from qa.text.links import safe_url

    assert safe_url("http://a") == "http://a"
    assert safe_url("https://trusted.org@evil.example/") is None  # shows one host, opens another
    assert safe_url("https://") is None and safe_url("http://[::1") is None


def test_the_page_of_a_pdf_is_set_in_an_existing_fragment():
    from qa.text.links import cite_url

    assert cite_url("https://x.org/a.pdf#zoom=50", "Some quote here.", 3) == \
        "https://x.org/a.pdf#zoom=50&page=3:~:text=Some%20quote%20here."
    assert cite_url("https://x.org/a.pdf#page=2", "Some quote here.", 3).startswith("https://x.org/a.pdf#page=3:~:")


def test_a_quote_whose_opening_words_occur_earlier_gets_the_words_before_it_as_prefix():
    from qa.text.links import text_directive

    text = ("According to the annual report, exports rose sharply.\n\n"
            "Sales slowed. According to the annual report, exports rose by a tenth in the second half of the "
            "year, the largest increase recorded since the long slump of the previous decade ended.")
    start = text.index("According", 10)
    quote = text[start:]
    assert text_directive(quote, text, start) == (
        "text=Sales%20slowed.-,According%20to%20the%20annual%20report%2C,"
        "of%20the%20previous%20decade%20ended.")
    assert not text_directive(quote).startswith("text=Sales")  # without the document: no prefix
