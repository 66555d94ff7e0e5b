"""The ledger tests again, on PostgreSQL: its raw SQL (COPY, SKIP LOCKED, casts) differs."""

import pytest

from tests.campaigns.test_ledger import *  # noqa: F403

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _on_postgres(integration_env) -> None:
    """Skip (and so fail the integration run) unless on PostgreSQL."""
