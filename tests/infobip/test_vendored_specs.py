"""The vendored OpenAPI documents and the example copies are Infobip's, byte for byte.

Both are pinned by checksums kept in the repo (infobip/openapi/SOURCES.md and
tests/fixtures/infobip_examples/SHA256SUMS, taken when they were copied), so the tests never
need the source folder beside the repo.
"""

import hashlib
import re
from pathlib import Path

import pytest

from infobip.openapi import PRODUCTS, SPEC_DIR
from tests.fixtures.examples import EXAMPLES


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("name", sorted(PRODUCTS.values()))
def test_vendored_spec_matches_the_checksum_in_sources_md(name: str) -> None:
    sources = (SPEC_DIR / "SOURCES.md").read_text()
    match = re.search(rf"\| {re.escape(name)} \|.*\| ([0-9a-f]{{64}}) \|", sources)
    assert match, f"{name} is not listed in SOURCES.md"
    assert _sha256(SPEC_DIR / name) == match.group(1)


def test_example_copies_match_their_checksums() -> None:
    sums = dict(
        reversed(line.split()) for line in (EXAMPLES / "SHA256SUMS").read_text().splitlines()
    )
    copies = sorted(p.name for p in EXAMPLES.glob("*.json"))
    assert copies
    assert copies == sorted(sums)
    for name in copies:
        assert _sha256(EXAMPLES / name) == sums[name], name
