"""A visitor in a real browser (Debian's Chromium driven by Playwright): search, open, review."""

from __future__ import annotations

import json
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


def sign_in_on_the_login_page(page: Any, username: str, password: str) -> None:
    """Click "Sign in" in the SPA and fill the local issuer's login page."""
    page.locator("#sign-in").click()
    page.wait_for_url("**/login?**")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(password)
    page.locator("button[type=submit]").click()


def test_search_open_product_sign_in_and_post_a_review(browser: Any,
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
    # AND a visitor who is not signed in is asked to sign in instead of given the form
    expect(page.locator("#review-sign-in")).to_have_text("Sign in to write a review.")
    expect(page.locator("#review-form")).to_be_hidden()
    # WHEN alice signs in on the local login page
    sign_in_on_the_login_page(page, "alice", "alice-local-only")
    # THEN she is back on the product page, signed in, with no code left in the address
    expect(page.locator("#user-name")).to_have_text("Signed in as alice")
    expect(page).to_have_url(local_platform.url + "/products/p-1005")
    assert "code=" not in page.url and "state=" not in page.url
    assert page.evaluate("history.length") >= 1
    # WHEN she posts a review
    text = f"Makes a clean cup ({uuid.uuid4().hex[:6]})."
    form = page.locator("form#review-form")
    expect(form.locator(".review-author")).to_have_text("alice")
    form.locator("select[name=rating]").select_option("4")
    form.locator("textarea[name=text]").fill(text)
    form.locator("button[type=submit]").click()
    # THEN it shows up in the list with her name as its author
    review = page.locator("#reviews li", has_text=text)
    expect(review).to_contain_text("alice")
    expect(review.locator("strong")).to_have_text(" alice")
    # AND a reload keeps her signed in (this tab's session) and shows the review once
    page.reload()
    expect(page.locator("#product h1")).to_have_text("Ceramic Pour-Over Dripper")
    expect(page.locator("#reviews li", has_text=text)).to_have_count(1)
    expect(page.locator("#user-name")).to_have_text("Signed in as alice")
    # AND her token is never written to the local cloud's console (request log included)
    session = json.loads(page.evaluate("sessionStorage.getItem('archway.auth.session')"))
    token = session["idToken"]
    console = local_platform.log.read_text()
    assert token not in console and token.split(".")[2] not in console
    assert "code=REDACTED" in console  # the way back from sign-in was logged, redacted
    # AND not to any log file it keeps (handler logs, moto's log)
    logs = list((local_platform.root / "build" / "local" / ".cloud").rglob("*.log"))
    assert any(log.parent.name == "logs" for log in logs)  # the handlers' logs are there
    for log in logs:
        assert token.split(".")[2] not in log.read_text(errors="replace"), log
    # WHEN she signs out THEN she is a visitor again and the form is gone
    page.locator("#sign-out").click()
    page.wait_for_url(local_platform.url + "/")
    expect(page.locator("#sign-in")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('archway.auth.session')") is None
    assert errors == []
    page.close()


def test_a_wrong_password_is_refused_on_the_login_page(browser: Any,
                                                       local_platform: LocalPlatform) -> None:
    from playwright.sync_api import expect

    page = browser.new_page()
    page.set_default_timeout(15000)
    page.goto(local_platform.url + "/products/p-1001")
    expect(page.locator("#sign-in")).to_be_visible()
    sign_in_on_the_login_page(page, "bob", "not-his-password")
    expect(page.locator("p.error")).to_have_text("Incorrect username or password.")
    assert page.url.startswith(local_platform.issuer)
    page.close()


def test_an_unauthenticated_post_gets_401(local_platform: LocalPlatform) -> None:
    # GIVEN no sign-in; WHEN a review is posted through the edge THEN API Gateway's 401
    with local_platform.client() as http:
        response = http.post("/api/reviews/products/p-1001/reviews",
                             json={"rating": 5, "text": "Anonymous."})
        assert (response.status_code, response.json()) == (401, {"message": "Unauthorized"})
        forged = http.post("/api/reviews/products/p-1001/reviews",
                           json={"rating": 5, "text": "Forged."},
                           headers={"authorization": "Bearer not.a.token"})
        assert forged.status_code == 401
        # AND nothing was stored
        texts = [r["text"] for r in http.get("/api/reviews/products/p-1001/reviews")
                 .json()["reviews"]]
        assert "Anonymous." not in texts and "Forged." not in texts
