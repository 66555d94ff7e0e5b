"""Senders per country and the preview's compliance list, walked in a real browser at 390 and
1280 px: a refused country and its reasons, the Senders page (a refused sender, then India's
sender with its DLT entity), leaving a country out and putting it back, the DLT template set
on the preview, and who sends where. Every page checked by axe-core; screenshots written.

One walk (two logins) rather than a test per page: the browser suite's time stays small.
"""

import pytest
from playwright.sync_api import expect

from campaigns.services import campaign_create
from channels.models import Sender
from contacts.models import Contact, ContactList, ListMembership
from tests.ui import test_browser
from tests.ui.conftest import make_user
from tests.ui.test_browser import login, shot
from ui.roles import MARKETER, SENDER

pytestmark = pytest.mark.browser
browser_page = test_browser.browser_page
shots_dir = test_browser.shots_dir
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def _campaign():
    audience = ContactList.objects.create(name="India and Britain")
    contacts = Contact.objects.bulk_create(
        [
            Contact(phone="+919812345670", first_name="Asha", country="IN"),
            Contact(phone="+919812345671", first_name="Ravi", country="IN"),
            Contact(phone="+447946000001", first_name="Ann", country="GB"),
        ]
    )
    ListMembership.objects.bulk_create(
        ListMembership(contact=c, contact_list=audience) for c in contacts
    )
    return campaign_create(
        name="Diwali offers", channel="sms", lists=[audience], text="Happy Diwali {{first_name}}"
    )


def _menu(page, name: str) -> None:
    menu = page.locator("details[data-menu]")
    if menu.get_attribute("open") is None:
        menu.locator("summary").click()
    page.get_by_role("navigation", name="Main").get_by_role("link", name=name).click()


def test_senders_and_the_countries_a_campaign_must_meet(
    browser_page, live_server, shots_dir, axe_audit
):
    make_user("mia", MARKETER)
    make_user("sam", MARKETER, SENDER)
    campaign = _campaign()
    page, base = browser_page, live_server.url
    preview = f"{base}/campaigns/{campaign.pk}/preview/"

    # --- On a phone: the preview says India refuses, and why. ---
    page.set_viewport_size(PHONE)
    login(page, base, "sam")
    page.goto(preview)
    india = page.locator("#compliance-IN")
    expect(india).to_contain_text("India (IN): 2 recipients would be refused")
    expect(india).to_contain_text("DLT principal entity")
    expect(india).to_contain_text("DLT content template")
    expect(page.locator("#sender-plan")).to_contain_text("Herald")
    axe_audit.check(page, "preview with a refused country at 390 px")
    shot(page, shots_dir, "countries-01-preview-refused-390")

    # --- The Senders page: a name where only numbers arrive is refused, by field. ---
    _menu(page, "Senders")
    expect(page.locator("#senders-table")).to_contain_text("No senders per country yet")
    page.get_by_label("Country").select_option("US")
    page.get_by_label("Sender (a number").fill("Shop")
    page.get_by_role("button", name="Save sender").click()
    expect(page.locator("#err-sender")).to_contain_text("does not deliver SMS from an alphanumeric")
    expect(page.get_by_label("Sender (a number")).to_have_attribute("aria-invalid", "true")
    axe_audit.check(page, "senders page with a refused sender at 390 px")
    shot(page, shots_dir, "countries-02-senders-refused-390")
    assert not Sender.objects.exists()

    # India's sender with its DLT principal entity.
    page.get_by_label("Country").select_option("IN")
    page.get_by_label("Sender (a number").fill("HERALD")
    page.locator("#regional-ids summary").click()
    page.get_by_label("India: DLT principal entity id").fill("1101456789012345678")
    page.get_by_role("button", name="Save sender").click()
    expect(page.locator("#senders-table")).to_contain_text("HERALD")
    expect(page.locator("#senders-table")).to_contain_text("DLT entity 1101456789012345678")
    axe_audit.check(page, "senders page at 390 px")
    shot(page, shots_dir, "countries-03-senders-390")

    # --- At 1280: leave India out, put it back, then set the DLT template. ---
    page.set_viewport_size(DESKTOP)
    page.goto(preview)
    expect(page.locator("#compliance-IN")).not_to_contain_text("DLT principal entity")
    page.get_by_role("button", name="Leave out everyone in India").click()
    expect(page.locator("#compliance-ok")).to_be_visible()
    expect(page.locator("#excluded-countries")).to_contain_text("India (IN)")
    expect(page.locator("#preview-messages")).to_have_text("1")
    shot(page, shots_dir, "countries-04-india-left-out-1280")
    page.get_by_role("button", name="Put back India").click()
    expect(page.locator("#compliance-IN")).to_be_visible()
    settings = page.locator("#regional-settings")
    settings.get_by_label("India: DLT content template id").fill("1107160000000001")
    settings.get_by_role("button", name="Save settings").click()
    expect(page.locator("#compliance-ok")).to_be_visible()
    plan = page.locator("#sender-plan")
    expect(plan.locator("tr", has_text="India")).to_contain_text("HERALD")
    expect(plan.locator("tr", has_text="United Kingdom")).to_contain_text("Herald")
    expect(page.locator("#preview-messages")).to_have_text("3")
    axe_audit.check(page, "preview with every country met at 1280 px")
    shot(page, shots_dir, "countries-05-preview-met-1280")
    campaign.refresh_from_db()
    assert campaign.dlt_template_id == "1107160000000001"
    assert campaign.exclude_countries == []

    # --- A Marketer sees the senders but cannot change them. ---
    page.get_by_role("button", name="Log out").click()
    login(page, base, "mia")
    _menu(page, "Senders")
    expect(page.locator("#senders-table")).to_contain_text("HERALD")
    expect(page.locator("#sender-form")).to_have_count(0)
    expect(page.locator("#senders-table button")).to_have_count(0)  # no Remove either
    axe_audit.check(page, "senders page as a Marketer at 1280 px")
    shot(page, shots_dir, "countries-06-senders-marketer-1280")
