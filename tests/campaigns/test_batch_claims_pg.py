"""The batch-claim tests again, on PostgreSQL: the claim's live-batch subquery is SQL of its own."""

import pytest

from tests.campaigns.test_batch_claims import *  # noqa: F403

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _on_postgres(integration_env) -> None:
    """Skip (and so fail the integration run) unless on PostgreSQL."""
