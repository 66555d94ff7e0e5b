"""A reply from the inbox, walked in a real browser (issue 26 #12): it goes through the ledger
once however often the button is pressed, and its state moves in the thread as Infobip's reports
come back — delivered, or failed with the reason in words. A real worker, the sandbox pushing
reports to the live server; screenshots at 1280 and 390 px, checked by axe-core."""

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from campaigns.models import Message
from contacts.models import Contact
from inbox.models import ConversationReply
from infobip.models import InboundMessage
from tests.ui import test_browser
from tests.ui.conftest import make_user
from tests.ui.test_browser import login, shot
from ui.roles import MARKETER

pytestmark = pytest.mark.browser
browser_page = test_browser.browser_page
shots_dir = test_browser.shots_dir


def test_a_reply_shows_delivered_or_failed_in_words_as_the_reports_come(
    browser_page, live_server, celery_worker, sandbox, engine_settings, shots_dir, axe_audit
):
    sandbox.configure(outcomes={"delivered": 1.0}, push_delay=0.3)
    make_user("rita", MARKETER)
    ann = Contact.objects.create(phone="+447946000601", first_name="Ann", country="GB")
    InboundMessage.objects.create(
        channel="sms",
        contact=ann,
        infobip_message_id="in-601",
        from_number="447946000601",
        text="Are you open on Sunday?",
        received_at=timezone.now(),
    )
    page, base = browser_page, live_server.url
    login(page, base, "rita")
    page.goto(f"{base}/inbox/contact/{ann.pk}/")
    page.get_by_label("Your reply").fill("Yes, 10:00 to 16:00.")
    # A double click posts the same form twice: one reply, one ledger row, one send.
    page.get_by_role("button", name="Send reply").dblclick()
    expect(page.get_by_text("queued: its delivery shows in the conversation")).to_be_visible()
    first = page.locator("#thread-items li.reply").filter(has_text="Yes, 10:00 to 16:00.")
    expect(first).to_have_count(1)
    # The thread polls: the sandbox's report turns the reply delivered without a reload.
    expect(first.locator("[data-reply-state]")).to_have_attribute(
        "data-reply-state", "delivered", timeout=30_000
    )
    expect(first).to_contain_text("Delivered to the phone")
    assert ConversationReply.objects.count() == 1
    row = Message.objects.get(contact=ann)
    assert (row.state, row.status_name) == ("delivered", "DELIVERED_TO_HANDSET")
    assert sandbox.state()["accepted"]["sms"] == 1

    sandbox.configure(outcomes={"undeliverable": 1.0}, push_delay=0.3)
    page.get_by_label("Your reply").fill("Or call us on Monday.")
    page.get_by_role("button", name="Send reply").click()
    second = page.locator("#thread-items li.reply").filter(has_text="Or call us on Monday.")
    expect(second.locator("[data-reply-state]")).to_have_attribute(
        "data-reply-state", "undeliverable", timeout=30_000
    )
    words = second.inner_text()
    assert "Undeliverable" in words
    assert "EC_" not in words
    assert "_" not in words.split("·", 1)[1]  # statuses and errors in words, never codes
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        shot(page, shots_dir, f"inbox-reply-states-{width}")
        axe_audit.check(page, f"conversation with reply states at {width} px")
