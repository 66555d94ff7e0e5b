"""Template sync on the real PostgreSQL: upserts, marking removed templates, pushed statuses."""

import pytest

from tests.fixtures.worker import require_real_engines
from tests.whatsapp.conftest import SENDER, raw_template, spec_list_examples
from whatsapp.models import WhatsAppTemplate
from whatsapp.services import (
    template_apply_status_update,
    template_check_sendable,
    templates_sync,
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


@pytest.fixture(autouse=True)
def _real_engines() -> None:
    require_real_engines()


def test_sync_upserts_marks_and_restores_on_postgresql(serve_templates) -> None:
    spec = [t for body in spec_list_examples().values() for t in body["templates"]]
    serve_templates([*spec, raw_template("promo"), raw_template("promo", "de")])
    first = templates_sync(sender=SENDER)
    assert (first.created, first.unsupported) == (6, 0)

    serve_templates([*spec[:2], raw_template("promo", status="SECOND_PAUSED")])
    second = templates_sync(sender=SENDER)
    assert (second.unchanged, second.updated, second.removed) == (2, 1, 3)
    assert WhatsAppTemplate.objects.filter(removed_upstream_at__isnull=False).count() == 3
    promo = WhatsAppTemplate.objects.get(name="promo", language="en")
    assert "is PAUSED on Infobip" in template_check_sendable(template=promo)

    template_apply_status_update(sender=SENDER, name="promo", language="en", status="APPROVED")
    assert template_check_sendable(template=promo) is None
    assert WhatsAppTemplate.objects.count() == 6
