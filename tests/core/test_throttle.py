"""The shared-cache limits: once per window, N per period (sliding), failing open on outages."""

import pytest
from django.core.cache import cache

from api.throttles import parse_rate
from core.throttle import once_per, once_release, rate_take, wake_once


@pytest.fixture(autouse=True)
def _clean_cache():
    cache.clear()
    yield
    cache.clear()


def test_once_per_window() -> None:
    assert once_per("wake:1", 60) is True
    assert once_per("wake:1", 60) is False
    assert once_per("wake:2", 60) is True


class _Task:
    """A task's `delay` as a list of what was queued."""

    def __init__(self) -> None:
        self.queued: list[tuple[object, ...]] = []

    def delay(self, *args: object) -> None:
        self.queued.append(args)


def test_a_wake_up_is_queued_once_until_its_task_takes_it() -> None:
    task = _Task()
    assert wake_once("wake:7", 10, task, 7) is True
    assert wake_once("wake:7", 10, task, 7) is False  # one is queued: nothing piles up
    assert wake_once("wake:8", 10, task, 8) is True  # another key is its own
    once_release("wake:7")  # the task started: new work must wake it again
    assert wake_once("wake:7", 10, task, 7) is True
    assert task.queued == [(7,), (8,), (7,)]


def test_an_inline_wake_up_always_runs() -> None:
    task = _Task()
    assert wake_once("wake:9", 10, task, 9, inline=True) is True
    assert wake_once("wake:9", 10, task, 9, inline=True) is True
    assert task.queued == [(9,), (9,)]


def test_rate_allows_the_limit_then_refuses_until_the_window_slides() -> None:
    start = 1_000_000 * 60.0  # the start of a minute
    allowed = [rate_take(key="k", limit=3, period=60, now=start + i).allowed for i in range(5)]
    assert allowed == [True, True, True, False, False]
    refused = rate_take(key="k", limit=3, period=60, now=start + 10)
    assert (refused.allowed, refused.retry_after) == (False, 50)
    # Next minute: the previous 3 still weigh (60 - 6) / 60 → 2.7 + 1 > 3 refused …
    assert rate_take(key="k", limit=3, period=60, now=start + 66).allowed is False
    # … until enough of the previous window has slid out: 3 × 0.3 + 1 ≤ 3.
    assert rate_take(key="k", limit=3, period=60, now=start + 102).allowed is True


def test_refused_calls_are_not_counted() -> None:
    start = 2_000_000 * 60.0
    for i in range(50):
        rate_take(key="r", limit=2, period=60, now=start + i * 0.1)
    assert cache.get(f"rate:r:{int(start // 60)}") == 2


def test_an_unreachable_cache_fails_open(settings, caplog) -> None:
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/1",
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
    from django.core.cache import caches

    caches._settings = None  # re-read CACHES
    assert once_per("x", 1) is True
    assert rate_take(key="x", limit=0, period=60).allowed is True
    assert "shared cache unavailable" in caplog.text


@pytest.mark.parametrize(
    ("rate", "parsed"),
    [("600/min", (600, 60)), ("10/second", (10, 1)), ("100/10s", (100, 10)), ("5/day", (5, 86400))],
)
def test_rate_syntax(rate, parsed) -> None:
    assert parse_rate(rate) == parsed
