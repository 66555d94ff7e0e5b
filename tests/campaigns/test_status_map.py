"""docs/HOW_IT_WORKS.md's status table is what campaigns/status_map.py does."""

import re
from pathlib import Path

import pytest

from campaigns.status_map import resend_allowed, state_for_status
from infobip.types import MessageError, Status

DOC = Path(__file__).resolve().parents[2] / "docs" / "HOW_IT_WORKS.md"


def _rows() -> list[tuple[str, str, str]]:
    text = DOC.read_text()
    section = text.split("## Infobip status → Herald state", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0][:1].isdigit():
            rows.append((cells[0], cells[1], cells[2]))
    return rows


def _statuses(group_cell: str, examples: str) -> list[Status]:
    group = int(group_cell.split()[0])
    name = group_cell.split()[1]
    found = re.findall(r"`([A-Z_]+)`(?: \((\d+)\))?", examples)
    only_id = re.search(r"status id (\d+)", group_cell)
    return [
        Status(group, name, int(i) if i else (int(only_id[1]) if only_id else None), n, "")
        for n, i in found
    ]


@pytest.mark.parametrize("row", _rows(), ids=lambda r: r[0])
def test_every_documented_status_maps_to_the_documented_state(row) -> None:
    group_cell, examples, state = row
    statuses = _statuses(group_cell, examples)
    assert statuses, row
    expected = state.split()[0].strip("`")
    for status in statuses:
        assert state_for_status(status) == expected, status


def test_the_table_covers_every_group() -> None:
    assert {int(r[0].split()[0]) for r in _rows()} == {0, 1, 2, 3, 4, 5}


def test_unknown_groups_keep_waiting_and_permanent_errors_block_resend() -> None:
    assert state_for_status(Status(9, "NEW_GROUP", 99, "SOMETHING", "")) == "accepted"
    permanent = MessageError(1, "HANDSET_ERRORS", 1, "EC_UNKNOWN_SUBSCRIBER", "", True)
    assert not resend_allowed(permanent)
    assert resend_allowed(MessageError(3, "OPERATOR_ERRORS", 5, "EC_X", "", False))
