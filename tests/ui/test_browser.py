"""The marketer's path in a real browser (Debian's Chromium through Playwright), end to end.

Runs in the integration run: PostgreSQL, a real Celery worker, the sandbox pushing reports back
through the real webhooks to the live server. Screenshots of every step go to a folder under
test-artifacts/ whose path the run prints.
"""

import csv
import datetime as dt
import io
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from campaigns.models import Campaign
from campaigns.states import CampaignState
from tests.ui.conftest import PASSWORD, SCREENSHOT_DIRS, make_user
from ui.roles import MARKETER, SENDER

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def shots_dir() -> Path:
    """Where this run's screenshots go; conftest's terminal summary prints the path."""
    folder = ROOT / "test-artifacts" / f"ui-{dt.datetime.now():%Y%m%d-%H%M%S}"
    folder.mkdir(parents=True, exist_ok=True)
    SCREENSHOT_DIRS.append(folder)
    return folder


@pytest.fixture
def browser_page(shots_dir):
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(
            viewport={"width": 1280, "height": 900}, accept_downloads=True
        )
        page = context.new_page()
        page.set_default_timeout(20_000)
        yield page
        context.close()
        browser.close()


def shot(page, folder: Path, name: str) -> None:
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def login(page, base: str, username: str) -> None:
    page.goto(base + "/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()


def test_marketer_imports_builds_tests_launches_and_exports(
    browser_page, live_server, celery_worker, sandbox, engine_settings, shots_dir, tmp_path
):
    sandbox.configure(outcomes={"delivered": 1.0}, push_delay=0.2)
    make_user("sara", MARKETER, SENDER)
    page, base = browser_page, live_server.url

    page.goto(base + "/")
    expect(page).to_have_url(base + "/login/?next=/")
    shot(page, shots_dir, "01-login")
    login(page, base, "sara")
    shot(page, shots_dir, "02-dashboard")

    # Import a CSV: progress, then created/updated/rejected and the errors file.
    source = tmp_path / "people.csv"
    source.write_text(
        "phone,first_name,city\n+447946012301,Ann,Leeds\n+447946012302,Bob,York\n"
        "+447946012303,Cy,Hull\nnot-a-phone,Dee,Bath\n"
    )
    page.get_by_role("link", name="Import contacts").first.click()
    page.get_by_label("CSV file").set_input_files(str(source))
    page.get_by_label("Add them to the list").fill("Spring customers")
    shot(page, shots_dir, "03-import-form")
    page.get_by_role("button", name="Upload and map the columns").click()
    expect(page.get_by_role("heading", name="Map the columns")).to_be_visible()
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.locator("#import-progress")).to_have_attribute("data-status", "done")
    expect(page.locator("#import-created")).to_have_text("3")
    expect(page.locator("#import-rejected")).to_have_text("1")
    shot(page, shots_dir, "04-import-done")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the rejected rows").click()
    assert "not-a-phone" in Path(download.value.path()).read_text()

    # Wizard: audience with a live count, SMS text with an emoji → 2 parts, UCS-2.
    page.get_by_role("link", name="Create a campaign").click()
    page.get_by_label("Campaign name").fill("Spring sale")
    page.locator("fieldset", has_text="Send to these lists").get_by_label(
        "Spring customers"
    ).check()
    expect(page.locator("#audience-eligible")).to_have_text("3")
    shot(page, shots_dir, "05-wizard-audience")
    page.get_by_role("button", name="Next: message").click()
    text = "Hi {{first_name}}, spring sale in {{city|your town}}: 20% off today only 🌸 " + "x" * 20
    page.locator("#id_text").fill(text)
    expect(page.locator("#sms-parts")).to_have_text("2")
    expect(page.locator("#sms-encoding")).to_have_text("UCS-2")
    expect(page.locator("#sms-ucs2 mark")).to_have_text("🌸")
    shot(page, shots_dir, "06-wizard-message-counter")
    page.get_by_role("button", name="Next: options").click()
    shot(page, shots_dir, "07-wizard-options")
    page.get_by_role("button", name="Save draft and preview").click()
    expect(page.locator("#preview-messages")).to_have_text("3")
    expect(page.get_by_text("Hi Ann, spring sale in Leeds")).to_be_visible()

    # Test send, then launch against the sandbox.
    page.get_by_label("Phone number").fill("+447700900123")
    page.get_by_role("button", name="Send test").click()
    expect(page.locator("#test-sends")).to_contain_text("+447700900123")
    # The sandbox's delivery report reaches the test through the real webhook (issue 26 #7).
    expect(page.locator("#test-sends")).to_contain_text("Delivered", timeout=30_000)
    shot(page, shots_dir, "08-preview-test-sent")
    page.get_by_role("link", name="Launch…").click()
    shot(page, shots_dir, "09-confirm-launch")
    page.get_by_role("button", name="Yes, launch").click()

    # The campaign page polls until 100% with the delivered count.
    expect(page.locator("#campaign-progress")).to_have_attribute(
        "data-state", "completed", timeout=60_000
    )
    expect(page.locator("#campaign-percent")).to_have_text("100%")
    expect(page.locator("#count-delivered")).to_have_text("3", timeout=60_000)
    expect(page.locator("#campaign-progress")).not_to_have_attribute("hx-trigger", "every 1s")
    expect(page.locator("#recipients-table")).to_contain_text("+447946012301")
    expect(page.locator("#recipients-table .badge.delivered")).to_have_count(3)
    # The per-recipient story is live too: all three reached, none by failover.
    expect(page.locator("#story-delivered")).to_have_text("3")
    expect(page.locator("#recipients-table")).to_contain_text("Delivered to the phone")
    expect(page.get_by_role("link", name="Pause…")).to_have_count(0)
    shot(page, shots_dir, "10-campaign-complete")
    campaign = Campaign.objects.get(name="Spring sale")
    assert campaign.state == CampaignState.COMPLETED
    assert campaign.count_delivered == 3

    with page.expect_download() as download:
        page.locator("#export-csv").click()
    exported = Path(download.value.path()).read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert sorted(r["phone"] for r in rows) == ["+447946012301", "+447946012302", "+447946012303"]
    assert {r["state"] for r in rows} == {"delivered"}


def test_marketer_without_send_permission_cannot_launch(
    browser_page, live_server, transactional_db, shots_dir
):
    from campaigns.services import campaign_create
    from tests.ui.conftest import make_audience

    make_user("mo", MARKETER)
    campaign = campaign_create(
        name="Needs a sender", channel="sms", lists=[make_audience(2)], text="Hello"
    )
    page, base = browser_page, live_server.url
    login(page, base, "mo")
    page.goto(f"{base}/campaigns/{campaign.pk}/preview/")
    expect(page.locator("#no-send-permission")).to_be_visible()
    expect(page.get_by_role("link", name="Launch…")).to_have_count(0)
    shot(page, shots_dir, "11-marketer-no-launch")
    response = page.goto(f"{base}/campaigns/{campaign.pk}/do/launch/")
    assert response.status == 403
    campaign.refresh_from_db()
    assert campaign.state == CampaignState.DRAFT


def test_whatsapp_campaign_with_sms_failover_built_in_the_wizard_completes(
    browser_page, live_server, celery_worker, sandbox, engine_settings, shots_dir
):
    from tests.ui.conftest import make_audience

    # Nobody is on WhatsApp: every recipient must get the SMS failover, deterministically.
    sandbox.configure(outcomes={"delivered": 1.0}, not_on_whatsapp=1.0, push_delay=0.2)
    make_user("wes", MARKETER, SENDER)
    make_audience(3, name="WhatsApp fans", prefix="+4479461")
    page, base = browser_page, live_server.url
    login(page, base, "wes")

    page.get_by_role("link", name="New campaign").first.click()
    page.get_by_label("Campaign name").fill("Bienvenida")
    page.locator("fieldset", has_text="Send to these lists").get_by_label("WhatsApp fans").check()
    expect(page.locator("#audience-eligible")).to_have_text("3")
    page.get_by_role("button", name="Next: message").click()
    page.locator("#ch-whatsapp_template").check()
    page.get_by_role("button", name="Sync templates from Infobip now").click()
    page.locator("#ch-whatsapp_template").check()
    page.locator("#id_template").select_option(label="bienvenida (es)")
    placeholder = page.locator("#template-form input[type=text]").first
    placeholder.fill("{{first_name}}")
    shot(page, shots_dir, "12-wizard-whatsapp-template")
    page.get_by_role("button", name="Next: options").click()
    expect(page.locator("#id_failover_mode")).to_have_value("herald")
    expect(page.locator("#id_fallback_0")).to_have_value("sms")
    page.locator("#id_fallback_text_0").fill("Hi {{first_name}}, our offer by SMS")
    shot(page, shots_dir, "13-wizard-failover")
    # On a phone the fallback mode's select (long option words) stays inside the screen.
    page.set_viewport_size({"width": 390, "height": 900})
    box = page.locator("#id_failover_mode").bounding_box()
    assert box["x"] >= 0
    assert box["x"] + box["width"] <= 390
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    # Its options' words fit the closed select (QA: "Herald sends the next step when one f").
    assert page.locator("#id_failover_mode").evaluate(
        """(select) => {
            const pen = document.createElement("canvas").getContext("2d");
            pen.font = getComputedStyle(select).font;
            const widths = [...select.options].map((o) => pen.measureText(o.text).width);
            const widest = Math.max(...widths);
            return widest <= select.clientWidth - 40;  // padding and the arrow
        }"""
    )
    shot(page, shots_dir, "13-wizard-failover-390")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.get_by_role("button", name="Save draft and preview").click()
    expect(page.get_by_text("Hola Ann0, bienvenido a Herald.")).to_be_visible()
    page.get_by_role("link", name="Launch…").click()
    page.get_by_role("button", name="Yes, launch").click()

    expect(page.locator("#campaign-progress")).to_have_attribute(
        "data-state", "completed", timeout=60_000
    )
    # 3 WhatsApp attempts undeliverable, 3 SMS failovers delivered.
    expect(page.locator("#count-delivered")).to_have_text("3", timeout=60_000)
    # Counted per person (issue 26 #10): the fallback reached all three WhatsApp missed.
    expect(page.locator("#reached-by-fallback")).to_have_text("3", timeout=30_000)
    expect(page.locator("#people-handled")).to_have_text("3 of 3 people")
    expect(page.locator("#people-not-reached")).to_have_text("0")
    shot(page, shots_dir, "14-whatsapp-failover-complete")
    campaign = Campaign.objects.get(name="Bienvenida")
    assert (campaign.failover_sent, campaign.failover_delivered) == (3, 3)
    assert campaign.count_undeliverable == 3
    failovers = campaign.messages.filter(replaces__isnull=False)
    assert sorted(m.text for m in failovers)[0] == "Hi Ann0, our offer by SMS"


def test_a_viber_campaign_with_an_rcs_then_sms_chain_built_in_the_wizard(
    browser_page, live_server, celery_worker, sandbox, engine_settings, shots_dir
):
    from tests.ui.conftest import make_audience

    # Nobody has Viber or RCS: every recipient walks the whole chain to the SMS, once.
    sandbox.configure(
        outcomes={"delivered": 1.0}, not_on_channel={"VIBER_BM": 1.0, "RCS": 1.0}, push_delay=0.2
    )
    make_user("val", MARKETER, SENDER)
    make_audience(3, name="Viber fans", prefix="+4479462")
    page, base = browser_page, live_server.url
    login(page, base, "val")
    page.get_by_role("link", name="New campaign").first.click()
    page.get_by_label("Campaign name").fill("Season")
    page.locator("fieldset", has_text="Send to these lists").get_by_label("Viber fans").check()
    page.get_by_role("button", name="Next: message").click()
    page.locator("#ch-viber").check()
    page.locator("#id_text").fill("Hi {{first_name}}, the new season is in")
    expect(page.locator("#text-length")).to_have_text("39")
    page.locator("#id_media_url").fill("https://example.com/season.jpg")
    page.locator("#id_button_text_0").fill("Shop now")
    page.locator("#id_button_url_0").fill("https://example.com/shop")
    expect(page.locator("#id_button_text_1")).to_be_hidden()  # Viber takes one button
    shot(page, shots_dir, "15-wizard-viber")
    page.get_by_role("button", name="Next: options").click()
    expect(page.locator("#id_fallback_0")).to_have_value("sms")  # Viber's default chain
    page.locator("#id_fallback_0").select_option("rcs")
    page.locator("#id_fallback_1").select_option("sms")
    page.locator("#id_fallback_text_1").fill("Hi {{first_name}}, the new season is in (SMS)")
    shot(page, shots_dir, "16-wizard-chain")
    page.get_by_role("button", name="Save draft and preview").click()
    expect(page.locator("#preview-channel")).to_have_text(
        "Viber, then RCS → SMS for those it does not reach"
    )
    page.get_by_role("link", name="Launch…").click()
    page.get_by_role("button", name="Yes, launch").click()
    expect(page.locator("#campaign-progress")).to_have_attribute(
        "data-state", "completed", timeout=90_000
    )
    expect(page.locator("#count-delivered")).to_have_text("3", timeout=60_000)
    expect(page.locator("#reached-by-fallback")).to_have_text("3", timeout=30_000)
    shot(page, shots_dir, "17-chain-complete-1280")
    page.set_viewport_size({"width": 390, "height": 844})
    shot(page, shots_dir, "18-chain-complete-390")
    campaign = Campaign.objects.get(name="Season")
    rows = campaign.messages.order_by("id")
    assert [r.channel for r in rows].count("viber") == 3
    # Each person: Viber (undeliverable) → RCS (undeliverable) → SMS (delivered), nobody twice.
    for viber in rows.filter(channel="viber"):
        rcs = viber.failover.get()
        sms = rcs.failover.get()
        assert (viber.state, rcs.channel, rcs.state, sms.channel, sms.state) == (
            "undeliverable",
            "rcs",
            "undeliverable",
            "sms",
            "delivered",
        )
    assert (campaign.failover_sent, campaign.failover_delivered) == (6, 3)
