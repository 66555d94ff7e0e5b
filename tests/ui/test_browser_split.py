"""A split test in a real browser: the wizard's section, the campaign page, deciding early.

One walk, at 1280 px then 390 px for the pages a marketer reads on a phone, with screenshots
and the axe-core check (tests/ui/axe.py) on each.
"""

import pytest
from playwright.sync_api import expect

from campaigns.models import Campaign, SplitTest, Variant
from tests.ui import test_browser
from tests.ui.axe import axe_check
from tests.ui.conftest import make_audience, make_user
from tests.ui.pages import split_campaign
from tests.ui.test_browser import login, shot
from ui.roles import MARKETER, SENDER

pytestmark = pytest.mark.browser
# The browser and the screenshots' folder, as test_browser makes them.
browser_page = test_browser.browser_page
shots_dir = test_browser.shots_dir


def test_a_marketer_sets_up_a_split_test_and_a_sender_decides_it(
    browser_page, live_server, transactional_db, shots_dir
):
    make_user("sol", MARKETER, SENDER)
    audience = make_audience(12)
    running = split_campaign(audience)
    page, base = browser_page, live_server.url
    login(page, base, "sol")

    # The wizard: the SMS is version A; a second version, a coupon, the shares and the rule.
    page.goto(base + "/campaigns/new/")
    page.get_by_label("Campaign name").fill("Autumn split")
    page.locator(f"input[name=lists][value='{audience.pk}']").check()
    page.get_by_role("button", name="Next: message").click()
    page.locator("#id_text").fill("Hi {{first_name}}, autumn is here")
    page.locator("#split-section > summary").click()
    page.get_by_label("Run a split test or hold some people out").check()
    page.locator("#variant_B").fill("{{first_name}}: 15% off this weekend")
    page.locator("#coupon_B").fill("AUTUMN15")
    page.get_by_label("Test share (% of the audience)").fill("30")
    page.get_by_label("Holdout (% who get nothing)").fill("10")
    page.get_by_label("Winner by").select_option("conversions")
    page.get_by_label("Decide after (hours from launch)").fill("12")
    shot(page, shots_dir, "split-01-wizard-section")
    axe_check(page, "wizard message step with the split section")
    page.get_by_role("button", name="Next: options").click()
    expect(page.get_by_role("heading", name="New campaign: Autumn split")).to_be_visible()
    page.get_by_role("button", name="Save draft and preview").click()
    expect(page.get_by_text("Draft saved.")).to_be_visible()
    campaign = Campaign.objects.get(name="Autumn split")
    split = SplitTest.objects.get(campaign=campaign)
    assert (split.test_share, split.holdout, split.winner_by) == (30, 10, "conversions")
    assert list(Variant.objects.filter(campaign=campaign).values_list("name", "coupon")) == [
        ("A", ""),
        ("B", "AUTUMN15"),
    ]

    # The running test's page: versions side by side, their chances, the lift so far.
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(f"{base}/campaigns/{running.pk}/")
        expect(page.locator("#split-state")).to_contain_text("750 people wait for the winner")
        expect(page.locator("#variants-table")).to_contain_text("91 %")
        expect(page.locator("#lift-difference")).to_contain_text("points")
        scroll_width = page.evaluate("document.documentElement.scrollWidth")
        assert scroll_width <= width + 1, f"the split page is {scroll_width}px wide at {width}"
        shot(page, shots_dir, f"split-02-campaign-w{width}")
        axe_check(page, f"split campaign page at {width} px")

    # A Sender does not wait for the rule: B goes to the rest now (audited, once).
    page.set_viewport_size({"width": 1280, "height": 900})
    page.get_by_role("button", name="Send B to the rest now").click()
    expect(page.get_by_text("Decided: chosen by sol.")).to_be_visible()
    expect(page.locator("#split-decide")).to_have_count(0)
    shot(page, shots_dir, "split-03-decided")
    assert SplitTest.objects.get(campaign=running).winner == 2
