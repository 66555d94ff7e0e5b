"""A Marketer in Chromium: imports a spreadsheet export through the mapping step, declares
what its columns are, builds a segment with typed rules and an OR group while the count moves,
and targets "the list AND the segment" in the wizard — at 1280 px, with the same pages looked at
again at 390 px, each checked by axe-core. Screenshots go to the run's test-artifacts folder.
"""

import pytest
from playwright.sync_api import expect

from campaigns.models import Segment
from contacts.models import ConsentEvent, Contact, ContactList, ListMembership
from tests.ui import test_browser
from tests.ui.conftest import htmx_settled, make_user
from tests.ui.test_browser import login, shot
from ui.roles import MARKETER

pytestmark = pytest.mark.browser
# The same browser and screenshot folder as test_browser.py (fixtures found by module attribute).
browser_page = test_browser.browser_page
shots_dir = test_browser.shots_dir

# Excel on Windows: Windows-1252, semicolons, a consent column, a spend, a date, day first.
EXPORT = (
    "Mobile;Prénom;Newsletter;Total spent;Birthday\r\n"
    "+447946013301;Renée;oui;120,50;10/12/1990\r\n"
    "+447946013302;Zoé;non;30;01/02/1985\r\n"
    "+447946013303;Ana;yes;75;13/12/2000\r\n"
    "+447946013304;Bjørn;yes;5;24/06/1979\r\n"
).encode("windows-1252")


# The elements that reach past a 390 px screen, innermost last (for the failure message).
WIDE_ELEMENTS = """() => [...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > 391)
  .map(e => `${e.tagName}.${e.className}#${e.id} ${Math.round(e.getBoundingClientRect().right)}`)
  .slice(-8)"""


def _phone(page, folder, name: str, audit=None) -> None:
    """The same page at 390 px wide (nothing wider than the screen), then back to 1280."""
    page.set_viewport_size({"width": 390, "height": 844})
    shot(page, folder, f"{name}-390")
    if page.evaluate("document.documentElement.scrollWidth") > 390:
        wide = page.evaluate(WIDE_ELEMENTS)
        raise AssertionError(f"{name} scrolls sideways at 390 px: {wide}")
    if audit is not None:
        audit.check(page, f"{name} at 390 px")
    page.set_viewport_size({"width": 1280, "height": 900})


def test_marketer_maps_an_import_builds_a_typed_segment_and_narrows_a_list(
    browser_page, live_server, celery_worker, engine_settings, shots_dir, tmp_path, axe_audit
):
    make_user("mia", MARKETER)
    page, base = browser_page, live_server.url
    login(page, base, "mia")

    # 1. Import through the mapping step.
    source = tmp_path / "crm-export.csv"
    source.write_bytes(EXPORT)
    page.goto(base + "/contacts/import/")
    page.get_by_label("CSV file").set_input_files(str(source))
    page.get_by_label("Add them to the list").fill("Customers")
    page.get_by_role("button", name="Upload and map the columns").click()
    expect(page.get_by_role("heading", name="Map the columns")).to_be_visible()
    expect(page.locator("#import-encoding")).to_have_text("windows-1252")
    expect(page.locator("#col-1")).to_contain_text("Renée")  # decoded, not mojibake
    page.get_by_label("Import Prénom as").select_option("first_name")
    # Suggested from the header and its cells (oui/non/yes): a consent column.
    expect(page.get_by_label("Import Newsletter as")).to_have_value("consent")
    expect(page.get_by_label("Which channel Newsletter is about")).to_be_visible()
    expect(page.get_by_label("Attribute name for Newsletter")).to_be_hidden()
    expect(page.get_by_label("Import Total spent as")).to_have_value("attr:number")
    page.get_by_label("Attribute name for Total spent").fill("last_order_value")
    expect(page.get_by_label("How Birthday writes dates")).to_have_value("dmy")
    shot(page, shots_dir, "audience-01-import-mapping")
    axe_audit.check(page, "import mapping at 1280 px")
    _phone(page, shots_dir, "audience-01-import-mapping", axe_audit)
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.locator("#import-progress")).to_have_attribute("data-status", "done")
    expect(page.locator("#import-created")).to_have_text("4")
    shot(page, shots_dir, "audience-02-import-done")
    assert Contact.objects.get(phone="+447946013302").opted_out  # "non" is not Subscribed
    assert ConsentEvent.objects.filter(action="opt_in", actor__username="mia").count() == 3
    assert Contact.objects.get(phone="+447946013301").attributes == {
        "last_order_value": "120.50",
        "birthday": "1990-12-10",
    }
    vip = ContactList.objects.create(name="VIP")
    ListMembership.objects.create(
        contact=Contact.objects.get(phone="+447946013304"), contact_list=vip
    )

    # 2. The attribute types page shows what the import declared.
    page.goto(base + "/attributes/")
    expect(page.get_by_label("Type of last_order_value")).to_have_value("number")
    expect(page.get_by_label("Type of birthday")).to_have_value("date")
    shot(page, shots_dir, "audience-03-attributes")
    axe_audit.check(page, "attributes at 1280 px")
    _phone(page, shots_dir, "audience-03-attributes", axe_audit)

    # 3. The builder: last_order_value > 50 AND (VIP OR subscribed), the count as it goes.
    page.goto(base + "/segments/")
    page.get_by_role("link", name="New segment").click()
    page.get_by_label("Name").fill("Big spenders")
    page.get_by_label("Rule 0: what it looks at").select_option("attr:last_order_value")
    page.get_by_label("Rule 0: how it compares").select_option("gt")
    page.get_by_label("Rule 0: number").fill("50")
    expect(page.locator("#segment-count")).to_have_text("2")  # Renée 120.50, Ana 75 (Zoé 30)
    expect(page.locator("#segment-preview")).to_contain_text("Renée")
    page.get_by_role("button", name="+ Add a group (any/all)").click()
    htmx_settled(page)
    page.get_by_label("Rule 1.0: what it looks at").select_option("list")
    htmx_settled(page)
    page.locator("#item-1-0").get_by_label("VIP").check()
    page.get_by_label("Rule 1.1: what it looks at").select_option("attr:birthday")
    htmx_settled(page)
    page.get_by_label("Rule 1.1: how it compares").select_option("anniversary_within_days")
    page.get_by_label("Rule 1.1: days").fill("366")
    expect(page.locator("#segment-count")).to_have_text("2")
    page.get_by_label("Rule 1.1: days").fill("")
    expect(page.locator("#segment-preview")).to_contain_text("Finish the rules")
    page.get_by_label("Rule 1.1: days").fill("366")
    expect(page.locator("#segment-count")).to_have_text("2")
    shot(page, shots_dir, "audience-04-builder")
    axe_audit.check(page, "segment builder at 1280 px")
    _phone(page, shots_dir, "audience-04-builder", axe_audit)
    page.get_by_role("button", name="Save segment").click()
    expect(page.get_by_text("Segment “Big spenders” saved.")).to_be_visible()
    expect(page.locator("#segment-count-" + str(Segment.objects.get().pk))).to_have_text("2")
    shot(page, shots_dir, "audience-05-segments")
    axe_audit.check(page, "segments at 1280 px")
    _phone(page, shots_dir, "audience-05-segments", axe_audit)
    rules = Segment.objects.get().rules
    assert rules["rules"][0] == {
        "field": "attribute",
        "key": "last_order_value",
        "type": "number",
        "op": "gt",
        "value": 50,
    }

    # 4. The wizard: people on Customers who are also Big spenders.
    page.goto(base + "/campaigns/new/")
    page.get_by_label("Campaign name").fill("Thank you")
    page.locator("fieldset", has_text="Send to these lists").get_by_label("Customers").check()
    expect(page.locator("#audience-eligible")).to_have_text("3")  # Zoé opted out
    page.get_by_label("Send to a segment").select_option(label="Big spenders")
    expect(page.locator("#audience-eligible")).to_have_text("3")  # any: the union
    page.get_by_label("only people on the lists who are also in the segment").check()
    expect(page.locator("#audience-eligible")).to_have_text("2")
    expect(page.locator("#audience-count")).to_contain_text("last_order_value > 50")
    shot(page, shots_dir, "audience-06-wizard-list-and-segment")
    axe_audit.check(page, "wizard audience at 1280 px")
    _phone(page, shots_dir, "audience-06-wizard-list-and-segment", axe_audit)
    page.get_by_role("button", name="Next: message").click()
    expect(page.get_by_role("heading", name="New campaign")).to_be_visible()
