"""Pausing Python's cyclic garbage collector around a large API call's work."""

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """No cyclic garbage collection inside the block (reference counting still frees).

    A large body (10,000 contacts, 1,000 events) makes 100,000+ container objects that live for
    the whole call, so the collector's thresholds fire full collections that walk the whole heap
    (Django, DRF, the rows) two or three times per call: a third of the call's Python CPU for
    contacts, a fifth of an events batch's time, and nothing to collect (the rows are not
    garbage yet). The flag is process-wide: only the thread that found it on turns it back on,
    so it ends on however the calls of several threads overlap.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
