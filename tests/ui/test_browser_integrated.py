"""Where the merged features meet, walked once in a real browser as a marketer would: the import's
mapping step refusing a region (the file kept), lists AND a segment, an SMS with a split test and
an SMS → Viber → RCS chain (each step's sender said for its channel, its validity in minutes),
the preview (the split's rule in words, the countries table on a phone), editing the draft back,
and the campaign page's audience and channel lines. Every page at 390 or 1280 px is checked by
axe-core; screenshots written.

One walk, one login: the browser suite's time stays small.
"""

import pytest
from playwright.sync_api import expect

from campaigns.models import Campaign, Segment
from contacts.models import Contact, ListMembership
from tests.ui import test_browser
from tests.ui.conftest import make_audience, make_user
from tests.ui.test_browser import login, shot
from ui.roles import MARKETER, SENDER

pytestmark = pytest.mark.browser
browser_page = test_browser.browser_page
shots_dir = test_browser.shots_dir
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
LOYAL = {"match": "all", "rules": [{"field": "phone", "op": "startswith", "value": "+44794600"}]}


def _audience():
    """Three British customers and one in India on “Winter VIPs”; a segment of the British."""
    vips = make_audience(3, name="Winter VIPs")
    asha = Contact.objects.create(phone="+919812345670", first_name="Asha", country="IN")
    ListMembership.objects.create(contact=asha, contact_list=vips)
    return Segment.objects.create(name="Loyal Brits", rules=LOYAL)


def test_the_merged_wizard_preview_and_campaign_pages(
    browser_page, live_server, shots_dir, axe_audit, tmp_path
):
    make_user("qa", MARKETER, SENDER)
    _audience()
    page, base = browser_page, live_server.url
    login(page, base, "qa")

    # --- The import's mapping step refuses a wrong region and keeps the file. ---
    source = tmp_path / "people.csv"
    source.write_text("Mobile,Vorname\n07946 012302,Bob\n+447946012303,Zoë\n")
    page.goto(base + "/contacts/import/")
    page.get_by_label("CSV file").set_input_files(str(source))
    page.get_by_label("Country for numbers without +country code").fill("ZZ")
    page.get_by_role("button", name="Upload and map the columns").click()
    expect(page.get_by_role("heading", name="Map the columns")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("“ZZ” is not a country code")
    expect(page.locator("#import-file")).to_have_text("people.csv")
    axe_audit.check(page, "import mapping with a refused region at 1280 px")
    shot(page, shots_dir, "merged-01-mapping-region-refused")

    # --- Lists AND a segment, an SMS with a version B. ---
    page.goto(base + "/campaigns/new/")
    page.get_by_label("Campaign name").fill("Winter sale")
    page.locator("fieldset", has_text="Send to these lists").get_by_label("Winter VIPs").check()
    page.get_by_label("Send to a segment").select_option(label="Loyal Brits")
    page.get_by_label("only people on the lists who are also in the segment").check()
    expect(page.get_by_text("3 recipients will get the message.")).to_be_visible()
    page.get_by_role("button", name="Next: message").click()
    page.locator("#id_text").fill("Hi {{first_name|there}}, winter sale: https://shop.example/w")
    page.locator("#split-section summary").click()
    page.get_by_label("Run a split test or hold some people out").check()
    page.locator("#variant_B").fill(
        "{{first_name|Hi}}, the winter sale is on: https://shop.example/w"
    )
    page.locator("#split_share").fill("50")
    page.get_by_role("button", name="Next: options").click()

    # --- The chain: each step's sender in its channel's words, its validity in minutes. ---
    modes = page.locator("#id_failover_mode option")
    expect(modes).to_have_count(2)  # no Infobip native failover on SMS: it has none
    page.locator("#id_failover_mode").select_option("herald")
    page.locator("#id_fallback_0").select_option("viber")
    # A blank step shows its limit, not "0 characters" (the QA walk).
    expect(page.locator("#failover-counter")).to_contain_text("Up to 1,000 characters (Viber)")
    page.locator("#id_fallback_validity_0").fill("30")
    page.locator("#id_fallback_validity_unit_0").select_option("minutes")
    expect(page.locator("#fallback_sender_1-hint")).to_have_text("Choose the channel first.")
    page.locator("#id_fallback_1").select_option("rcs")
    page.set_viewport_size(PHONE)
    axe_audit.check(page, "wizard options with a chain at 390 px")
    shot(page, shots_dir, "merged-02-options-chain-390")
    page.set_viewport_size(DESKTOP)
    page.get_by_role("button", name="Save draft and preview").click()
    expect(page.get_by_text("Draft saved.")).to_be_visible()
    campaign = Campaign.objects.get(name="Winter sale")
    assert [(s["channel"], s["validity_minutes"]) for s in campaign.fallback] == [
        ("viber", 30),
        ("rcs", None),
    ]

    # --- The preview: the split's rule in words; the chain; the countries table on a phone. ---
    expect(page.locator("#split-plan")).to_contain_text("by clicks, decided 4 hours after launch")
    expect(page.locator("#preview-channel")).to_have_text(
        "SMS, then Viber → RCS for those it does not reach"
    )
    page.set_viewport_size(PHONE)
    caption = page.locator("#sender-plan caption")
    expect(caption).to_have_text("Who each country's messages come from")
    assert caption.bounding_box()["width"] > 250  # not a one-word column beside the cards
    axe_audit.check(page, "preview with a split and a chain at 390 px")
    shot(page, shots_dir, "merged-03-preview-390")
    page.set_viewport_size(DESKTOP)

    # --- Editing the draft brings every step back as saved, with its hint. ---
    page.get_by_role("link", name="Change the options").click()
    page.get_by_role("button", name="Next: message").click()
    page.get_by_role("button", name="Next: options").click()
    expect(page.locator("#id_fallback_0")).to_have_value("viber")
    expect(page.locator("#id_fallback_validity_0")).to_have_value("30")
    expect(page.locator("#id_fallback_validity_unit_0")).to_have_value("minutes")
    expect(page.locator("#fallback_sender_0-hint")).to_contain_text("Viber service id")
    expect(page.locator("#fallback_sender_1-hint")).to_contain_text("RCS agent id")
    expect(page.locator("#sender-hint")).to_contain_text("A name of up to 11 letters or digits")
    shot(page, shots_dir, "merged-04-options-edited")

    # --- The campaign page says who it goes to and by what. ---
    page.goto(f"{base}/campaigns/{campaign.pk}/")
    facts = page.locator(".facts").first
    expect(facts).to_contain_text("SMS · fallback Viber → RCS")
    expect(facts).to_contain_text("Winter VIPs — only those also in the segment Loyal Brits")
    axe_audit.check(page, "campaign page at 1280 px")
    shot(page, shots_dir, "merged-05-campaign")
