"""`make run`'s filesystem broker publishes a message whole: a worker never reads a half-file."""

import os

from kombu import Connection

from core import broker


def _connection(folder):
    options = {
        "data_folder_in": str(folder),
        "data_folder_out": str(folder),
        "control_folder": str(folder / "control"),
    }
    return Connection("filesystem://", transport=broker.Transport, transport_options=options)


def test_a_message_appears_only_once_written_and_is_read_whole(tmp_path, monkeypatch):
    seen_during_write: list[list[str]] = []
    replace = os.replace

    def watching_replace(src, dst):
        # The moment before the rename: what a polling worker would find in the folder.
        seen_during_write.append(sorted(os.listdir(tmp_path)))
        replace(src, dst)

    monkeypatch.setattr(broker.os, "replace", watching_replace)
    with _connection(tmp_path) as conn:
        queue = conn.SimpleQueue("herald-test")
        queue.put({"task": "core.tasks.heartbeat"})
        # Until the rename, nothing a reader takes (names ending in .<queue>.msg) is there.
        assert len(seen_during_write) == 1
        assert not [n for n in seen_during_write[0] if n.endswith(".msg")]
        assert [n for n in os.listdir(tmp_path) if n.endswith(".herald-test.msg")]
        message = queue.get(timeout=1)
        assert message.payload == {"task": "core.tasks.heartbeat"}
        message.ack()
        queue.close()
