"""Helpers for the contacts tests: write CSV files, run the import command."""

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from django.core.management import call_command

FIXTURES = Path(__file__).parent / "fixtures"


def parse_summary(line: str) -> dict[str, str]:
    """`created=1 updated=0 …` → {"created": "1", …}."""
    return dict(part.split("=", 1) for part in line.split())


@pytest.fixture
def write_csv(tmp_path: Path) -> Callable[..., Path]:
    """Write rows (lists of cells) or raw text/bytes as a CSV file in tmp_path."""
    counter = iter(range(10_000))

    def write(content, *, delimiter: str = ",", bom: bool = False, name: str = "") -> Path:
        path = tmp_path / (name or f"contacts-{next(counter)}.csv")
        if isinstance(content, bytes):
            path.write_bytes(content)
            return path
        if isinstance(content, str):
            text = content
        else:
            buffer = io.StringIO()
            csv.writer(buffer, delimiter=delimiter, lineterminator="\n").writerows(content)
            text = buffer.getvalue()
        path.write_bytes(("\ufeff" if bom else "").encode() + text.encode("utf-8"))
        return path

    return write


class ImportRun:
    def __init__(self, stdout: str, stderr: str) -> None:
        self.stdout, self.stderr = stdout, stderr
        last = stdout.strip().splitlines()[-1]
        self.counts = json.loads(last) if last.startswith("{") else parse_summary(last)

    def __getitem__(self, key: str) -> int:
        return int(self.counts[key])


@pytest.fixture
def run_import() -> Callable[..., ImportRun]:
    """Run `import_contacts` in-process; returns the parsed summary and the output."""

    def run(path: Path, *args: str) -> ImportRun:
        out, err = io.StringIO(), io.StringIO()
        call_command("import_contacts", str(path), *args, stdout=out, stderr=err)
        return ImportRun(out.getvalue(), err.getvalue())

    return run


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings) -> None:
    # admin_client creates a superuser per test; the default hasher makes that take 0.3 s.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
