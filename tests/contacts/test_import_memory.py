"""A 100k-row import on PostgreSQL keeps its memory flat: peak RSS measured, not time."""

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from contacts.models import Contact

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def _write(path: Path, rows: int, prefix: str) -> Path:
    # Spread-out valid mobiles (no consecutive runs), a few duplicates, some attributes.
    with path.open("w", encoding="utf-8") as fh:
        fh.write("phone,first_name,last_name,language,tier,city\n")
        for i in range(rows):
            n = (i * 7919) % 10**8
            phone = f"{prefix}{n:08d}" if i % 2 else f"0{prefix[3:]}{n:08d}"
            fh.write(f"{phone},First{i},Last{i},en,{'abc'[i % 3]},City{i % 97}\n")
    return path


# The child reports its own high-water mark (VmHWM). Not ru_maxrss: Linux carries the forking
# parent's RSS over into the child's ru_maxrss, so it would measure pytest, not the import.
_REPORT_HWM = """
import atexit, os, runpy, sys
def report():
    status = open("/proc/self/status").read().split("VmHWM:")[1]
    open(os.environ["HWM_FILE"], "w").write(status.split()[0])
atexit.register(report)
sys.argv = ["manage.py", *sys.argv[1:]]
runpy.run_path("manage.py", run_name="__main__")
"""


def _import(path: Path, env: dict[str, str]) -> tuple[dict, int, float]:
    """Run import_contacts in a child process; → (result, its peak RSS in KiB, seconds)."""
    hwm = path.with_suffix(".hwm")
    started = time.monotonic()
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            _REPORT_HWM,
            "import_contacts",
            "--skip-checks",
            str(path),
            "--default-region",
            "GB",
            "--list",
            path.stem,
            "--json",
        ],
        cwd=ROOT,
        env={**env, "HWM_FILE": str(hwm)},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1]), int(hwm.read_text()), elapsed


def test_peak_memory_of_100k_rows_is_that_of_10k(integration_env, transactional_db, tmp_path):
    small, small_rss, _ = _import(_write(tmp_path / "small.csv", 10_000, "+4475"), integration_env)
    big, big_rss, seconds = _import(_write(tmp_path / "big.csv", 100_000, "+4474"), integration_env)
    assert (small["created"], small["rejected"]) == (10_000, 0)
    assert (big["created"], big["rejected"], big["listed"]) == (100_000, 0, 100_000)
    assert Contact.objects.count() == 110_000
    print(
        f"\nimport peak RSS: 10k rows {small_rss / 1024:.0f} MiB, 100k rows "
        f"{big_rss / 1024:.0f} MiB; 100k rows in {seconds:.1f}s "
        f"({100_000 / seconds:,.0f} rows/s, informational)"
    )
    assert big_rss < small_rss + 30 * 1024
