"""Opt-in keywords in a real browser: a marketer adds one, meets a field error, edits it.

Runs in the integration run (Chromium through Playwright against the live server); screenshots
go to the same test-artifacts/ folder as test_browser.py's.
"""

import pytest
from playwright.sync_api import expect

from contacts.models import ContactList, OptInKeyword
from tests.ui import test_browser
from tests.ui.conftest import make_user
from tests.ui.test_browser import login, shot
from ui.roles import MARKETER

pytestmark = pytest.mark.browser
browser_page = test_browser.browser_page
shots_dir = test_browser.shots_dir


def test_a_marketer_sets_up_double_opt_in_for_a_keyword(
    browser_page, live_server, transactional_db, shots_dir
):
    make_user("kim", MARKETER)
    ContactList.objects.create(name="News")
    page, base = browser_page, live_server.url
    login(page, base, "kim")

    page.get_by_role("link", name="Keywords").first.click()
    expect(page.get_by_role("heading", name="Opt-in keywords")).to_be_visible()
    page.get_by_label("Keyword").fill("join")
    page.get_by_label("They join the list").select_option(label="News")
    page.get_by_label("Confirmation text").fill(
        "Herald News: 4 msgs/month. Msg & data rates may apply. STOP to end, HELP for help."
    )
    page.get_by_label("Double opt-in: they must reply YES first").check()
    page.get_by_role("button", name="Add keyword").click()
    expect(page.locator("#err-confirm_prompt")).to_contain_text("Double opt-in needs the prompt")
    expect(page.get_by_label("Keyword")).to_have_value("join")  # what was typed stays
    shot(page, shots_dir, "keywords-01-field-error")
    page.get_by_label("Double opt-in prompt").fill("Reply YES to get Herald News.")
    page.get_by_role("button", name="Add keyword").click()
    expect(page.get_by_text("Keyword JOIN saved.")).to_be_visible()
    row = page.locator("tbody tr", has_text="JOIN")
    expect(row).to_contain_text("News")
    expect(row).to_contain_text("v1")

    row.get_by_role("link", name="Edit").click()
    expect(page.get_by_role("heading", name="Edit JOIN")).to_be_visible()
    page.get_by_label("Double opt-in prompt").fill("Reply YES for Herald News (4 msgs/month).")
    page.get_by_role("button", name="Save keyword").click()
    expect(page.locator("tbody tr", has_text="JOIN")).to_contain_text("v2")
    shot(page, shots_dir, "keywords-02-saved")
    keyword = OptInKeyword.objects.get()
    assert (keyword.double_opt_in, keyword.wording_version) == (True, 2)
