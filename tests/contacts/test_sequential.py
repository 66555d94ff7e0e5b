"""The spam guard: a file of ≥250 consecutive numbers needs --allow-sequential."""

import random

import pytest
from django.core.management import CommandError

from contacts.models import Contact, ContactList
from contacts.survey import analyse_keys

pytestmark = pytest.mark.django_db


def _sequential(count: int, start: int = 10_000_000) -> list[str]:
    return [f"+4474{start + i:08d}" for i in range(count)]


def _scattered(count: int) -> list[str]:
    return [f"+4475{(i * 7919) % 10**8:08d}" for i in range(1, count + 1)]


def test_250_sequential_numbers_are_refused_and_nothing_written(write_csv, run_import) -> None:
    path = write_csv([["phone"], *([p] for p in _sequential(250))])
    with pytest.raises(CommandError) as excinfo:
        run_import(path, "--list", "Spam")
    assert "250 numbers form runs of consecutive numbers" in str(excinfo.value)
    assert "longest: 250 from +447410000000" in str(excinfo.value)
    assert "--allow-sequential" in str(excinfo.value)
    assert not Contact.objects.exists()
    assert not ContactList.objects.exists()


def test_249_sequential_numbers_are_accepted(write_csv, run_import) -> None:
    path = write_csv([["phone"], *([p] for p in _sequential(249))])
    assert run_import(path)["created"] == 249


def test_allow_sequential_imports_them(write_csv, run_import) -> None:
    path = write_csv([["phone"], *([p] for p in _sequential(300))])
    assert run_import(path, "--allow-sequential")["created"] == 300


def test_shuffled_mixed_format_runs_across_batches_are_caught(write_csv, run_import) -> None:
    # 25 runs of 10, in national and international format, shuffled among 2,000 other numbers.
    numbers = [n for r in range(25) for n in _sequential(10, start=20_000_000 + r * 1000)]
    numbers = [("0" + n[3:]) if i % 2 else n for i, n in enumerate(numbers)]
    rows = numbers + _scattered(2000)
    random.Random(4).shuffle(rows)
    path = write_csv([["phone"], *([p] for p in rows)])
    with pytest.raises(CommandError, match="250 numbers form runs"):
        run_import(path, "--default-region", "GB", "--batch-size", "100")


def test_short_runs_and_duplicates_do_not_count(write_csv, run_import) -> None:
    # 60 runs of 9 (540 numbers next to a neighbour) are what large real lists contain by chance.
    numbers = [n for r in range(60) for n in _sequential(9, start=30_000_000 + r * 100)]
    path = write_csv([["phone"], *([p] for p in numbers + numbers[:50])])
    run = run_import(path, "--json")
    assert (run["created"], run["duplicates"], run["sequential"]) == (540, 50, 0)


def test_analyse_keys_across_sort_chunks() -> None:
    from array import array

    keys = array("q", range(0, 300_000, 2))  # no neighbours at all
    keys.extend(range(1_000_000, 1_000_300))  # one run of 300
    keys.extend([5, 5, 77])  # a duplicate, and 77 makes a run of 3 (76, 77, 78): too short
    shuffled = list(keys)
    random.Random(1).shuffle(shuffled)
    sequential, longest, duplicates = analyse_keys(array("q", shuffled))
    assert (sequential, longest, duplicates) == (300, (300, 1_000_000), {5})
