"""Print the pinned requirements from pyproject.toml: `runtime`, or `dev` (runtime + dev group).

Herald is an application, not a library: its dependencies are installed, the project itself is
not (no build step, nothing for setuptools to get wrong on a fresh machine).
"""

import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(kind: str) -> None:
    """Write one requirement per line for `kind`."""
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    requirements = list(data["project"]["dependencies"])
    if kind == "dev":
        requirements += data["dependency-groups"]["dev"]
    print("\n".join(requirements))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "runtime")
