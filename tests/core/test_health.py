"""GET /healthz/ tells the truth: every part, its age, 503 when one is down; the dashboard too."""

import datetime as dt

import pytest
from django.db import OperationalError
from django.urls import reverse
from django.utils import timezone

from core.models import InfobipConnection, SchedulerTick, WorkerHeartbeat

pytestmark = pytest.mark.django_db
QUEUES = ("sending", "receiving", "events", "housekeeping")


def _all_up(age: float = 3) -> None:
    at = timezone.now() - dt.timedelta(seconds=age)
    for queue in QUEUES:
        WorkerHeartbeat.objects.create(hostname="w1@host", queue=queue, last_seen=at)
    SchedulerTick.objects.create(hostname="host", last_tick=at)
    InfobipConnection.objects.create(pk=1, ok=True, checked_at=at)


def test_every_part_up_answers_200_with_each_part_and_its_age(client, settings) -> None:
    settings.HERALD_SWEEP_INTERVAL = 15
    _all_up(age=3)
    response = client.get("/healthz/")
    assert response.status_code == 200
    assert response["Cache-Control"].startswith("max-age=0")
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert body["broker"] == "ok"  # memory:// in the unit tests
    assert body["worker"]["alive"] is True
    assert body["worker"]["heartbeat_age_s"] in (3, 4)
    assert set(body["worker"]["queues"]) == set(QUEUES)
    assert body["beat"] == {"alive": True, "last_tick_age_s": body["beat"]["last_tick_age_s"]}
    assert body["beat"]["last_tick_age_s"] in (3, 4)
    assert body["infobip"] == "sandbox"  # no base URL configured: the sandbox answered


def test_a_heartbeat_older_than_three_sweeps_is_not_alive(client, settings) -> None:
    """A worker that died 50 s ago is dead (the old check said alive for 2 minutes)."""
    settings.HERALD_SWEEP_INTERVAL = 15
    _all_up(age=3)
    WorkerHeartbeat.objects.filter(queue="events").update(
        last_seen=timezone.now() - dt.timedelta(seconds=50)
    )
    response = client.get("/healthz/")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "down"
    assert body["worker"]["alive"] is False
    assert body["worker"]["queues"]["events"]["alive"] is False
    assert body["worker"]["queues"]["sending"]["alive"] is True
    assert body["worker"]["heartbeat_age_s"] >= 50  # the stalest queue's freshest heartbeat


def test_no_worker_ever_and_no_beat_is_503(client) -> None:
    response = client.get("/healthz/")
    assert response.status_code == 503
    body = response.json()
    assert body["worker"]["alive"] is False
    assert body["worker"]["heartbeat_age_s"] is None
    assert body["beat"] == {"alive": False, "last_tick_age_s": None}
    assert body["infobip"] == "unchecked"


def test_a_stale_beat_is_503(client, settings) -> None:
    settings.HERALD_SWEEP_INTERVAL = 15
    _all_up(age=3)
    SchedulerTick.objects.update(last_tick=timezone.now() - dt.timedelta(seconds=46))
    body = client.get("/healthz/").json()
    assert body["beat"]["alive"] is False
    assert body["status"] == "down"


def test_broker_unreachable_is_503(client, settings) -> None:
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:9/0"  # nothing listens on the discard port
    _all_up()
    response = client.get("/healthz/")
    assert response.status_code == 503
    assert response.json()["broker"] == "down"
    assert response.json()["database"] == "ok"


@pytest.mark.parametrize(
    ("status_code", "word"), [(401, "unauthorized"), (403, "unauthorized"), (None, "unreachable")]
)
def test_infobip_down_is_named_and_503(client, status_code, word) -> None:
    _all_up()
    InfobipConnection.objects.filter(pk=1).update(
        ok=False, status_code=status_code, reason="the API key is invalid (401)"
    )
    response = client.get("/healthz/")
    assert response.status_code == 503
    assert response.json()["infobip"] == word
    assert response.json()["infobip_check"]["reason"] == "the API key is invalid (401)"


def test_database_down_is_503_and_live_probe_too(client, monkeypatch) -> None:
    _all_up()
    from django.db.backends.base.base import BaseDatabaseWrapper

    def refuse(self, *args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(BaseDatabaseWrapper, "cursor", refuse)
    response = client.get("/healthz/")
    assert response.status_code == 503
    assert response.json()["database"] == "down"
    assert response.json()["worker"]["alive"] is False
    live = client.get("/healthz/live/")
    assert live.status_code == 503
    assert live.json() == {"web": "ok", "database": "down"}


def test_live_probe_ignores_the_parts_the_web_process_can_wait_for(client) -> None:
    """No worker, no beat: /healthz/ is 503, but the web process should stay in rotation."""
    assert client.get("/healthz/").status_code == 503
    live = client.get("/healthz/live/")
    assert live.status_code == 200
    assert live.json() == {"web": "ok", "database": "ok"}


def test_dashboard_says_what_healthz_says(admin_client, settings) -> None:
    settings.HERALD_SWEEP_INTERVAL = 15
    _all_up()
    page = admin_client.get(reverse("ui:dashboard")).content.decode()
    assert "Herald: every part is working" in page
    WorkerHeartbeat.objects.filter(queue="sending").update(
        last_seen=timezone.now() - dt.timedelta(seconds=120)
    )
    page = admin_client.get(reverse("ui:dashboard")).content.decode()
    assert "Herald: not everything is working" in page
    assert "tell your administrator" in page
    assert ">/healthz/<" not in page
    assert "<li>no worker has taken the sending queue&#x27;s work for 120 s</li>" in page


def test_problems_in_words() -> None:
    from core.health import Health

    never = {"alive": False, "heartbeat_age_s": None}
    health = Health(
        database="ok",
        broker="down",
        worker={"queues": {"sending": never, "events": never}},
        beat={"alive": False, "last_tick_age_s": 50},
        infobip="unauthorized",
        infobip_check={"reason": "the API key is invalid (401)"},
    )
    assert health.problems() == [
        "the broker (the task queue) is unreachable: sends and reports wait until it is back",
        "no worker has taken any queue's work yet",
        "the scheduler (beat) last ran 50 s ago",
        "Infobip is unauthorized: the API key is invalid (401)",
    ]
    stale = {"alive": False, "heartbeat_age_s": 70}
    fresh = {"alive": True, "heartbeat_age_s": 2}
    health.worker = {"queues": {"sending": stale, "events": stale, "receiving": fresh}}
    assert (
        health.problems()[1] == "no worker has taken the sending and events queues' work for 70 s"
    )
