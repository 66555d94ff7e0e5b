"""Optional SQLite copy of the sandbox's messages (`--state-db PATH`), so a restart keeps them.

A writer thread appends accepted messages and marks final reports in batches, so the request
path only enqueues. On start the messages are loaded back (truth, logs, duplicates) and those
whose final report was not produced yet are scheduled again. Pull queues, inbound messages and
counters other than the message counts start empty.
"""

import json
import queue
import sqlite3
import threading
from pathlib import Path
from typing import Any

from infobip.sandbox.state import Message

_COLUMNS = (
    "message_id",
    "channel",
    "to_",
    "sender",
    "bulk_id",
    "text",
    "parts",
    "accepted_at",
    "url",
    "intermediate",
    "callback_data",
    "entity_id",
    "application_id",
    "campaign_ref",
    "template",
    "failover",
    "final_status",
    "final_error",
    "outcome",
    "price",
    "seen",
    "state",
    "done_at",
)
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS messages (seq INTEGER PRIMARY KEY AUTOINCREMENT,
    {", ".join(_COLUMNS)});
CREATE INDEX IF NOT EXISTS messages_id ON messages (message_id);
"""
# One row per sent message, in _COLUMNS order (a constant: nothing of the input is in the text).
_INSERT = """
INSERT INTO messages (message_id, channel, to_, sender, bulk_id, text, parts, accepted_at, url,
    intermediate, callback_data, entity_id, application_id, campaign_ref, template, failover,
    final_status, final_error, outcome, price, seen, state, done_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""


def _row(m: Message) -> tuple[object, ...]:
    return (
        m.message_id,
        m.channel,
        m.to,
        m.sender,
        m.bulk_id,
        m.text,
        m.parts,
        m.accepted_at,
        m.url,
        int(m.intermediate),
        m.callback_data,
        m.entity_id,
        m.application_id,
        m.campaign_ref,
        json.dumps(m.template) if m.template is not None else None,
        json.dumps(m.failover) if m.failover is not None else None,
        m.final_status,
        m.final_error,
        m.outcome,
        m.price,
        int(m.seen),
        m.state,
        m.done_at,
    )


def _message(row: sqlite3.Row) -> Message:
    m = Message(
        row["message_id"],
        row["channel"],
        row["to_"],
        row["sender"],
        row["bulk_id"],
        row["text"],
        row["parts"],
        row["accepted_at"],
        row["url"],
        bool(row["intermediate"]),
        row["callback_data"],
        row["entity_id"],
        row["application_id"],
        row["campaign_ref"],
        json.loads(row["template"]) if row["template"] else None,
        json.loads(row["failover"]) if row["failover"] else None,
    )
    m.final_status, m.final_error, m.outcome = (
        row["final_status"],
        row["final_error"],
        row["outcome"],
    )
    m.price, m.seen, m.state, m.done_at = (
        row["price"],
        bool(row["seen"]),
        row["state"],
        row["done_at"],
    )
    return m


class Persistence:
    """Appends to and reads from one SQLite file; writes happen on its own thread."""

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        with self._connect() as db:
            db.executescript(_SCHEMA)
        # (what, its messages): "insert", "final", "reset" and "stop" (the last two: None)
        self._queue: queue.SimpleQueue[tuple[str, list[Message] | None]] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._write, name="sandbox-sqlite", daemon=True)
        self._thread.start()

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        return db

    def load(self) -> list[Message]:
        """Every stored message, in acceptance order."""
        with self._connect() as db:
            return [_message(r) for r in db.execute("SELECT * FROM messages ORDER BY seq")]

    def added(self, messages: list[Message]) -> None:
        self._queue.put(("insert", messages))

    def finalized(self, messages: list[Message]) -> None:
        self._queue.put(("final", messages))

    def reset(self) -> None:
        self._queue.put(("reset", None))

    def close(self) -> None:
        """Write what is queued, then stop the writer."""
        self._queue.put(("stop", None))
        self._thread.join(timeout=30)

    def _write(self) -> None:
        db = self._connect()
        insert = _INSERT
        final = "UPDATE messages SET state = 'final', done_at = ? WHERE message_id = ?"
        while True:
            kind, payload = self._queue.get()
            items: list[tuple[str, Any]] = [(kind, payload)]
            while not self._queue.empty() and len(items) < 200:  # batch into one transaction
                items.append(self._queue.get())
            with db:
                for kind, payload in items:
                    if kind == "insert":
                        db.executemany(insert, [_row(m) for m in payload])
                    elif kind == "final":
                        db.executemany(final, [(m.done_at, m.message_id) for m in payload])
                    elif kind == "reset":
                        db.execute("DELETE FROM messages")
            if any(kind == "stop" for kind, _ in items):
                db.close()
                return
