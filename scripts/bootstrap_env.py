"""Write a development `.env` for `make run` on first start: DEBUG on, generated secrets.

An existing `.env` is kept; only the generated secrets it lacks are appended, so an operator's
own settings (real Infobip credentials, DATABASE_URL, ...) are never overwritten.
"""

import secrets
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENV_FILE = ROOT / ".env"


def _defined(lines: list[str]) -> set[str]:
    return {
        line.split("=", 1)[0].strip() for line in lines if "=" in line and not line.startswith("#")
    }


def main(env_file: Path = ENV_FILE) -> None:
    """Create or complete `.env` with DEBUG, SECRET_KEY and INFOBIP_WEBHOOK_TOKEN."""
    existing = env_file.read_text().splitlines() if env_file.exists() else []
    defined = _defined(existing)
    wanted = {
        "DEBUG": "true",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "INFOBIP_WEBHOOK_TOKEN": secrets.token_urlsafe(24),
    }
    added = [f"{key}={value}" for key, value in wanted.items() if key not in defined]
    if not added:
        print(".env: present, nothing to add")
        return
    header = (
        [] if existing else ["# Written by `make run` for local development; see .env.example."]
    )
    env_file.write_text("\n".join([*existing, *header, *added]) + "\n")
    env_file.chmod(0o600)
    names = ", ".join(line.split("=", 1)[0] for line in added)
    print(f".env: added {names} (secrets generated, not shown)")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ENV_FILE)
