"""Under the Content-Security-Policy every page still works in a real browser: no violation,
no script error, htmx and the charts still run (Chromium through Playwright)."""

import re

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.rules.conftest import PASSWORD, campaign_ready_for, make_role_user

pytestmark = pytest.mark.browser
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def test_pages_work_under_the_policy(live_server, transactional_db) -> None:
    campaign = campaign_ready_for("resend")
    make_role_user("superuser")
    base = live_server.url
    problems: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page()
        page.set_default_timeout(20_000)

        def on_console(message) -> None:
            # The admin's pages have no icon link: the browser's own /favicon.ico probe 404s.
            if message.location.get("url", "").endswith("/favicon.ico"):
                return
            if message.type == "error" or "Content Security Policy" in message.text:
                problems.append(f"{message.text} ({message.location.get('url')})")

        page.on("console", on_console)
        page.on("pageerror", lambda exc: problems.append(str(exc)))
        response = page.goto(base + "/login/")
        assert "script-src 'self'" in response.headers["content-security-policy"]
        page.get_by_label("Username").fill("superuser")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
        for path in [
            "/",
            "/campaigns/",
            f"/campaigns/{campaign.pk}/",
            f"/campaigns/{campaign.pk}/preview/",
            "/campaigns/new/",
            "/contacts/",
            "/lists/",
            "/templates/",
            "/inbox/",
            "/audit/",
            "/admin/",
            f"/admin/campaigns/campaign/{campaign.pk}/change/",
            "/admin/contacts/contact/",
        ]:
            assert page.goto(base + path).status == 200, path
            page.wait_for_load_state("networkidle")
        # htmx runs: the recipients table of the campaign page is loaded by it.
        page.goto(f"{base}/campaigns/{campaign.pk}/")
        expect(page.locator("#recipients table")).to_be_visible()
        # The state filter submits itself (a data-autosubmit listener, not an inline handler).
        page.goto(base + "/campaigns/")
        page.locator("#state").select_option("completed")
        page.wait_for_url(re.compile(r"/campaigns/\?(.*&)?state=completed(&|$)"))
        browser.close()
    assert problems == []
