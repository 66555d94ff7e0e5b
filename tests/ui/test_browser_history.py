"""Issue 29 item 5 in a real browser: a Marketer opens a campaign whose history was archived, at
1280 and 390 px — it says so, where the rows went, keeps its figures, and the CSV export comes
from the file (axe-core checked, screenshots written). One login."""

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from campaigns.history import campaign_history_archive
from core.rules import OPERATOR
from tests.campaigns.test_history import _finished
from tests.ui import test_browser
from tests.ui.conftest import make_user
from tests.ui.test_browser import login, shot
from ui.roles import MARKETER

pytestmark = pytest.mark.browser
browser_page = test_browser.browser_page
shots_dir = test_browser.shots_dir


def test_a_marketer_reads_an_archived_campaign_and_exports_it_from_the_file(
    browser_page, live_server, settings, tmp_path, shots_dir, axe_audit
) -> None:
    settings.HERALD_HISTORY_DIR = str(tmp_path)
    campaign = _finished(
        launched_at=timezone.now() - dt.timedelta(days=41), text="Hi {{first_name}}, spring!"
    )
    campaign_history_archive(campaign=campaign, actor=OPERATOR)
    make_user("mia", MARKETER)
    page, base = browser_page, live_server.url

    login(page, base, "mia")
    page.goto(f"{base}/campaigns/{campaign.pk}/")
    expect(page.locator("#history-badge")).to_contain_text("Recipients' history in a file since")
    history = page.locator("#history-archived")
    expect(history).to_contain_text("4 messages and 3 events moved out of the live ledger")
    expect(page.locator("#history-path")).to_have_text(
        str(tmp_path / f"campaign-{campaign.pk}.jsonl.gz")
    )
    expect(page.locator("#count-delivered")).to_have_text("4")
    # The bubble shows a text as sent, read from the file (not the placeholders as written).
    expect(page.locator("#campaign-bubble")).to_have_text("Hi Ann0\nline two")
    expect(page.locator("#recipient-filters")).to_have_count(0)
    shot(page, shots_dir, "history-01-archived-campaign")
    axe_audit.check(page, "archived campaign page")
    with page.expect_download() as download:
        history.get_by_role("link", name="Export all (CSV, from the archive)").click()
    with open(download.value.path(), encoding="utf-8-sig") as fh:
        csv = fh.read()
    assert csv.count("Hi Ann") == 4, csv[:500]

    page.set_viewport_size({"width": 390, "height": 900})
    page.reload()
    expect(history).to_be_visible()
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= 391, f"the archived campaign page is {scroll_width}px wide on a phone"
    shot(page, shots_dir, "history-02-archived-campaign-390")
    axe_audit.check(page, "archived campaign page at 390 px")
