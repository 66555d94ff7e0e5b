"""kombu's filesystem transport (the broker of `make run`), with messages published atomically.

kombu's own `_put` creates the message file, then locks and writes it; a worker polling the
folder in between moves the still-empty file away, reads b"" and dies on the JSON (an
"Unrecoverable error" that stops the worker, and with it every `make run` process). Seen when
beat sent six due tasks in the same instant. Here the message is written under a name the
reader ignores (it takes only names ending in `.<queue>.msg`) and renamed into place once
complete: a rename within one folder is atomic, so a reader sees a whole message or none.
"""

from __future__ import annotations

import os
import uuid
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

PARTIAL = ".partial"


class Channel(filesystem.Channel):
    # kombu's own classes disagree on the second argument's name (message / payload): mypy
    # cannot accept either, so the override keeps the filesystem transport's.
    def _put(self, queue: Any, payload: Any, **kwargs: Any) -> None:  # type: ignore[override]
        """Put `payload` onto `queue`: written under a temporary name, then renamed."""
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = final + PARTIAL
        try:
            with open(partial, "wb", buffering=0) as f:
                f.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel
