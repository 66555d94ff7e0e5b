"""Pass 1 of an import: check every row's structure and analyse the numbers, writing nothing.

Memory: one 8-byte key per row (SequenceKeyer), kept for pass 2, plus a sorted copy while
analysing — 16 MB per million rows at the peak — and a dict of the numbers that occur more than
once.
"""

import heapq
from array import array
from dataclasses import dataclass
from typing import BinaryIO

from contacts import csvfile
from contacts.csvfile import ImportFileError, Layout
from contacts.phones import SequenceKeyer

SEQUENTIAL_LIMIT = 250  # this many numbers in consecutive runs make a file suspicious…
SEQUENTIAL_MIN_RUN = 10  # …counting runs of at least this length (neighbours happen by chance)
_NO_KEY = -1
_SORT_CHUNK = 1 << 16


class SequentialNumbersError(ImportFileError):
    """The file looks generated (runs of consecutive numbers); needs allow_sequential."""


@dataclass
class Survey:
    """What pass 1 learnt: row count, the spam-guard figures, where duplicates end."""

    rows: int
    sequential: int
    longest_run: tuple[int, int]  # (length, first key)
    last_row: dict[int, int]  # key of a number occurring twice or more → its last row number
    keys: "array[int]"  # every data row's key (_NO_KEY when none), so pass 2 need not key again


def survey_file(
    fh: BinaryIO, layout: Layout, keyer: SequenceKeyer, *, allow_sequential: bool
) -> Survey:
    """Check every row (too many cells, malformed quoting, no data) and key every number."""
    keys = array("q")
    has_data = False
    width, phone = layout.width, layout.phone
    for rownum, row in csvfile.iter_rows(fh, layout):
        if len(row) > width and any(cell.strip() for cell in row[width:]):
            raise ImportFileError(
                f"row {rownum}: {len(row)} columns but the header has {width} "
                f"(delimiter {layout.delimiter!r}; quote cells that contain it)"
            )
        key = keyer.key(row[phone]) if phone < len(row) else None
        keys.append(_NO_KEY if key is None else key)
        if not has_data and any(cell.strip() for cell in row):
            has_data = True
    if not has_data:
        raise ImportFileError("the file has a header row but no data rows")
    sequential, longest, duplicates = analyse_keys(array("q", (k for k in keys if k != _NO_KEY)))
    if sequential >= SEQUENTIAL_LIMIT and not allow_sequential:
        length, first = longest
        raise SequentialNumbersError(
            f"{sequential} numbers form runs of consecutive numbers (longest: {length} from "
            f"+{first}); this looks like a generated list. If it is genuine, import with "
            "--allow-sequential"
        )
    last_row: dict[int, int] = {}
    if duplicates:
        for index, key in enumerate(keys):
            if key in duplicates:
                last_row[key] = index + 2  # row 1 is the header
    return Survey(len(keys), sequential, longest, last_row, keys)


def analyse_keys(keys: "array[int]") -> tuple[int, tuple[int, int], set[int]]:
    """(numbers in consecutive runs ≥ SEQUENTIAL_MIN_RUN, longest run, keys seen twice or more).

    Sorts `keys` in place in chunks and merges them lazily: the extra memory is one chunk.
    """
    for start in range(0, len(keys), _SORT_CHUNK):
        keys[start : start + _SORT_CHUNK] = array("q", sorted(keys[start : start + _SORT_CHUNK]))
    view = memoryview(keys)
    chunks = (view[start : start + _SORT_CHUNK] for start in range(0, len(keys), _SORT_CHUNK))
    sequential, longest, duplicates = 0, (0, 0), set()
    previous, run_start, run_length = None, 0, 0
    for key in heapq.merge(*chunks):
        if key == previous:
            duplicates.add(key)
            continue
        if previous is not None and key == previous + 1:
            run_length += 1
        else:
            if run_length >= SEQUENTIAL_MIN_RUN:
                sequential += run_length
            longest = max(longest, (run_length, run_start))
            run_start, run_length = key, 1
        previous = key
    if run_length >= SEQUENTIAL_MIN_RUN:
        sequential += run_length
    longest = max(longest, (run_length, run_start))
    return sequential, longest, duplicates
