"""Bad files: a clear message, a non-zero exit, and nothing written (not even the list)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from contacts.csvfile import ImportFileError
from contacts.models import Contact, ContactList
from contacts.services import contacts_import

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
GOOD_ROWS = "".join(f"+4474001234{i:02d},Name{i}\n" for i in range(20))
# The faulty byte comes right after these: line 22 (header + 20 rows + 1), offset = length.
LATIN1_PREFIX = ("phone,first_name\n" + GOOD_ROWS + "+447400123499,Ren").encode()
NUL_PREFIX = ("phone,first_name\n" + GOOD_ROWS * 30 + "+447400123499,A").encode()

BAD_FILES = {
    "missing phone column": (
        b"name,email\nAnn,ann@example.com\n",
        "no phone column: the header row must have a 'phone' column, or a column mapped to the "
        "phone number (found 'name', 'email')",
    ),
    "not utf-8": (
        # Not UTF-8, and not Windows-1252 either (0x81 is undefined there): refused.
        LATIN1_PREFIX + b"\xe9e\x81\n",
        f"not UTF-8: invalid byte 0xE9 at byte offset {len(LATIN1_PREFIX)} (line 22); "
        "save the file as CSV UTF-8",
    ),
    "empty file": (b"", "the file is empty"),
    "only blank lines and a BOM": (b"\xef\xbb\xbf\r\n\r\n  \n", "the file is empty"),
    "header only": (b"phone,first_name\n", "the file has a header row but no data rows"),
    "binary file": (
        bytes(range(256)) * 4,
        "binary file (it contains NUL bytes): not a CSV",
    ),
    "NUL byte late in the file": (
        NUL_PREFIX + b"\x00\n",
        f"NUL byte at byte offset {len(NUL_PREFIX)} (line 602): not a CSV",
    ),
    "spreadsheet": (b"PK\x03\x04\x14\x00\x06\x00" + b"x" * 100, "this is a spreadsheet"),
    "utf-32": ("phone\n+447400123456\n".encode("utf-32"), "UTF-32 encoded"),
    "too many columns": (
        ("phone,first_name\n" + GOOD_ROWS + "+447400123499,Ann,Lee,extra\n").encode(),
        "row 22: 4 columns but the header has 2 (delimiter ','; quote cells that contain it)",
    ),
    "unbalanced quote": (
        ('phone,first_name\n+447400123456,"Ann\n' + GOOD_ROWS).encode(),
        "malformed CSV (unexpected end of data)",
    ),
    "duplicate column": (
        b"phone,First Name,first_name\n+447400123456,A,B\n",
        "columns 2 and 3 are both 'first_name': rename or ignore one of them",
    ),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_file_is_refused_with_a_clear_message_and_nothing_written(
    case, write_csv, tmp_path
) -> None:
    content, message = BAD_FILES[case]
    path = write_csv(content)
    errors = tmp_path / "errors.csv"
    with pytest.raises(CommandError) as excinfo:
        call_command("import_contacts", str(path), "--list", "Promo", "--errors", str(errors))
    assert message in str(excinfo.value)
    assert str(excinfo.value).startswith(f"{path}: ")
    assert not Contact.objects.exists()
    assert not ContactList.objects.exists()
    assert not errors.exists()


def test_too_many_columns_tolerates_trailing_empty_cells(write_csv) -> None:
    path = write_csv(b"phone,first_name\n+447400123456,Ann,,\n")
    assert contacts_import(source=path).created == 1


def test_missing_file_and_bad_options_are_refused(write_csv, tmp_path) -> None:
    with pytest.raises(CommandError, match="no such file"):
        call_command("import_contacts", str(tmp_path / "missing.csv"))
    path = write_csv([["phone"], ["07400 123456"]])
    with pytest.raises(CommandError, match="unknown region 'XX'"):
        call_command("import_contacts", str(path), "--default-region", "XX")
    with pytest.raises(CommandError, match="does not exist"):
        call_command("import_contacts", str(path), "--errors", str(tmp_path / "no" / "e.csv"))
    assert not Contact.objects.exists()


def test_text_mode_file_object_is_refused() -> None:
    import io

    with pytest.raises(ImportFileError, match="binary mode"):
        contacts_import(source=io.StringIO("phone\n+447400123456\n"))


def test_command_exits_non_zero_with_the_message_on_stderr(write_csv) -> None:
    path = write_csv(b"name\nAnn\n")
    env = {**os.environ, "HERALD_READ_DOTENV": "false"}  # the bad file is refused before any query
    result = subprocess.run(
        [sys.executable, "manage.py", "import_contacts", "--skip-checks", str(path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "no phone column" in result.stderr
    assert result.stdout == ""
