"""message.final wakes a subscription's deliverer at most once per window, never too early."""

import time

import pytest
from django.core.cache import cache

from api import emit
from api.tasks import subscription_deliver


@pytest.fixture
def scheduled(monkeypatch):
    calls: list[tuple[tuple, dict]] = []
    monkeypatch.setattr(emit, "_eager", lambda: False)
    monkeypatch.setattr(
        subscription_deliver, "apply_async", lambda args, **kw: calls.append((args, kw))
    )
    monkeypatch.setattr(subscription_deliver, "delay", lambda *a: pytest.fail("not debounced"))
    cache.clear()
    return calls


def test_a_storm_of_batches_wakes_the_deliverer_once_per_window(scheduled):
    for _ in range(50):
        emit._wake_final(7)
    emit._wake_final(8)  # another subscription has its own window
    assert scheduled == [
        ((7,), {"countdown": emit.WAKE_AFTER}),
        ((8,), {"countdown": emit.WAKE_AFTER}),
    ]
    # The task runs after the window closes: a batch that found the window open committed first.
    assert emit.WAKE_AFTER > emit.WAKE_WINDOW
    time.sleep(emit.WAKE_WINDOW + 0.05)
    emit._wake_final(7)
    assert scheduled[-1] == ((7,), {"countdown": emit.WAKE_AFTER})
    assert len(scheduled) == 3


def test_eager_mode_delivers_every_time(monkeypatch):
    ran: list[int] = []
    monkeypatch.setattr(emit, "_eager", lambda: True)
    monkeypatch.setattr(subscription_deliver, "delay", lambda pk: ran.append(pk))
    cache.clear()
    emit._wake_final(3)
    emit._wake_final(3)
    assert ran == [3, 3]
