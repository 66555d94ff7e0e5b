"""The fault drills (bench/drill.py) at CI size: kill -9, provider storms, report chaos, DB down,
two worker nodes, the broker down and PostgreSQL restarted mid-campaign.

One `python -m bench.drill` run on the test PostgreSQL server (its own database) and the test
Redis, with real worker, beat, web and sandbox processes: 2,000 recipients, 2 kills, batches of
50 (a storm at 20 % 429 then makes some 50 requests, so a run without a 429 is 0.8^50 ≈ 1 in
70,000; with 100, about 20 requests, it was 1 in 90), a 10-second database outage behind a TCP
proxy, and two separate worker nodes (`-n node1@%h`, `-n node2@%h`) sending one campaign while
one of them is killed once; a 200 msg/s campaign that loses Redis for 15 s (three API sends
meanwhile), then PostgreSQL for 8 s (every connection of every process dropped).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from tests.fixtures import worker as worker_fixtures

# Five drills on a shared 2-core machine: the suite's 300 s timeout is too tight under load.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def drills() -> dict[int, dict]:
    worker_fixtures.require_real_engines()
    env = {
        **os.environ,
        "DATABASE_URL": worker_fixtures.test_database_url(),
        "HERALD_READ_DOTENV": "false",
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.drill",
            "--size",
            "2000",
            "--small-size",
            "2000",
            "--kills",
            "2",
            "--kill-gap",
            "2",
            "--batch-size",
            "50",
            "--outage",
            "10",
            "--json",
            "--drills",
            "5,6,7,8,9,11,12",
            "--node-kills",
            "1",
            "--no-record",
            "--broker-outage",
            "15",
            "--pg-outage",
            "8",
            "--outage-speed",
            "200",
            "--broker-url",
            settings.CELERY_BROKER_URL,
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=840)
    except subprocess.TimeoutExpired:
        # SIGTERM, not run()'s SIGKILL: the drill then stops its sandbox, web server, beat and
        # workers (each in its own session) and drops its database instead of orphaning them.
        proc.terminate()
        stdout, stderr = proc.communicate(timeout=60)
        pytest.fail(f"drills did not finish in 840 s:\n{stdout}\n{stderr[-3000:]}")
    results = {}
    for line in stdout.splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            results[record["drill"]] = record
    assert results, f"no drill ran:\n{stdout}\n{stderr[-3000:]}"
    return results


def test_kill_9_every_recipient_handed_exactly_once(drills) -> None:
    r = drills[5]
    assert r["ok"], json.dumps(r, indent=1, default=str)
    assert len(r["kills_at_s"]) == 2
    assert r["sandbox_accepted"] == 2000
    assert r["sandbox_duplicates"] == {"messageId": 0, "recipientCallbackData": 0}
    assert r["ledger_ids_equal_sandbox_ids"]
    assert r["counters_match"]


def test_provider_storm_every_recipient_sent_exactly_once(drills) -> None:
    r = drills[6]
    assert r["ok"], json.dumps(r, indent=1, default=str)
    assert r["faults"]["429"] > 0
    assert r["sandbox_accepted"] == 2000
    assert r["sandbox_duplicates"] == {"messageId": 0, "recipientCallbackData": 0}


def test_report_chaos_final_states_equal_the_truth(drills) -> None:
    r = drills[7]
    assert r["ok"], json.dumps(r, indent=1, default=str)
    assert r["compared"] == 2000
    assert r["mismatches"] == 0
    assert r["duplicate_pushes"] > 0


def test_database_down_pushes_refused_then_nothing_lost(drills) -> None:
    r = drills[8]
    assert r["ok"], json.dumps(r, indent=1, default=str)
    assert r["push_failures_during_outage"] > 0
    assert any(code.startswith("5") for code in r["web_statuses"])
    assert r["compared"] == 2000
    assert r["mismatches"] == 0


def test_two_worker_nodes_send_one_campaign_exactly_once(drills) -> None:
    r = drills[9]
    assert r["ok"], json.dumps(r, indent=1, default=str)
    assert len(r["node_kills"]) == 1
    # The kill landed mid-way, and both nodes' pool children did part of the sending.
    assert 0 < r["node_kills"][0]["accepted"] < 2000
    assert all(cpu > 0 for cpu in r["node_pool_cpu_s"].values())
    assert r["sandbox_accepted"] == 2000
    assert r["sandbox_duplicates"] == {"messageId": 0, "recipientCallbackData": 0}
    assert r["ledger_ids_equal_sandbox_ids"]
    assert r["counters_match"]
    assert r["left_queued_or_sending"] == 0


def test_broker_down_mid_campaign_nothing_lost_or_doubled_and_sending_resumes(drills) -> None:
    r = drills[11]
    assert r["ok"], json.dumps(r, indent=1, default=str)
    assert r["worker_alive"]  # rode the outage out (no supervisor in the drill)
    assert r["resume_s"] is not None
    assert r["resume_s"] < 60
    # During the outage the API answered 202 queued (sent once after) or 503, never a 500.
    assert r["api_statuses"]
    assert set(r["api_statuses"]) <= {202, 503}
    assert r["api_202_sent_once"]
    assert r["api_json"]
    assert r["sandbox_duplicates"] == {"messageId": 0, "recipientCallbackData": 0}
    assert r["ledger_ids_equal_sandbox_ids"]
    assert r["counters_match"]
    assert r["left_queued_or_sending"] == 0


def test_postgresql_restart_mid_campaign_nothing_lost_or_doubled(drills) -> None:
    r = drills[12]
    assert r["ok"], json.dumps(r, indent=1, default=str)
    assert r["resume_s"] is not None
    assert r["resume_s"] < 60
    assert set(r["api_statuses"]) <= {202, 503}
    assert r["api_503_retry_after"]
    assert r["sandbox_duplicates"] == {"messageId": 0, "recipientCallbackData": 0}
    assert r["mismatches"] == 0
    assert r["counters_match"]
