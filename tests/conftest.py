"""Suite-wide fixtures and the integration-run guard.

`make test` runs the suite twice: unit tests on the checkout's embedded PostgreSQL
(tests/fixtures/database.py) with sockets limited to loopback and Unix sockets, then the
`integration`/`browser` tests on PostgreSQL with a real Celery worker on Redis. With
HERALD_REQUIRE_INTEGRATION=1 a skipped integration test, or none at all, fails the run.
"""

import os

import pytest
from hypothesis import settings as hypothesis_settings
from hypothesis.internal.detection import is_hypothesis_test

# Property-based tests are derandomized in `make test` (the same examples every run, so main is
# green or red by its code, never by a draw); `make fuzz` (HERALD_FUZZ=1) draws fresh ones.
hypothesis_settings.register_profile("herald", derandomize=True, database=None, print_blob=True)
hypothesis_settings.register_profile("fuzz", derandomize=False, database=None, print_blob=True)
hypothesis_settings.load_profile("fuzz" if os.environ.get("HERALD_FUZZ") == "1" else "herald")

pytest_plugins = [
    "tests.fixtures.worker",
    "tests.fixtures.beat",
    "tests.fixtures.sandbox",
    "tests.fixtures.provider",
]
if not os.environ.get("DATABASE_URL"):
    # The unit run: the checkout's embedded PostgreSQL and a migrated template.
    pytest_plugins.append("tests.fixtures.database")

REQUIRE_INTEGRATION = os.environ.get("HERALD_REQUIRE_INTEGRATION") == "1"
_integration = {"passed": 0, "failed": 0, "skipped": 0}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if is_hypothesis_test(getattr(item, "obj", None)):
            item.add_marker(pytest.mark.property)
        if item.get_closest_marker("browser") and not item.get_closest_marker("integration"):
            item.add_marker(pytest.mark.integration)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if "integration" not in report.keywords:
        return
    if report.skipped:
        _integration["skipped"] += 1
    elif report.failed:
        _integration["failed"] += 1
    elif report.when == "call" and report.passed:
        _integration["passed"] += 1


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    total = sum(_integration.values())
    if not total and not REQUIRE_INTEGRATION:
        return
    from django.conf import settings

    engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    broker = settings.CELERY_BROKER_URL.split("://", 1)[0]
    terminalreporter.write_line(
        f"integration tests on {engine} + {broker} with a real Celery worker: "
        f"{_integration['passed']} passed, {_integration['failed']} failed, "
        f"{_integration['skipped']} skipped"
    )
    if REQUIRE_INTEGRATION and (_integration["skipped"] or not _integration["passed"]):
        terminalreporter.write_line(
            "FAILED: integration tests must run, not skip (HERALD_REQUIRE_INTEGRATION=1)", red=True
        )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if REQUIRE_INTEGRATION and (_integration["skipped"] or not _integration["passed"]):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    """Each test starts with an empty cache: the API's rate limit counts per token id, and ids
    repeat from test to test, so a test late in the run could meet an earlier test's 429."""
    from django.core.cache import cache

    cache.clear()
