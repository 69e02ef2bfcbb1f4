"""Real headless Chromium against a live server: the UI, the widget across origins, and XSS payloads.

Uses the system Chromium (``apt-get install chromium``); a browser is never downloaded. Without
/usr/bin/chromium these tests skip, unless ``CI`` is set: then they fail, so CI cannot skip them.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
from pathlib import Path

import pytest

from .conftest import SEEDS, fake_pipeline
from .live import Served, free_port

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
EXPORT_Q = "How much did Japan export to South Korea in 2021?"
XSS_DOC = ("The zorblax festival <img src=x onerror=\"window.__xss=1\"> was first held in 1999 in Osaka "
           "<script>window.__xss=1</script> with ${window.__xss=1} lanterns and {{constructor.constructor('window.__xss=1')()}} "
           "drums [click](javascript:window.__xss=1).\n\n"
           "Later zorblax festivals moved to Kobe.\n")
ZORBLAX_Q = "In what year was the zorblax festival first held in Osaka?"
EVIL_ID = "<img src=x onerror=window.__xss=1>.txt"  # a file name is a document id, and a title fallback
EVIL_DOC = ("<script>window.__xss=1</script> Quuxle notes\n\n"
            "The quuxle fair <svg onload=window.__xss=1> was first held in 1888 in Nagoya "
            "<a href=\"javascript:window.__xss=1\">here</a> with [this](javascript:window.__xss=1) and <iframe src=\"javascript:window.__xss=1\"></iframe>.\n")
QUUXLE_Q = "In what year was the quuxle fair first held in Nagoya?"
# Offsets count characters; in a JS string each of these emoji is two UTF-16 units.
EMOJI_DOC = "The quibbit bridge \U0001F309\U0001F309\U0001F309 over the Quib river opened in 1966 after years of work.\n"
EMOJI_Q = "In what year did the quibbit bridge over the Quib river open?"
MD_Q = ("[click me](javascript:window.__xss=1) ![x](javascript:window.__xss=1) "
        "<a href=javascript:window.__xss=1>a</a> when?")
XSS_Q = 'When was the zorblax festival <img src=x onerror="window.__xss=1"> first held <script>window.__xss=1</script>?'

pytestmark = pytest.mark.browser

if not Path(CHROMIUM).exists():
    if os.environ.get("CI"):
        pytest.fail(f"{CHROMIUM} is missing and CI is set: install it with `apt-get install -y chromium`",
                    pytrace=False)
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install -y chromium)", allow_module_level=True)

sync_api = pytest.importorskip("playwright.sync_api")


class StaticSite:
    """A plain http.server on its own loopback port: a *different origin* hosting the widget."""

    def __init__(self, root: Path, port: int):
        handler = functools.partial(_QuietHandler, directory=str(root))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.url = f"http://127.0.0.1:{port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def host_page(qa_url: str, target: bool = False) -> str:
    tag = (f'<div id="box"></div><script src="{qa_url}/widget.js" data-qa-url="{qa_url}" '
           f'data-qa-target="#box"></script>' if target else
           f'<script src="{qa_url}/widget.js" data-qa-url="{qa_url}"></script>')
    return ("<!doctype html><html><head><meta charset='utf-8'><title>Host</title>"
            "<style>input, button, mark, p { color: red !important; font-size: 40px !important; }</style></head>"
            f"<body><h1>A host page</h1><p>Ask our documents:</p>{tag}</body></html>")


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """The qa app (seeds + an XSS document) and two static sites: one allowed by CORS, one not."""
    from qa.serve.api import create_app

    tmp = tmp_path_factory.mktemp("browser")
    corpus = tmp / "corpus"
    shutil.copytree(SEEDS, corpus)
    (corpus / "xss.txt").write_text(XSS_DOC, encoding="utf-8")
    (corpus / "emoji.txt").write_text(EMOJI_DOC, encoding="utf-8")
    (corpus / EVIL_ID).write_text(EVIL_DOC, encoding="utf-8")
    with open(corpus / "sources.yaml", "a", encoding="utf-8") as f:  # a hostile title and link too
        f.write('\nxss.txt:\n  title: "Zorblax <img src=x onerror=\'window.__xss=1\'>"\n'
                '  url: "javascript:window.__xss=1"\n')
    app_port, allowed_port, refused_port = free_port(), free_port(), free_port()
    allowed_origin = f"http://127.0.0.1:{allowed_port}"
    pipeline = fake_pipeline(tmp, corpus=corpus, cors_origins=[allowed_origin])
    served = Served(create_app(pipeline), app_port)
    sites = []
    for name, port in (("allowed", allowed_port), ("refused", refused_port)):
        root = tmp / name
        root.mkdir()
        (root / "index.html").write_text(host_page(served.url), encoding="utf-8")
        (root / "target.html").write_text(host_page(served.url, target=True), encoding="utf-8")
        (root / "frame.html").write_text(f'<!doctype html><iframe src="{served.url}/" style="width:100%;height:720px;'
                                         'border:0"></iframe>', encoding="utf-8")  # docs/web.md, step 3
        sites.append(StaticSite(root, port))
    yield {"app": served, "allowed": sites[0], "refused": sites[1], "pipeline": pipeline}
    for s in sites:
        s.close()
    served.close()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.external_requests = []  # type: ignore[attr-defined]
    pg.on("request", lambda r: None if r.url.startswith(("http://127.0.0.1", "data:", "blob:"))
          else pg.external_requests.append(r.url))  # type: ignore[attr-defined]
    pg.dialogs = []  # type: ignore[attr-defined]
    pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))  # type: ignore[attr-defined]
    yield pg
    context.close()


def ask_ui(page, question: str) -> None:
    box = page.locator("#qa-question textarea, #qa-question input").first
    box.fill(question)
    box.press("Enter")


def test_ui_answers_with_highlight(stack, page):
    page.goto(stack["app"].url + "/")
    ask_ui(page, EXPORT_Q)
    mark = page.locator("#qa-chat .qa-msg mark").first
    mark.wait_for(timeout=20_000)
    assert mark.inner_text() == "$51.1 billion"
    assert "confident" in page.locator("#qa-chat .qa-conf").first.inner_text()
    assert "[1]" in page.locator("#qa-chat summary").first.inner_text()
    assert page.locator("#qa-sources li").count() >= 1
    # the whole-document link opens the quote highlighted by offsets
    href = page.locator("#qa-chat a.qa-open").first.get_attribute("href")
    doc = page.context.new_page()
    doc.goto(stack["app"].url + href)
    assert doc.locator("mark#hl").inner_text() == "$51.1 billion"
    assert page.external_requests == []  # nothing fetched from a CDN


def test_ui_example_button_and_abstention(stack, page):
    page.goto(stack["app"].url + "/")
    page.get_by_role("button", name=EXPORT_Q).click()
    page.locator("#qa-chat .qa-msg mark").first.wait_for(timeout=20_000)
    ask_ui(page, "What is the capital of Mars?")
    page.get_by_text("The sources don't answer this.").wait_for(timeout=20_000)
    assert page.get_by_text("Related, but not an answer").count() >= 1
    assert page.locator("#qa-chat .qa-msg").count() == 2  # history kept


def test_ui_phone_width(stack, browser):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto(stack["app"].url + "/")
    ask_ui(page, EXPORT_Q)
    page.locator("#qa-chat .qa-msg mark").first.wait_for(timeout=20_000)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390 + 2, f"page is {width}px wide at a 390px viewport"
    context.close()


def test_widget_on_allowed_origin(stack, page):
    page.goto(stack["allowed"].url + "/index.html")
    page.locator(".qa-widget input").fill(EXPORT_Q)
    page.locator(".qa-widget input").press("Enter")
    mark = page.locator(".qa-widget mark")
    mark.wait_for(timeout=20_000)
    assert mark.inner_text() == "$51.1 billion"
    assert "confident" in page.locator(".qa-widget .conf").inner_text()
    assert page.locator(".qa-widget ol.cites li").count() >= 1
    # the host page's !important styles do not reach inside the shadow root
    assert page.locator(".qa-widget mark").evaluate("e => getComputedStyle(e).color") != "rgb(255, 0, 0)"
    # the widget sits right after its script tag
    assert page.evaluate("document.querySelector('script[src$=\"widget.js\"]').nextElementSibling.className") \
        == "qa-widget"


def test_widget_marks_the_answer_after_emoji_by_characters_not_utf16_units(stack, page):
    page.goto(stack["allowed"].url + "/index.html")
    page.locator(".qa-widget input").fill(EMOJI_Q)
    page.locator(".qa-widget input").press("Enter")
    page.locator(".qa-widget mark").first.wait_for(timeout=20_000)
    assert page.locator(".qa-widget .answer").first.inner_text().startswith("1966")
    assert page.locator(".qa-widget mark").first.inner_text() == "1966"
    assert "\U0001F309" * 3 in page.locator(".qa-widget .quote").first.inner_text()


def test_widget_into_target(stack, page):
    page.goto(stack["allowed"].url + "/target.html")
    page.locator("#box .qa-widget input").fill(EXPORT_Q)
    page.locator("#box .qa-widget button").click()
    page.locator("#box .qa-widget mark").wait_for(timeout=20_000)


def test_widget_refused_on_other_origin(stack, page):
    page.goto(stack["refused"].url + "/index.html")
    page.locator(".qa-widget input").fill(EXPORT_Q)
    page.locator(".qa-widget input").press("Enter")
    err = page.locator(".qa-widget .error")
    err.wait_for(timeout=20_000)
    assert "Could not reach" in err.inner_text()
    assert page.locator(".qa-widget mark").count() == 0


def test_xss_never_runs_in_ui(stack, page):
    src = stack["pipeline"].ask(ZORBLAX_Q)
    assert not src.abstained and src.citations[0].source == "xss.txt"  # the payload is in the cited quote
    assert "<img" in src.citations[0].quote or "<script>" in src.citations[0].quote
    page.goto(stack["app"].url + "/")
    ask_ui(page, XSS_Q)
    page.locator("#qa-chat .qa-msg").first.wait_for(timeout=20_000)
    ask_ui(page, ZORBLAX_Q)
    page.locator("#qa-chat .qa-msg mark").first.wait_for(timeout=20_000)
    page.locator("#qa-chat details").first.evaluate("e => e.open = true")
    page.get_by_text("Explain").click()
    page.wait_for_timeout(500)
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert page.locator("#qa-chat img[src=x]").count() == 0
    # the payload is shown as text
    assert "<img src=x" in page.locator("#qa-chat").inner_text()
    # and the document view shows it as text too
    page.goto(stack["app"].url + page.locator("#qa-chat a.qa-open").last.get_attribute("href"))
    page.wait_for_timeout(200)
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert "<script>window.__xss=1</script>" in page.inner_text("body")


def test_xss_never_runs_in_widget(stack, page):
    page.goto(stack["allowed"].url + "/index.html")
    page.locator(".qa-widget input").fill(XSS_Q)
    page.locator(".qa-widget input").press("Enter")
    page.locator(".qa-widget .out p").first.wait_for(timeout=20_000)
    page.locator(".qa-widget input").fill(ZORBLAX_Q)
    page.locator(".qa-widget input").press("Enter")
    page.locator(".qa-widget mark").wait_for(timeout=20_000)
    page.wait_for_timeout(300)
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert page.locator(".qa-widget img").count() == 0
    assert "onerror" in page.locator(".qa-widget .quote").first.inner_text()
    assert page.locator(".qa-widget a.original").count() == 0  # its javascript: url is never a link


ORIGINAL_PAGE = ("<!doctype html><html><head><meta charset='utf-8'><title>The treaty</title></head><body>"
                 "<div style='height:4000px'>Filler above.</div><main><h1>Relations</h1>"
                 "<p id='quote'>The Treaty on Basic Relations was signed in 1965 - it normalised relations, "
                 "at last &amp; for good.</p><p>Zorp glorb.</p></main>"
                 "<div style='height:4000px'>Filler below.</div></body></html>")


def assert_scrolls_to_quote(context, href: str) -> None:
    """Opening ``href`` scrolls the page (4,000 px of filler above the quote) to the element #quote."""
    page = context.new_page()
    page.goto(href)
    page.wait_for_timeout(500)
    top = page.evaluate("document.getElementById('quote').getBoundingClientRect().top")
    assert page.evaluate("window.scrollY") > 3000 and 0 <= top < 700


def test_citation_link_scrolls_the_original_page_to_the_quote(browser, tmp_path):
    """Widget -> 'original' link -> a real Chromium scrolls the original page to the quote (text fragment)."""
    site_root = tmp_path / "site"
    site_root.mkdir()
    site = StaticSite(site_root, free_port())
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "treaty.html").write_text(ORIGINAL_PAGE, encoding="utf-8")
    (corpus / "sources.yaml").write_text(f"treaty.html:\n  url: {site.url}/treaty.html\n", encoding="utf-8")
    pipeline = fake_pipeline(tmp_path, corpus=corpus, cors_origins=[site.url], abstain_threshold=0.0)
    served = Served(create_app_for(pipeline), free_port())
    (site_root / "treaty.html").write_text(ORIGINAL_PAGE, encoding="utf-8")
    (site_root / "index.html").write_text(host_page(served.url), encoding="utf-8")
    context = browser.new_context(viewport={"width": 1000, "height": 700})
    try:
        page = context.new_page()
        page.goto(site.url + "/index.html")
        page.locator(".qa-widget input").fill("When was the Treaty on Basic Relations signed?")
        page.locator(".qa-widget input").press("Enter")
        link = page.locator(".qa-widget a.original").first
        link.wait_for(timeout=20_000)
        href = link.get_attribute("href")
        assert href.startswith(site.url + "/treaty.html#:~:text=The%20Treaty%20on%20Basic")
        assert link.get_attribute("rel") == "noopener noreferrer"
        assert_scrolls_to_quote(context, href)
    finally:
        context.close()
        served.close()
        site.close()


def create_app_for(pipeline):
    from qa.serve.api import create_app

    return create_app(pipeline, ui=False)


def test_check_tab_in_the_browser(stack, page, tmp_path):
    """The "Check a claim" tab: a contradiction with both details marked, then quote mode with a source."""
    page.goto(stack["app"].url + "/")
    page.get_by_role("tab", name="Check a claim").click()
    box = page.locator("#qa-claim textarea").first
    box.fill("Japan exported $15.1 billion to South Korea in 2021. The zorblax festival was first held in 1997.")
    page.locator("#qa-check").click()
    result = page.locator("#qa-check-result")
    result.locator("mark.qa-diff").first.wait_for(timeout=20_000)
    assert result.locator("mark.qa-diff").all_inner_texts() == ["$15.1 billion", "$51.1 billion", "1997", "1999"]
    assert result.locator(".qa-badge.contradicted").count() == 2
    assert page.evaluate("window.__xss") is None  # the hostile document's markup stayed text
    page.screenshot(path=os.environ.get("QA_CHECK_SCREENSHOT", str(tmp_path / "check.png")), full_page=True)
    page.get_by_label("Verify a quote").check()
    page.locator("#qa-quote-source").wait_for(timeout=10_000)
    box.fill("Japan shipped $51.1 billion to South Korea")
    page.locator("#qa-check").click()
    result.locator("mark.qa-ins").first.wait_for(timeout=20_000)
    assert result.locator("mark.qa-ins").all_inner_texts() == ["exported"]
    assert "not verbatim" in result.inner_text().lower()
    assert page.external_requests == []


def assert_inert(page, root: str) -> None:
    """No payload ran: no flag, no dialog, no injected element or script link under the JS node ``root``."""
    page.wait_for_timeout(300)
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert page.dialogs == []
    bad = page.evaluate(f"""() => Array.from(({root}).querySelectorAll('*')).filter(e =>
        ['SCRIPT', 'IFRAME', 'SVG', 'OBJECT', 'EMBED'].includes(e.tagName.toUpperCase()) && !e.closest('button') ||
        (e.tagName === 'IMG' && (e.getAttribute('src') || '') === 'x') ||
        Array.from(e.attributes).some(a => a.name.startsWith('on') ||
            /^\\s*javascript:/i.test(a.value))).map(e => e.outerHTML.slice(0, 120))""")
    assert bad == [], bad


def test_xss_in_file_name_title_and_markdown_in_ui(stack, page):
    assert stack["pipeline"].ask(QUUXLE_Q).citations[0].source == EVIL_ID
    page.goto(stack["app"].url + "/")
    ask_ui(page, MD_Q)
    page.locator("#qa-chat .qa-msg").first.wait_for(timeout=20_000)
    ask_ui(page, QUUXLE_Q)
    page.locator("#qa-chat .qa-msg mark").first.wait_for(timeout=20_000)
    for d in page.locator("#qa-chat details").all():
        d.evaluate("e => e.open = true")
    assert_inert(page, "document.querySelector('#qa-chat')")
    assert_inert(page, "document.querySelector('#qa-sources')")
    chat = page.locator("#qa-chat").inner_text()
    assert "javascript:window.__xss=1" in chat  # the question's payload is shown as text
    assert "<svg onload" in chat or "<iframe" in chat  # and the document's
    # the id with markup is only ever a percent-encoded link, and the document view shows it as text
    href = page.locator('#qa-chat a.qa-open[href^="/source/%3Cimg%20src%3Dx"]').first.get_attribute("href")
    assert "<" not in href
    page.goto(stack["app"].url + href)
    assert_inert(page, "document.body")
    assert "id: " + EVIL_ID in page.inner_text("body")
    assert "<script>window.__xss=1</script>" in page.inner_text("body")


def test_xss_in_file_name_in_widget(stack, page):
    page.goto(stack["allowed"].url + "/index.html")
    page.locator(".qa-widget input").fill(QUUXLE_Q)
    page.locator(".qa-widget input").press("Enter")
    page.locator(".qa-widget mark").wait_for(timeout=20_000)
    assert_inert(page, "document.querySelector('.qa-widget').shadowRoot")
    inner = page.evaluate("document.querySelector('.qa-widget').shadowRoot.querySelector('.out').innerHTML")
    assert "<svg" not in inner and "<iframe" not in inner and "&lt;svg" in inner
    link = page.locator('.qa-widget a.title[href*="/source/%3Cimg%20src%3Dx"]').first.get_attribute("href")
    page.goto(link)
    assert_inert(page, "document.body")


REPEATED_PAGE = ("<!doctype html><html><head><meta charset='utf-8'><title>Report</title></head><body>"
                 "<p>According to the annual report, exports rose sharply.</p>"
                 "<div style='height:4000px'>Filler.</div>"
                 "<p id='quote'>Sales slowed. According to the annual report, exports rose by a tenth in the second "
                 "half of the year, the largest increase recorded since the long slump of the previous decade "
                 "ended.</p><div style='height:4000px'>Filler below.</div></body></html>")


def test_a_range_link_whose_opening_words_occur_earlier_still_scrolls_to_the_quote(browser, tmp_path):
    from qa.ingest.formats import extract_html
    from qa.text.links import cite_url

    site_root = tmp_path / "site"
    site_root.mkdir()
    (site_root / "report.html").write_text(REPEATED_PAGE, encoding="utf-8")
    site = StaticSite(site_root, free_port())
    text = extract_html("report.html", REPEATED_PAGE.encode(), lambda m: None).text
    start = text.index("According", 10)
    end = text.index("ended.") + len("ended.")
    href = cite_url(f"{site.url}/report.html", text[start:end], None, text, start)
    assert "Sales%20slowed.-," in href
    context = browser.new_context(viewport={"width": 1000, "height": 700})
    try:
        assert_scrolls_to_quote(context, href)
    finally:
        context.close()
        site.close()


# ------------------------------------------------------------------ your own documents (issue 22)

OWN_DOCS = {
    "festival.html": ("<!doctype html><html><head><title>The Zorblax festival</title></head><body><main>"
                      "<h1>Zorblax festival</h1><p>The Zorblax is a lantern festival held in Osaka every spring. "
                      "Thousands of lanterns float on the river.</p></main></body></html>"),
    "parade.md": ("# Parade notes\n\nHow to join the parade\n\nWrite to the parade office before March and wear a "
                  "blue scarf on the day.\n"),
    "kites.txt": "Kite flying\n\nKites are flown on the beach in August when the wind comes from the sea.\n",
}
SENTENCE_Q = "What is the Zorblax?"


@pytest.fixture(scope="module")
def own(tmp_path_factory):
    """The UI over a small corpus of someone's own documents: no seeds, no examples configured."""
    from qa.serve.api import create_app

    from .conftest import make_corpus

    tmp = tmp_path_factory.mktemp("own")
    pipeline = fake_pipeline(tmp, corpus=make_corpus(tmp, OWN_DOCS), abstain_threshold=0.0)
    served = Served(create_app(pipeline), free_port())
    yield served
    served.close()


def test_own_corpus_lists_its_documents(own, page):
    page.goto(own.url + "/")
    docs = page.locator("#qa-documents")
    docs.locator("li").first.wait_for(timeout=20_000)
    assert "Searching 3 documents" in docs.inner_text()
    assert sorted(docs.locator("li a").all_inner_texts()) == ["Parade notes", "The Zorblax festival", "kites.txt"]
    href = docs.get_by_role("link", name="The Zorblax festival").get_attribute("href")
    doc = page.context.new_page()
    doc.goto(own.url + href)
    assert "lantern festival" in doc.inner_text("body")
    assert "Japan" not in page.locator("body").inner_text()  # nothing about the seed corpus


def test_own_corpus_offers_its_own_examples_and_says_a_sentence_answer_once(own, page, tmp_path):
    page.goto(own.url + "/")
    example = page.get_by_role("button", name=SENTENCE_Q)
    example.wait_for(timeout=20_000)
    assert page.locator(".qa-examples button").all_inner_texts() == [SENTENCE_Q]  # only what is answered well
    example.click()
    message = page.locator("#qa-chat .qa-msg").first
    message.wait_for(timeout=20_000)
    shown = message.inner_text()  # what the reader sees; the citations' context stays folded
    assert shown.count("lantern festival held in Osaka") == 1, shown
    assert "confident" in shown and "[1]" in shown
    page.get_by_text("Explain").click()
    why = page.locator("#qa-explain .qa-why")
    why.wait_for(timeout=10_000)
    assert "Why this sentence:" in why.inner_text() and "“Zorblax”" in why.inner_text()
    assert not page.locator("#qa-explain table").is_visible()  # the numbers: one click away
    page.locator("#qa-explain .qa-numbers summary").click()
    assert page.locator("#qa-explain table").is_visible()
    page.screenshot(path=str(tmp_path / "own.png"), full_page=True)


def test_chat_buttons_do_not_cover_the_messages(stack, page):
    """Gradio's trash and copy-all buttons sit above the scrolling messages, not over the first one."""
    page.goto(stack["app"].url + "/")
    for n, q in enumerate((EXPORT_Q, "When did Japan rule Korea as a colony?", ZORBLAX_Q)):
        ask_ui(page, q)
        page.locator("#qa-chat .qa-msg").nth(n).wait_for(timeout=20_000)
    page.wait_for_timeout(300)
    icons = page.locator("#qa-chat .icon-button-wrapper.top-panel").bounding_box()
    messages = page.locator("#qa-chat .bubble-wrap").bounding_box()  # the scrolling area messages are shown in
    assert icons is not None and messages is not None
    assert icons["y"] + icons["height"] <= messages["y"] + 1, (icons, messages)


FOLLOW_Q = "When did it end?"
UNDERSTOOD = "Understood as: When did the invasion of South Korea by North Korea end?"


def test_ui_understands_a_follow_up_and_clearing_forgets_the_conversation(stack, page):
    page.goto(stack["app"].url + "/")
    ask_ui(page, "When did North Korea invade South Korea?")
    page.locator("#qa-chat .qa-msg").first.wait_for(timeout=20_000)
    ask_ui(page, FOLLOW_Q)
    understood = page.locator("#qa-chat .qa-understood")
    understood.wait_for(timeout=20_000)
    assert understood.inner_text() == UNDERSTOOD
    page.get_by_role("button", name="Clear the conversation").click()
    page.wait_for_function("document.querySelectorAll('#qa-chat .qa-msg').length === 0", timeout=10_000)
    ask_ui(page, FOLLOW_Q)  # a new conversation: nothing for "it" to stand for
    page.locator("#qa-chat .qa-msg").first.wait_for(timeout=20_000)
    assert page.locator("#qa-chat .qa-understood").count() == 0
    assert page.external_requests == []


def test_widget_sends_its_conversation_and_clearing_forgets_it(stack, page):
    sent = []
    page.on("request", lambda r: sent.append(r.post_data_json) if r.url.endswith("/api/ask") and r.method == "POST"
            else None)
    page.goto(stack["allowed"].url + "/index.html")
    box = page.locator(".qa-widget input")
    box.fill("When did North Korea invade South Korea?")
    box.press("Enter")
    page.locator(".qa-widget .out .answer").wait_for(timeout=20_000)
    box.fill(FOLLOW_Q)
    box.press("Enter")
    understood = page.locator(".qa-widget .understood")
    understood.wait_for(timeout=20_000)
    assert understood.inner_text() == UNDERSTOOD
    earlier = page.locator(".qa-widget ol.conv li")
    assert earlier.count() == 1 and earlier.first.inner_text().startswith("When did North Korea invade South Korea?")
    assert "history" not in sent[0]
    assert sent[1]["question"] == FOLLOW_Q and [t["question"] for t in sent[1]["history"]] == [
        "When did North Korea invade South Korea?"]
    page.locator(".qa-widget button.clear").click()
    assert earlier.count() == 0 and page.locator(".qa-widget button.clear").count() == 0
    box.fill(FOLLOW_Q)
    box.press("Enter")
    page.locator(".qa-widget .out .answer").wait_for(timeout=20_000)
    assert "history" not in sent[-1] and page.locator(".qa-widget .understood").count() == 0


def test_the_chat_can_be_framed_by_a_listed_site_only(stack, page):
    """frame-ancestors names the cors_origins: the iframe of docs/web.md works there, and nowhere else."""
    page.goto(stack["allowed"].url + "/frame.html")
    frame = page.frame_locator("iframe")
    box = frame.locator("#qa-question textarea, #qa-question input").first
    box.wait_for(timeout=20_000)
    box.fill(EXPORT_Q)
    box.press("Enter")
    assert frame.locator("#qa-chat .qa-msg mark").first.inner_text(timeout=20_000) == "$51.1 billion"
    page.goto(stack["refused"].url + "/frame.html")
    page.wait_for_timeout(2_000)
    assert page.frame_locator("iframe").locator("#qa-question").count() == 0
