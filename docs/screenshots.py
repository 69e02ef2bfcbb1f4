"""Regenerate docs/ui.png, docs/check.png, docs/ui-phone.png and docs/widget.png with the real model on the seed corpus.

    .venv/bin/python docs/screenshots.py        (needs /usr/bin/chromium)
"""

from __future__ import annotations

import dataclasses
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qa import Pipeline  # noqa: E402
from qa.serve.api import create_app  # noqa: E402
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS, Served, StaticSite, free_port, host_page  # noqa: E402

QUESTIONS = ("When did Japan rule Korea as a colony?", "How much did Japan export to South Korea in 2021?",
             "Who met Yoon Suk Yeol in Tokyo in March 2023?")

CLAIMS = ("Japan exported $15.1 billion to South Korea in 2021. Japan ruled Korea as a colony from 1910 to 1945. "
          "The zorblax festival was first held in Busan.")


def ask(page, question: str, n: int) -> None:
    box = page.locator("#qa-question textarea, #qa-question input").first
    box.fill(question)
    box.press("Enter")
    page.locator("#qa-chat .qa-msg").nth(n).wait_for(timeout=60_000)


def main() -> None:
    from playwright.sync_api import sync_playwright

    pipeline = Pipeline.from_config(ROOT / "qa.yaml")
    pipeline.ensure_index()
    site_port = free_port()
    config = dataclasses.replace(pipeline.config, cors_origins=(f"http://127.0.0.1:{site_port}",))
    pipeline = Pipeline(config, embedder=pipeline.embedder)
    served = Served(create_app(pipeline), free_port())
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "index.html").write_text(
            host_page(served.url).replace("<style>input, button, mark, p { color: red !important; "
                                          "font-size: 40px !important; }</style>",
                                          "<style>body { font: 17px Georgia, serif; max-width: 720px; "
                                          "margin: 2rem auto; }</style>"), encoding="utf-8")
        site = StaticSite(Path(tmp), site_port)
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1280, "height": 1000})
                page.goto(served.url + "/")
                for i, q in enumerate(QUESTIONS):
                    ask(page, q, i)
                page.locator("#qa-chat details").last.evaluate("e => e.open = true")
                page.get_by_text("Explain").click()
                page.wait_for_timeout(800)
                page.screenshot(path=str(ROOT / "docs" / "ui.png"), full_page=True)

                page.get_by_role("tab", name="Check a claim").click()
                page.locator("#qa-claim textarea").first.fill(CLAIMS)
                page.locator("#qa-check").click()
                page.locator("#qa-check-result .qa-badge").first.wait_for(timeout=60_000)
                page.wait_for_timeout(500)
                page.screenshot(path=str(ROOT / "docs" / "check.png"), full_page=True)

                phone = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True,
                                         device_scale_factor=2)
                phone.goto(served.url + "/")
                ask(phone, QUESTIONS[1], 0)
                phone.wait_for_timeout(800)
                phone.screenshot(path=str(ROOT / "docs" / "ui-phone.png"))

                host = browser.new_page(viewport={"width": 900, "height": 640})
                host.goto(site.url + "/index.html")
                host.locator(".qa-widget input").fill(QUESTIONS[1])
                host.locator(".qa-widget input").press("Enter")
                host.locator(".qa-widget .answer").wait_for(timeout=60_000)
                host.wait_for_timeout(300)
                host.screenshot(path=str(ROOT / "docs" / "widget.png"))
                browser.close()
        finally:
            site.close()
            served.close()


if __name__ == "__main__":
    main()
