"""A visitor in a real browser (Debian's Chromium driven by Playwright): search, open, review."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from helpers.local_platform import LocalPlatform

pytestmark = [pytest.mark.integration, pytest.mark.browser]

CHROMIUM = os.environ.get("ARCHWAY_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"Chromium not found at {CHROMIUM}: .ci/run installs Debian's chromium")
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield browser
        browser.close()


def test_search_open_product_and_post_a_review(browser: Any,
                                               local_platform: LocalPlatform) -> None:
    from playwright.sync_api import expect

    page = browser.new_page()
    page.set_default_timeout(15000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    # GIVEN the shop's home page
    page.goto(local_platform.url + "/")
    # WHEN the visitor types a prefix, suggestions appear while typing
    page.locator("#search").press_sequentially("cera", delay=60)
    suggestions = page.locator("#suggestions li")
    suggestions.first.wait_for()
    assert [s.strip() for s in suggestions.locator("span:first-child").all_inner_texts()] == [
        "Ceramic Plant Pot", "Ceramic Pour-Over Dripper"]
    # AND opening one shows the product page at its own address
    suggestions.nth(1).click()
    page.wait_for_url("**/products/p-1005")
    expect(page.locator("#product h1")).to_have_text("Ceramic Pour-Over Dripper")
    expect(page.locator("#product .views")).to_contain_text("view")
    # AND a posted review shows up in the list
    author = f"Visitor {uuid.uuid4().hex[:6]}"
    form = page.locator("form#review-form")
    form.locator("input[name=author]").fill(author)
    form.locator("select[name=rating]").select_option("4")
    form.locator("textarea[name=text]").fill("Makes a clean cup.")
    form.locator("button[type=submit]").click()
    review = page.locator("#reviews li", has_text=author)
    expect(review).to_contain_text("Makes a clean cup.")
    # AND a reload of the deep link still shows the product with its review
    page.reload()
    expect(page.locator("#product h1")).to_have_text("Ceramic Pour-Over Dripper")
    expect(page.locator("#reviews li", has_text=author)).to_have_count(1)
    assert errors == []
    page.close()
