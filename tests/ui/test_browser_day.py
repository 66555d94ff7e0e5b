"""The marketer's day in a real browser: edit and reuse campaigns, errors at the field, the
launch confirmation, contacts and lists, and every page at 1280 px and 390 px.

Runs in the integration run (Chromium through Playwright against the live server); screenshots
go to the same test-artifacts/ folder as test_browser.py's.
"""

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from campaigns.models import Campaign
from campaigns.services import SPEED_LIMIT_MAX, campaign_create, campaign_launch
from campaigns.states import CampaignState
from contacts.models import Contact, ContactList
from core.rules import OPERATOR
from tests.ui import test_browser
from tests.ui.conftest import make_audience, make_user
from tests.ui.test_browser import login, shot
from ui.roles import MARKETER, SENDER

pytestmark = pytest.mark.browser
# The same browser and screenshot folder as test_browser.py (fixtures found by module attribute).
browser_page = test_browser.browser_page
shots_dir = test_browser.shots_dir


def _draft(**extra) -> Campaign:
    audience = ContactList.objects.filter(name="Customers").first() or make_audience(3)
    fields = {
        "name": "Autumn",
        "channel": "sms",
        "lists": [audience],
        "text": "Hi {{first_name}}",
        "speed_limit": 60,
        "quiet_hours": (dt.time(9), dt.time(20)),
    } | extra
    return campaign_create(**fields)


def test_edit_a_draft_through_every_step_then_confirm_launch_and_duplicate(
    browser_page, live_server, transactional_db, shots_dir
):
    make_user("eve", MARKETER, SENDER)
    campaign = _draft()
    page, base = browser_page, live_server.url
    login(page, base, "eve")

    page.get_by_role("link", name="Campaigns").first.click()
    page.get_by_role("link", name="Autumn").click()
    page.get_by_role("link", name="Edit").click()
    expect(page.get_by_role("heading", name="Edit campaign: Autumn")).to_be_visible()
    expect(page.get_by_label("Campaign name")).to_have_value("Autumn")
    customers = page.locator("fieldset", has_text="Send to these lists").get_by_label("Customers")
    expect(customers).to_be_checked()
    page.get_by_label("Campaign name").fill("Autumn sale")
    shot(page, shots_dir, "day-01-edit-audience")
    page.get_by_role("button", name="Next: message").click()

    expect(page.locator("#id_text")).to_have_value("Hi {{first_name}}")
    page.locator("#id_text").fill("Hi {{frist_name}}, autumn sale")
    page.get_by_role("button", name="Next: options").click()
    error = page.locator("#err-text")
    expect(error).to_contain_text("Unknown placeholder {{frist_name}}")
    expect(error).to_contain_text("Known: first_name, last_name, phone")
    expect(page.locator("#id_text")).to_have_value("Hi {{frist_name}}, autumn sale")
    shot(page, shots_dir, "day-02-unknown-placeholder-refused")

    page.locator("#id_text").fill("Hi {{first_name|there}}, autumn sale")
    # The counter counts what each recipient receives ("Hi Ann0, autumn sale": 20 characters).
    expect(page.locator("#sms-filled-length")).to_have_text("20")
    # Back keeps what was typed, and so does coming forward again.
    page.get_by_role("button", name="← Back").click()
    expect(page.get_by_label("Campaign name")).to_have_value("Autumn sale")
    page.get_by_role("button", name="Next: message").click()
    expect(page.locator("#id_text")).to_have_value("Hi {{first_name|there}}, autumn sale")
    page.get_by_role("button", name="Next: options").click()

    expect(page.locator("#id_speed_limit")).to_have_value("60")
    # The 09:00–20:00 window, said as people say quiet hours.
    expect(page.locator("#id_quiet_from")).to_have_value("20:00")
    expect(page.locator("#id_quiet_until")).to_have_value("09:00")
    page.locator("#id_speed_limit").fill("99999999999999999999")
    page.get_by_role("button", name="Save changes and preview").click()
    expect(page.locator("#err-speed")).to_contain_text(f"between 1 and {SPEED_LIMIT_MAX:,}")
    shot(page, shots_dir, "day-03-speed-limit-bounded")
    page.locator("#id_speed_limit").fill("30")
    page.get_by_role("button", name="Save changes and preview").click()
    expect(page.get_by_text("Changes saved.")).to_be_visible()
    expect(page.get_by_text("Hi Ann0, autumn sale")).to_be_visible()
    campaign.refresh_from_db()
    assert (campaign.name, campaign.text, campaign.speed_limit) == (
        "Autumn sale",
        "Hi {{first_name|there}}, autumn sale",
        30,
    )
    assert Campaign.objects.count() == 1

    page.get_by_role("link", name="Launch…").click()
    expect(page.locator("#launch-summary")).to_have_text(
        "Send 3 SMS (3 parts) to 3 people now, estimated €0.12; 0 opted out, 0 excluded."
    )
    shot(page, shots_dir, "day-04-launch-confirmation")
    page.get_by_role("link", name="No, go back").click()

    page.get_by_role("button", name="Duplicate").click()
    expect(page.get_by_role("heading", name="Preview: Copy of Autumn sale")).to_be_visible()
    copy = Campaign.objects.get(name="Copy of Autumn sale")
    assert copy.text == campaign.text
    assert copy.state == CampaignState.DRAFT
    page.get_by_role("link", name="Delete draft…").click()
    page.get_by_role("button", name="Yes, delete the draft").click()
    expect(page.get_by_text("Draft “Copy of Autumn sale” deleted.")).to_be_visible()
    assert not Campaign.objects.filter(pk=copy.pk).exists()


def test_reschedule_a_scheduled_campaign_and_filter_the_list(
    browser_page, live_server, transactional_db, shots_dir
):
    make_user("rae", MARKETER, SENDER)
    campaign = _draft(name="Winter", send_at=timezone.now() + dt.timedelta(days=1))
    campaign_launch(campaign=campaign, actor=OPERATOR)
    _draft(name="Spring")
    page, base = browser_page, live_server.url
    login(page, base, "rae")

    page.goto(base + "/campaigns/")
    page.get_by_label("State").select_option("scheduled")
    page.get_by_role("button", name="Filter").click()
    table = page.locator("#campaigns-table")
    expect(table).to_contain_text("Winter")
    expect(table).not_to_contain_text("Spring")
    page.get_by_placeholder("Search by name").fill("spr")
    page.get_by_label("State").select_option("")
    page.get_by_role("button", name="Filter").click()
    expect(table).to_contain_text("Spring")
    expect(table).not_to_contain_text("Winter")

    page.goto(f"{base}/campaigns/{campaign.pk}/")
    page.get_by_role("link", name="Reschedule…").click()
    expect(page.get_by_text("Time zone:")).to_be_visible()
    page.get_by_label("New send time").fill("2001-01-01T10:00")
    page.get_by_role("button", name="Save the new time").click()
    expect(page.locator("#err-send-at")).to_contain_text("in the past")
    later = timezone.localtime(timezone.now() + dt.timedelta(days=3)).replace(
        hour=10, minute=0, second=0, microsecond=0
    )
    page.get_by_label("New send time").fill(later.strftime("%Y-%m-%dT%H:%M"))
    shot(page, shots_dir, "day-05-reschedule")
    page.get_by_role("button", name="Save the new time").click()
    expect(page.get_by_text(f"Rescheduled for {later:%Y-%m-%d %H:%M}")).to_be_visible()
    campaign.refresh_from_db()
    assert campaign.state == CampaignState.SCHEDULED
    assert campaign.send_at == later


def test_contact_add_edit_delete_and_list_rename(
    browser_page, live_server, transactional_db, shots_dir
):
    make_user("cam", MARKETER)
    make_audience(2, name="Regulars")
    page, base = browser_page, live_server.url
    login(page, base, "cam")

    page.get_by_role("link", name="Contacts").first.click()
    page.get_by_role("link", name="Add a contact").click()
    page.get_by_label("Mobile number").fill("07946 000777")
    page.get_by_role("button", name="Add contact").click()
    expect(page.locator("#err-phone")).to_contain_text("needs its country: choose the country")
    expect(page.get_by_label("Mobile number")).to_have_value("07946 000777")
    page.get_by_label("Country of a national number").fill("GB")
    page.get_by_label("First name").fill("Zoë")
    page.get_by_label("Regulars").check()
    shot(page, shots_dir, "day-06-contact-add")
    page.get_by_role("button", name="Add contact").click()
    expect(page.get_by_role("heading", name="+447946000777")).to_be_visible()

    page.get_by_role("link", name="Edit").click()
    page.get_by_label("First name").fill("Zoe")
    page.get_by_label("Last name").fill("Marchetti")
    page.get_by_role("button", name="Save contact").click()
    expect(page.get_by_text("Contact +447946000777 saved.")).to_be_visible()
    expect(page.get_by_role("heading", name="+447946000777")).to_contain_text("Zoe Marchetti")

    page.goto(base + "/contacts/?q=zoë")  # accents ignored: "Zoe" is found
    expect(page.locator("#contacts-count")).to_have_text("1 contact")
    page.get_by_role("link", name="+447946000777").click()
    page.get_by_role("link", name="Delete…").click()
    page.get_by_role("button", name="Yes, delete the contact").click()
    expect(page.get_by_text("Contact +447946000777 deleted.")).to_be_visible()
    assert not Contact.objects.filter(phone="+447946000777").exists()

    page.get_by_role("link", name="Lists").first.click()
    page.get_by_role("link", name="Regulars").click()
    expect(page.locator("#members-table")).to_contain_text("+447946000001")
    page.get_by_label("Name", exact=True).fill("Loyal regulars")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name="Loyal regulars")).to_be_visible()
    shot(page, shots_dir, "day-07-list-renamed")
    assert ContactList.objects.filter(name="Loyal regulars").exists()


def test_every_page_at_1280_and_390(
    browser_page, live_server, transactional_db, shots_dir, axe_audit
):
    """Every marketer page at both widths: 200, nothing sideways, no serious axe violation."""
    from tests.ui.pages import every_page_paths

    viv = make_user("viv", MARKETER, SENDER)
    pages = every_page_paths(viv)
    page, base = browser_page, live_server.url
    page.goto(base + "/login/")
    axe_audit.check(page, "/login/")
    login(page, base, "viv")
    # A flash message on the first page (they sit in a list of their own).
    page.goto(base + "/settings/")
    page.get_by_role("button", name="Save").first.click()
    axe_audit.check(page, "a flash message")
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        for name, path in pages.items():
            response = page.goto(base + path)
            # A Marketer may not erase: the refusal page is a page too.
            assert response.status == (403 if name == "contact-erase" else 200), path
            # Fragments htmx loads with the page (recipients, threads) are in before the check;
            # not "networkidle", which live pages polling every second never reach.
            page.wait_for_function("() => !document.querySelector('.htmx-request')")
            # Nothing may stick out sideways on a phone: the page is as wide as the screen.
            scroll_width = page.evaluate("document.documentElement.scrollWidth")
            assert scroll_width <= width + 1, f"{path} is {scroll_width}px wide at {width}px"
            assert page.evaluate(_FLOATING_CARD_HEADINGS) == [], path
            if width == 390:
                assert page.evaluate(_CARD_CELLS_OUT_OF_PLACE) == [], path
                assert page.evaluate(_EMPTY_CALENDAR_WEEKS) == 0, path
            shot(page, shots_dir, f"day-w{width}-{name}")
            axe_audit.check(page, f"{path} at {width} px")


# A heading that opens a card sits at the card's padding, not 24 px further down.
_FLOATING_CARD_HEADINGS = """() => Array.from(document.querySelectorAll(".card > h2:first-child"))
  .filter(h => h.offsetHeight && h.getBoundingClientRect().top
                                 - h.parentElement.getBoundingClientRect().top > 20)
  .map(h => h.textContent.trim())"""
# On a phone a table row is a card and each cell a grid: its column's label, then its value.
# Every piece of the value (text, link, badge) must sit in the value column, and a badge must
# stay its own size, not stretch across the card.
_CARD_CELLS_OUT_OF_PLACE = """() => {
  const out = [];
  document.querySelectorAll(".table-wrap td[data-label]:not([data-label=''])").forEach(td => {
    const cell = td.getBoundingClientRect();
    if (!cell.width || getComputedStyle(td).display !== "grid") return;
    const valueLeft = cell.left + cell.width * 0.3;
    const range = document.createRange();
    td.childNodes.forEach(node => {
      if (!node.textContent.trim()) return;
      range.selectNode(node);
      const box = range.getBoundingClientRect();
      if (box.width && box.left < valueLeft)
        out.push(td.dataset.label + ": " + node.textContent.trim());
    });
    td.querySelectorAll(".badge").forEach(badge => {
      range.selectNodeContents(badge);
      if (badge.getBoundingClientRect().width > range.getBoundingClientRect().width + 40)
        out.push(td.dataset.label + ": stretched badge " + badge.textContent.trim());
    });
  });
  return out;
}"""
# On a phone the calendar shows only the days with campaigns (and today): no empty week cards.
_EMPTY_CALENDAR_WEEKS = """() => Array.from(document.querySelectorAll(".calendar tbody tr"))
  .filter(tr => tr.offsetHeight > 0 && !Array.from(tr.cells).some(td => td.offsetHeight > 0))
  .length"""


def test_a_conversation_with_a_reply_in_both_channels(
    browser_page, live_server, transactional_db, live_sandbox, shots_dir
):
    from infobip.models import InboundMessage

    make_user("ivy", MARKETER)
    ann = Contact.objects.create(
        phone="+447946000901", first_name="Ann", whatsapp_last_inbound_at=timezone.now()
    )
    now = timezone.now()
    InboundMessage.objects.create(
        channel="sms",
        contact=ann,
        infobip_message_id="b-1",
        from_number="447946000901",
        text="Do you open on Sunday?",
        received_at=now - dt.timedelta(minutes=3),
    )
    InboundMessage.objects.create(
        channel="whatsapp",
        contact=ann,
        infobip_message_id="b-2",
        from_number="447946000901",
        to_number="447860099299",
        text="STOP",
        keyword_action="opt_out",
        received_at=now - dt.timedelta(minutes=1),
    )
    page, base = browser_page, live_server.url
    login(page, base, "ivy")
    page.get_by_role("link", name="Inbox").first.click()
    expect(page.locator("#threads-list")).to_contain_text("Unread")
    page.locator("#threads-list").get_by_role("link", name="Ann").click()
    expect(page.locator("#thread-items")).to_contain_text("Do you open on Sunday?")
    expect(page.locator("#thread-items li.keyword-message")).to_contain_text("STOP")
    expect(page.locator("#whatsapp-window")).to_contain_text("WhatsApp window open until")

    page.get_by_label("SMS", exact=True).check()
    page.get_by_label("Your reply").fill("Yes, 10:00 to 16:00.")
    page.get_by_role("button", name="Send reply").click()
    expect(page.get_by_text("SMS reply to +447946000901 queued")).to_be_visible()
    page.get_by_label("WhatsApp", exact=True).check()
    page.get_by_label("Your reply").fill("Sorry to see you go, Ann.")
    page.get_by_role("button", name="Send reply").click()
    expect(page.get_by_text("WhatsApp reply to +447946000901 queued")).to_be_visible()
    items = page.locator("#thread-items")
    expect(items).to_contain_text("Yes, 10:00 to 16:00.")
    expect(items).to_contain_text("Sorry to see you go, Ann.")
    expect(items.locator("li.reply")).to_have_count(2)
    expect(page.get_by_text("Handled", exact=True)).to_be_visible()
    shot(page, shots_dir, "day-08-conversation")
    for width in (390,):
        page.set_viewport_size({"width": width, "height": 900})
        shot(page, shots_dir, f"day-w{width}-conversation")


def test_the_approval_queue(browser_page, live_server, transactional_db, shots_dir, settings):
    settings.HERALD_REQUIRE_APPROVAL = True
    creator = make_user("cora", MARKETER, SENDER)
    make_user("abe", MARKETER, SENDER)
    campaign = _draft(name="Needs approval", created_by=creator)
    page, base = browser_page, live_server.url

    login(page, base, "cora")
    page.get_by_role("link", name="Approvals").click()
    queue = page.locator("#approval-queue")
    expect(queue).to_contain_text("Needs approval")
    expect(queue).to_contain_text("To: Customers")
    expect(queue).to_contain_text("Hi {{first_name}}")
    expect(page.locator(f"#own-{campaign.pk}")).to_contain_text("someone else must approve")
    expect(queue.get_by_role("link", name="Approve…")).to_have_count(0)
    shot(page, shots_dir, "day-09-approval-queue-creator")
    page.get_by_role("button", name="Log out").click()

    login(page, base, "abe")
    page.get_by_role("link", name="Approvals").click()
    page.locator("#approval-queue").get_by_role("link", name="Approve…").click()
    page.get_by_role("button", name="Yes, approve").click()
    expect(page.get_by_text("Approved.", exact=True)).to_be_visible()
    page.goto(base + "/approvals/")
    expect(page.locator("#approval-queue")).to_contain_text("Nothing waits for approval.")
    assert campaign.approval.approved_by.username == "abe"
