"""The vendored OpenAPI documents and example copies are Infobip's, byte for byte."""

import hashlib
import re
from pathlib import Path

import pytest

from infobip.openapi import PRODUCTS, SPEC_DIR
from tests.infobip.conftest import EXAMPLES

SHARED = Path(__file__).resolve().parents[3] / "shared" / "infobip-openapi"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("name", sorted(PRODUCTS.values()))
def test_vendored_spec_matches_the_checksum_in_sources_md(name: str) -> None:
    sources = (SPEC_DIR / "SOURCES.md").read_text()
    match = re.search(rf"\| {re.escape(name)} \|.*\| ([0-9a-f]{{64}}) \|", sources)
    assert match, f"{name} is not listed in SOURCES.md"
    assert _sha256(SPEC_DIR / name) == match.group(1)


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/infobip-openapi is not on this machine")
@pytest.mark.parametrize("name", sorted(PRODUCTS.values()))
def test_vendored_spec_is_identical_to_the_shared_copy(name: str) -> None:
    assert _sha256(SPEC_DIR / name) == _sha256(SHARED / name)


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/infobip-openapi is not on this machine")
def test_example_copies_are_identical_to_the_shared_examples() -> None:
    copies = sorted(EXAMPLES.glob("*.json"))
    assert copies
    for copy in copies:
        assert _sha256(copy) == _sha256(SHARED / "examples" / copy.name), copy.name
