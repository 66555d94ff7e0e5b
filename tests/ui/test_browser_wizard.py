"""The campaign wizard walked end to end by a Marketer in a real browser, at 1280 and 390 px
(issue 26 #2, #4, #5, #7, #8, #9): every option, quiet hours as people say them, the launch
forecast before the button, test sends to saved numbers with their result, and the words on
the preview, the confirmation and the campaign page.

Runs in the integration run (Chromium through Playwright, the live server, a real worker and
the sandbox); screenshots go to the run's test-artifacts/ folder.
"""

import datetime as dt
import zoneinfo

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from campaigns.models import Campaign
from contacts.models import Contact, ContactList, ListMembership
from tests.ui import test_browser
from tests.ui.conftest import make_user
from tests.ui.test_browser import login, shot
from ui.roles import MARKETER, SENDER

pytestmark = pytest.mark.browser
browser_page = test_browser.browser_page
shots_dir = test_browser.shots_dir
WIDTHS = (1280, 390)


def _zone_at(hour: int) -> str:
    """An Etc/GMT zone where the local time now is about `hour` o'clock."""
    now = timezone.now()
    offset = (hour - now.hour + 12) % 24 - 12  # -12 … +11
    # Etc/GMT signs are inverted: Etc/GMT-3 is three hours ahead of UTC.
    return "UTC" if offset == 0 else f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"


def _audience() -> ContactList:
    """Two customers where it is day, one where it is 03:00 (inside 21:00–08:00)."""
    audience = ContactList.objects.create(name="Winter customers")
    people = [
        ("+447946000201", "Ann", _zone_at(12)),
        ("+447946000202", "Bob", _zone_at(12)),
        ("+447946000203", "Cy", _zone_at(3)),
    ]
    for phone, name, zone in people:
        contact = Contact.objects.create(phone=phone, first_name=name, country="GB", timezone=zone)
        ListMembership.objects.create(contact=contact, contact_list=audience)
    assert zoneinfo.ZoneInfo(_zone_at(3))
    return audience


def _both_widths(page, shots_dir, axe_audit, name: str) -> None:
    """Screenshots at both widths, each checked by axe-core (no serious/critical violation)."""
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        shot(page, shots_dir, f"wizard-{name}-{width}")
        axe_audit.check(page, f"wizard {name} at {width} px")
    page.set_viewport_size({"width": 1280, "height": 900})


def test_a_marketer_sets_every_option_sees_the_forecast_and_launches(
    browser_page, live_server, celery_worker, sandbox, engine_settings, shots_dir, axe_audit
):
    sandbox.configure(outcomes={"delivered": 1.0}, push_delay=0.2)
    # GB's opt-out rule (the suite runs without), and national numbers read as British.
    engine_settings.HERALD_OPT_OUT_COUNTRIES = ["GB"]
    engine_settings.HERALD_DEFAULT_REGION = "GB"
    make_user("wendy", MARKETER, SENDER)
    _audience()
    page, base = browser_page, live_server.url
    login(page, base, "wendy")

    page.goto(base + "/campaigns/new/")
    page.get_by_label("Campaign name").fill("Winter sale")
    lists = page.locator("fieldset", has_text="Send to these lists")
    lists.get_by_label("Winter customers").check()
    page.get_by_role("button", name="Next: message").click()

    # The counter warns as the marketer types: an unclosed placeholder, then the 1,600 cap.
    text = page.locator("#id_text")
    text.fill("Hi {{first_name")
    expect(page.locator("#sms-syntax")).to_contain_text("is not closed: write {{first_name}}")
    text.fill("x" * 1500)
    expect(page.locator("#sms-cap")).to_contain_text("100 characters left before the 1,600")
    _both_widths(page, shots_dir, axe_audit, "01-counter-near-the-cap")
    text.fill("Hi {{first_name|there}}, 20% off: https://shop.example/winter")
    expect(page.locator("#sms-cap")).to_have_count(0)
    page.get_by_role("button", name="Next: options").click()

    # Options: a link in the text, so tracking starts on; quiet hours as people say them.
    expect(page.get_by_label("Shorten links and count each click")).to_be_checked()
    page.get_by_label("Don't send between").fill("21:00")
    page.get_by_label("and", exact=True).fill("08:00")
    page.get_by_label("Sender name or number").fill("WinterShop")
    page.get_by_label("Stop trying to deliver after").fill("72")
    page.get_by_label("Stop sending once it has cost").fill("100")
    page.get_by_role("button", name="Save draft and preview").click()
    expect(page.locator("#err-validity")).to_contain_text("at most 48 hours")
    _both_widths(page, shots_dir, axe_audit, "02-options-refused-at-the-field")
    page.get_by_label("Stop trying to deliver after").fill("12")
    page.get_by_role("button", name="Save draft and preview").click()

    campaign = Campaign.objects.get(name="Winter sale")
    assert (campaign.quiet_hours_start, campaign.quiet_hours_end) == (dt.time(8), dt.time(21))
    assert (campaign.sender, campaign.sms_validity_minutes, campaign.track_links) == (
        "WinterShop",
        720,
        True,
    )
    expect(page.locator("#option-quiet_hours")).to_have_text(
        "Nothing is sent between 21:00 and 08:00 in each recipient's local time; messages that "
        "fall inside wait until 08:00."
    )
    expect(page.locator("#option-links")).to_have_text(
        "Links are shortened and each click is counted."
    )
    forecast = page.locator("#forecast")
    expect(forecast).to_contain_text("2 go at once.")
    expect(forecast).to_contain_text("1 GB recipient waits for 08:00 local")
    # Nobody can reply to "WinterShop": the law's opt-out line is each person's own link.
    expect(page.locator("#option-opt_out")).to_contain_text("their personal opt-out link")
    expect(page.locator(".preview-text").first).to_contain_text("Opt out: http")
    _both_widths(page, shots_dir, axe_audit, "03-preview-options-and-forecast")

    # A test to the marketer's own phone, typed the British way and kept for next time; never
    # a customer's number in the box. Its delivery report arrives through the real webhook.
    expect(page.get_by_label("Phone number")).to_have_value("")
    page.get_by_label("Phone number").fill("07700 900123")
    page.get_by_label("Save it to my test numbers as").check()
    page.get_by_label("Label").fill("My phone")
    page.get_by_role("button", name="Send test").click()
    expect(page.locator("#test-sends")).to_contain_text("to +447700900123")
    expect(page.locator("#test-sends")).to_contain_text("Delivered", timeout=30_000)
    expect(page.get_by_label("My phone · +447700900123")).to_be_checked()
    _both_widths(page, shots_dir, axe_audit, "03b-test-delivered")

    page.get_by_role("link", name="Launch…").click()
    expect(page.locator("#confirm-forecast")).to_contain_text("1 GB recipient waits for 08:00")
    expect(page.locator("#option-sender")).to_have_text("SMS from “WinterShop”.")
    _both_widths(page, shots_dir, axe_audit, "04-launch-confirmation")
    page.get_by_role("button", name="Yes, launch").click()
    expect(page.get_by_text("Launched: messages are going out.")).to_be_visible()
    expect(page.locator("#option-budget")).to_contain_text("Sending stops once 100.00")
    _both_widths(page, shots_dir, axe_audit, "05-campaign-page")
