"""The journey builder in a real browser (Chromium through Playwright), at 1280 and 390 px.

A marketer starts an abandoned-cart journey from its starter, edits a wait, breaks and fixes a
step (the problem shows on that step), validates; a sender activates it; events come in and the
step counts move; the inspector tells one contact's story. Screenshots land in test-artifacts/.
"""

import pytest
from playwright.sync_api import expect

from journeys.engine import journey_advance
from journeys.events import events_record
from journeys.models import Journey
from tests.ui import conftest as ui_conftest
from tests.ui import test_browser
from tests.ui.conftest import make_user
from tests.ui.test_browser import login, shot
from ui.roles import MARKETER, SENDER

pytestmark = pytest.mark.browser
browser_page = test_browser.browser_page
shots_dir = test_browser.shots_dir
axe_audit = ui_conftest.axe_audit


def test_a_marketer_builds_validates_and_activates_a_journey(
    browser_page, live_server, transactional_db, shots_dir, axe_audit
) -> None:
    make_user("mia", MARKETER, SENDER)
    page, base = browser_page, live_server.url
    login(page, base, "mia")
    page.get_by_role("link", name="Journeys").first.click()
    expect(page.get_by_role("heading", name="Journeys")).to_be_visible()
    page.get_by_label("Name").fill("Abandoned cart")
    page.get_by_label("An abandoned cart").check()
    page.get_by_role("button", name="Create the draft").click()
    expect(page.get_by_role("heading", name="Abandoned cart")).to_be_visible()
    expect(page.locator("#step-wait2 .lanes")).to_contain_text("timed out")
    shot(page, shots_dir, "journey-01-draft")
    axe_audit.check(page, "journey draft at 1280 px")

    # Wait 30 minutes instead of an hour.
    page.locator("#step-wait1").get_by_role("button", name="Edit").click()
    page.locator("#step-wait1").get_by_label("Amount").fill("30")
    page.locator("#step-wait1").get_by_label("Unit").select_option("minutes")
    shot(page, shots_dir, "journey-02-step-form")
    page.locator("#step-wait1").get_by_role("button", name="Save the step").click()
    expect(page.locator("#step-wait1 .step-summary")).to_have_text("for 30 minutes")

    # A timeout that is not a duration: the problem shows on its step, nothing else is lost.
    page.locator("#step-wait2").get_by_role("button", name="Edit").click()
    page.locator("#step-wait2").get_by_label("At most").fill("soon")
    page.locator("#step-wait2").get_by_role("button", name="Save the step").click()
    expect(page.locator("#step-wait2 .field-error")).to_contain_text("timeout")
    shot(page, shots_dir, "journey-03-step-problem")
    page.locator("#step-wait2").get_by_role("button", name="Edit").click()
    page.locator("#step-wait2").get_by_label("At most").fill("2")
    page.locator("#step-wait2").get_by_label("Unit").select_option("days")
    page.locator("#step-wait2").get_by_role("button", name="Save the step").click()
    expect(page.locator("#step-wait2 .field-error")).to_have_count(0)

    # The send step's fallback chain: SMS cannot follow SMS (said on the step), no fallback can.
    expect(page.locator("#step-wait2 .step-summary")).to_contain_text("at most 2 days")
    sms2 = page.locator("#step-sms2")
    sms2.get_by_role("button", name="Edit").click()
    expect(sms2.get_by_role("group", name="If not delivered, fall back to")).to_be_visible()
    sms2.get_by_label("Then", exact=True).select_option("sms")
    sms2.get_by_label("Its text").first.fill("Last call (SMS): CART10")
    axe_audit.check(page, "journey send step form at 1280 px")
    sms2.get_by_role("button", name="Save the step").click()
    expect(sms2.locator(".field-error")).to_contain_text("cannot fall back to SMS")
    shot(page, shots_dir, "journey-03b-fallback-problem")
    sms2 = page.locator("#step-sms2")
    sms2.get_by_role("button", name="Edit").click()
    expect(sms2.get_by_label("Then", exact=True)).to_be_visible()
    sms2.get_by_label("Then", exact=True).select_option("")
    sms2.get_by_role("button", name="Save the step").click()
    expect(sms2.locator(".field-error")).to_have_count(0)

    # A goal and a quiet-hours window, then validate.
    page.get_by_role("link", name="Edit the trigger and rules").click()
    page.get_by_label("Quiet hours: send only between").fill("08:00-20:00")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator("#step-sms1 .step-rules")).to_contain_text("08:00-20:00")
    page.get_by_role("button", name="Validate").click()
    expect(page.locator("#validation")).to_contain_text("ready to activate")

    page.get_by_role("button", name="Activate").click()
    expect(page.get_by_text("the draft is the live version now")).to_be_visible()
    journey = Journey.objects.get(name="Abandoned cart")
    assert (journey.state, journey.version.number) == ("active", 1)
    assert journey.version.definition["steps"][0]["for"] == "PT30M"

    # Contacts come in: the counts on the steps follow (polled by htmx).
    carts = [
        {
            "name": "cart_abandoned",
            "contact": {"phone": f"+44794600010{i}"},
            "key": f"c{i}",
            "properties": {"item": "shoes"},
        }
        for i in range(3)
    ]
    events_record(events=carts)
    journey_advance(journey_id=journey.pk)
    expect(page.locator("#counts-wait1")).to_contain_text("3 here now", timeout=15_000)
    expect(page.locator("#journey-totals")).to_contain_text("3 entered")
    shot(page, shots_dir, "journey-04-live-counts")

    page.get_by_role("link", name="People in this journey").click()
    page.get_by_label("A contact's number").fill("07946000101")
    page.get_by_role("button", name="Show their journey").click()
    expect(page.get_by_text("That is not a phone number")).to_be_visible()
    page.get_by_label("A contact's number").fill("+447946000101")
    page.get_by_role("button", name="Show their journey").click()
    expect(page.locator(".story")).to_contain_text("by event cart_abandoned (key c1)")
    shot(page, shots_dir, "journey-05-person")
    axe_audit.check(page, "journey person at 1280 px")

    page.set_viewport_size({"width": 390, "height": 900})
    for name, path in [
        ("people", page.url),
        ("builder", f"{base}/journeys/{journey.pk}/"),
        ("list", f"{base}/journeys/"),
    ]:
        page.goto(path)
        page.wait_for_load_state("networkidle")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 391, f"{path} is {width}px wide at 390px"
        shot(page, shots_dir, f"journey-06-w390-{name}")
        axe_audit.check(page, f"journey {name} at 390 px")
    # A send step's form (with its fallback rows) at 390 px: nothing wider than the screen.
    page.goto(f"{base}/journeys/{journey.pk}/")
    page.locator("#step-sms1").get_by_role("button", name="Edit").click()
    expect(page.locator("#step-sms1 .fallback-chain")).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 391, f"the send step's form is {width}px wide at 390px"
    shot(page, shots_dir, "journey-06-w390-send-form")


@pytest.mark.timeout(600)
def test_a_marketer_tests_the_draft_from_its_page(
    browser_page, live_server, celery_worker, engine_settings, shots_dir, axe_audit
) -> None:
    """The draft page's "Test the draft": the first script sets the trigger off for two test
    contacts (one reaches the goal), a worker runs it on a scratch database against the
    sandbox, and the page shows what each would get, and when — at 1280 and 390 px."""
    make_user("mia", MARKETER)
    page, base = browser_page, live_server.url
    login(page, base, "mia")
    page.goto(f"{base}/journeys/")
    page.get_by_label("Name").fill("Cart test")
    page.get_by_label("An abandoned cart").check()
    page.get_by_role("button", name="Create the draft").click()
    expect(page.get_by_label("Test contacts and what they do, one per line")).to_contain_text(
        "cart_abandoned"
    )
    page.get_by_role("button", name="Test the draft", exact=True).click()
    expect(page.locator("#test-result")).to_contain_text("Testing the draft")
    result = page.locator("#test-result")
    # The first test on a database builds its scratch template (migrations): up to minutes.
    expect(result).to_contain_text("Tested: 2 test contacts", timeout=300_000)
    expect(result.locator("table").first).to_contain_text("Hi Ana, your sample is waiting")
    expect(result).to_contain_text("goal order_placed")
    shot(page, shots_dir, "journey-07-test")
    axe_audit.check(page, "journey test result at 1280 px")
    page.set_viewport_size({"width": 390, "height": 900})
    page.reload()
    page.locator("#test-result").get_by_role("link", name="Show it").click()
    expect(page.locator("#test-result")).to_contain_text("Tested: 2 test contacts")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 391, f"the tested draft is {width}px wide at 390px"
    shot(page, shots_dir, "journey-08-w390-test")
    axe_audit.check(page, "journey test result at 390 px")
