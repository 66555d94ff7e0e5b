"""Issue 26 items 6 and 10–15 walked in a real browser as a Marketer, an approver and a Sender,
at 1280 and 390 px: snippets, request approval → the approver's notification and approve page
(text, audience, cost), calendar, launch, people counted, reports, the inbox's opt-out rule,
reply counter and delivery state — every page checked by axe-core, screenshots written.

One walk (three logins) rather than a test per feature: the browser suite's time stays small.
"""

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from campaigns.models import Campaign
from campaigns.states import CampaignState
from contacts.models import ConsentSource, Contact
from contacts.services import contact_opt_out
from infobip.models import InboundMessage
from tests.ui import test_browser
from tests.ui.conftest import make_audience, make_user
from tests.ui.test_browser import login, shot
from ui.roles import MARKETER, SENDER

pytestmark = pytest.mark.browser
browser_page = test_browser.browser_page
shots_dir = test_browser.shots_dir
FOOTER = "Reply STOP to opt out"


def _logout(page) -> None:
    page.get_by_role("button", name="Log out").click()  # outside the folded phone menu too


def test_a_day_as_marketer_approver_and_sender(
    browser_page, live_server, celery_worker, sandbox, engine_settings, shots_dir, axe_audit
):
    engine_settings.HERALD_REQUIRE_APPROVAL = True
    sandbox.configure(outcomes={"delivered": 1.0}, push_delay=0.2)
    make_user("mia", MARKETER)
    make_user("abe", MARKETER, SENDER)
    make_user("sam", MARKETER, SENDER)
    make_audience(3, name="Autumn fans", prefix="+4479462")
    ivy = Contact.objects.create(phone="+447946299001", first_name="Ivy")
    contact_opt_out(contact=ivy, source=ConsentSource.KEYWORD, note="STOP")
    InboundMessage.objects.create(
        channel="sms",
        contact=ivy,
        infobip_message_id="walk-1",
        from_number="447946299001",
        text="STOP",
        keyword_action="opt_out",
        received_at=timezone.now(),
    )
    InboundMessage.objects.create(
        channel="sms",
        contact=ivy,
        infobip_message_id="walk-2",
        from_number="447946299001",
        text="Where is my order 1042?",
        received_at=timezone.now(),
    )
    page, base = browser_page, live_server.url

    # --- The Marketer, at 1280 px: a snippet, a campaign, "Request approval". ---
    login(page, base, "mia")
    expect(page.locator("#first-run")).to_be_visible()
    axe_audit.check(page, "dashboard with the first-run checklist")
    page.get_by_role("link", name="Snippets").first.click()
    page.get_by_label("Name").fill("Footer")
    page.get_by_label("Text").fill(FOOTER)
    page.get_by_role("button", name="Save snippet").click()
    expect(page.locator("#snippets-table")).to_contain_text(FOOTER)
    axe_audit.check(page, "snippets")
    page.get_by_role("link", name="Campaigns").first.click()
    page.get_by_role("link", name="New campaign").click()
    page.get_by_label("Campaign name").fill("Autumn sale")
    page.locator("fieldset", has_text="Send to these lists").get_by_label("Autumn fans").check()
    expect(page.locator("#audience-eligible")).to_have_text("3")
    page.get_by_role("button", name="Next: message").click()
    page.locator("#id_text").fill("Hi {{first_name}}, autumn sale today. ")
    page.get_by_role("group", name="Insert a snippet").get_by_role("button", name="Footer").click()
    expect(page.locator("#id_text")).to_have_value(
        f"Hi {{{{first_name}}}}, autumn sale today. {FOOTER}"
    )
    axe_audit.check(page, "wizard message step with snippets")
    page.get_by_role("button", name="Next: options").click()
    page.get_by_role("button", name="Save draft and preview").click()
    page.get_by_label("A note for the approvers").fill("For today 14:00")
    page.get_by_role("button", name="Request approval").click()
    expect(page.locator("#approval-requested")).to_contain_text("Approval requested by mia")
    shot(page, shots_dir, "walk-01-marketer-requested-approval")
    axe_audit.check(page, "preview with the approval requested")
    _logout(page)

    # --- The approver, at 390 px: notified in the menu, sees text, audience and cost. ---
    page.set_viewport_size({"width": 390, "height": 900})
    login(page, base, "abe")
    page.locator("[data-menu] > summary").click()
    expect(page.locator("#approvals-waiting")).to_have_text("1")
    shot(page, shots_dir, "walk-02-approver-menu-390")
    page.locator("#nav-approvals").click()
    expect(page.locator("#approval-queue")).to_contain_text("For today 14:00")
    axe_audit.check(page, "approval queue at 390 px")
    page.locator("#approval-queue").get_by_role("link", name="Approve…").click()
    expect(page.locator("#approve-text")).to_have_text(f"Hi Ann0, autumn sale today. {FOOTER}")
    expect(page.locator("#approve-audience")).to_contain_text("Autumn fans")
    expect(page.locator("#launch-summary")).to_contain_text("to 3 people now, estimated €")
    shot(page, shots_dir, "walk-03-approve-page-390")
    axe_audit.check(page, "approve page at 390 px")
    page.get_by_role("button", name="Yes, approve").click()
    expect(page.get_by_text("Approved.", exact=True)).to_be_visible()
    _logout(page)

    # --- The Sender, at 1280 px: calendar, launch, people counted, reports. ---
    page.set_viewport_size({"width": 1280, "height": 900})
    login(page, base, "sam")
    page.get_by_role("link", name="Calendar").first.click()
    axe_audit.check(page, "calendar")
    campaign = Campaign.objects.get(name="Autumn sale")
    page.goto(f"{base}/campaigns/{campaign.pk}/preview/")
    page.get_by_role("link", name="Launch…").click()
    page.get_by_role("button", name="Yes, launch").click()
    expect(page.locator("#campaign-progress")).to_have_attribute(
        "data-state", "completed", timeout=60_000
    )
    expect(page.locator("#count-delivered")).to_have_text("3", timeout=60_000)
    expect(page.locator("#people-handled")).to_have_text("3 of 3 people")
    shot(page, shots_dir, "walk-04-sender-campaign-complete")
    axe_audit.check(page, "completed campaign page")
    page.get_by_role("link", name="Reports").first.click()
    page.locator("#compare-form").get_by_label("Autumn sale").check()
    page.locator("#compare-form").get_by_role("button", name="Compare").click()
    expect(page.locator("#compare-table")).to_contain_text("Autumn sale")
    expect(page.locator('#compare-table td[data-key="delivery_rate"]')).to_have_text("100.0%")
    shot(page, shots_dir, "walk-05-reports-compare")
    axe_audit.check(page, "reports with a comparison")
    assert Campaign.objects.get(pk=campaign.pk).state == CampaignState.COMPLETED
    _logout(page)

    # --- The Marketer again, at 390 px: the inbox and an opted-out contact. ---
    page.set_viewport_size({"width": 390, "height": 900})
    login(page, base, "mia")
    page.goto(base + "/inbox/")
    expect(
        page.get_by_role("link", name="Opted out: answer in the conversation").first
    ).to_be_visible()
    # The default view lists every message received, the STOP included (issue 26 #12).
    expect(page.locator("table").last).to_contain_text("STOP")
    expect(page.locator("table").last).to_contain_text("Where is my order 1042?")
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= 391, f"the inbox is {scroll_width}px wide on a phone"
    shot(page, shots_dir, "walk-06-inbox-390")
    axe_audit.check(page, "inbox at 390 px")
    page.get_by_role("link", name="Opted out: answer in the conversation").first.click()
    page.get_by_label("Your reply").fill("Order 1042 ships today 🚚")
    expect(page.locator("#reply-counter #sms-encoding")).to_have_text("UCS-2")
    page.get_by_role("button", name="Send reply").click()
    expect(page.locator("#reply-error")).to_contain_text("a marketing reply is not allowed")
    expect(page.get_by_label("Your reply")).to_have_value("Order 1042 ships today 🚚")
    page.get_by_label("This is a transactional answer, not marketing").check()
    page.get_by_role("button", name="Send reply").click()
    expect(page.get_by_text("SMS reply to +447946299001 queued")).to_be_visible()
    reply = page.locator("#thread-items li.reply")
    expect(reply).to_contain_text("Order 1042 ships today")
    # Through the ledger: the thread polls its state until the sandbox's report (issue 26 #12).
    expect(reply.locator("[data-reply-state]")).to_have_attribute(
        "data-reply-state", "delivered", timeout=30_000
    )
    expect(reply).to_contain_text("Delivered to the phone")  # Infobip's status, in words
    shot(page, shots_dir, "walk-07-thread-reply-390")
    axe_audit.check(page, "conversation at 390 px")
