"""Number checks of an import spread over worker processes (the command's pass 2).

The number checks are the largest part of an import's Python time, and they need nothing but
the text of the phone cell and the default region, so they can run elsewhere while this process
reads the file and writes to the database. Each worker holds its own `PhoneChecker`; batches go
out as lists of phone cells and come back as lists of results, in file order (the importer
consumes them in the order it submitted them), so every warning, rejection and duplicate comes
out exactly as with the checks done in-process.

Workers are started with `spawn`: a forked copy of a process holding a database connection and
Django's state is what must not happen, and `spawn` imports only this module and
contacts.phones (no Django). The pool is for the command line; a Celery prefork child does not
start one (see `ContactImporter`'s `workers`).
"""

import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import TypeVar

from contacts.phones import PhoneChecker, PhoneError

# A result: the PhoneInfo's fields, or (None, reason) for a rejected number.
CheckResult = tuple[str, str, str, str] | tuple[None, str]
T = TypeVar("T")

_checker: PhoneChecker | None = None


def _start(default_region: str | None) -> None:
    global _checker
    _checker = PhoneChecker(default_region)


def check_all(checker: PhoneChecker, raws: list[str]) -> list[CheckResult]:
    """`checker.check` of every non-empty cell, as picklable tuples ('' → (None, ''))."""
    results: list[CheckResult] = []
    append = results.append
    check = checker.check
    for raw in raws:
        if not raw:
            append((None, ""))
            continue
        try:
            info = check(raw)
        except PhoneError as exc:
            append((None, str(exc)))
            continue
        append((info.e164, info.country, info.timezone, info.warning))
    return results


def _check_in_worker(raws: list[str]) -> list[CheckResult]:
    assert _checker is not None, "the pool's initializer sets the checker"
    return check_all(_checker, raws)


def default_workers() -> int:
    """Worker processes for the command: the cores but two, at most four.

    This process and PostgreSQL keep one core each busy already; on 2 cores a worker showed
    no gain and ~5-13 us more CPU a row (bench/HISTORY.md, "The pool in the command").
    """
    return max(0, min((os.cpu_count() or 1) - 2, 4))


class CheckPool:
    """A pool of checker processes; `checked()` pairs each batch with its results, in order."""

    def __init__(self, workers: int, default_region: str | None) -> None:
        self.workers = workers
        self._executor = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start,
            initargs=(default_region,),
        )
        # Start every worker now (they import phonenumbers while pass 1 reads the file).
        for _ in range(workers):
            self._executor.submit(_check_in_worker, [])

    def checked(
        self, batches: Iterable[T], phones: Callable[[T], list[str]]
    ) -> Iterator[tuple[T, list[CheckResult]]]:
        """(batch, results) for every batch, in order, with a few batches checked ahead."""
        ahead: deque[tuple[T, Future[list[CheckResult]]]] = deque()
        limit = self.workers * 2 + 1  # keeps every worker busy while this process writes
        for batch in batches:
            ahead.append((batch, self._executor.submit(_check_in_worker, phones(batch))))
            if len(ahead) >= limit:
                done, future = ahead.popleft()
                yield done, future.result()
        while ahead:
            done, future = ahead.popleft()
            yield done, future.result()

    def close(self) -> None:
        """Stop the workers (queued batches are dropped: on an error nothing more is needed)."""
        self._executor.shutdown(wait=True, cancel_futures=True)
