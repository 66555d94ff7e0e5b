"""The sandbox's runtime configuration: lifecycle, outcome mix, WhatsApp reach and faults.

Every option is a CLI flag (`--push-delay 0.5`, `--outcomes delivered=0.9,...`) and a key of
`POST /_sandbox/config` (`{"push_delay": 0.5, "outcomes": {...}}`). Faults are all off by default.
"""

import argparse
import dataclasses
from dataclasses import dataclass, field
from typing import Any

from infobip.sandbox.codes import OUTCOMES


class ConfigError(ValueError):
    """An option value the sandbox cannot use; the message says which and why."""


def _default_outcomes() -> dict[str, float]:
    return {"delivered": 0.9, "undeliverable": 0.05, "expired": 0.03, "rejected": 0.02}


# Options the HTTP control API (POST /_sandbox/config) may not change.
STARTUP_ONLY = frozenset({"allow_remote_push"})


@dataclass
class Config:
    """Options; `seed` makes every per-message decision reproducible."""

    seed: str = "herald"
    # Lifecycle and reports.
    push_delay: float = 2.0  # seconds from acceptance to the final report
    push_jitter: float = 0.5  # each request's delay varies by ±jitter/2 of push_delay
    push_batch: int = 100  # reports per push (Infobip's default bucket size)
    push_workers: int = 4  # fixed at start (the pool is not resized at runtime)
    push_retries: int = 8  # a push that fails is retried this often, after 0.5 s · (1 + n²)
    push_timeout: float = 10.0
    allow_remote_push: bool = False  # only loopback report/inbound URLs unless this is on
    default_report_url: str = ""  # used for messages that carry no report URL
    intermediate: bool = False  # also push an intermediate report at half the delay
    outcomes: dict[str, float] = field(default_factory=_default_outcomes)
    sms_price: float = 0.005
    whatsapp_price: float = 0.04
    # Messages API channels (Viber, RCS…): Infobip's reports of them carry no price, so this
    # shows only in the truth (`GET /_sandbox/messages`), as what Infobip would invoice.
    messages_price: float = 0.02
    currency: str = "EUR"
    # WhatsApp.
    not_on_whatsapp: float = 0.0  # share of numbers that are not on WhatsApp
    seen_rate: float = 0.5  # share of delivered WhatsApp messages that are also "seen"
    enforce_whatsapp_session: bool = False  # free-form text only within 24 h of an inbound
    # Messages API channels: the share of numbers each cannot reach, by Infobip's channel name
    # (`{"RCS": 0.3}`: a phone without RCS; `VIBER_BM`: not on Viber). Reported undeliverable.
    not_on_channel: dict[str, float] = field(default_factory=dict)
    # Faults (drills and tests).
    rate_429: float = 0.0
    retry_after_share: float = 0.5  # share of 429 answers that carry Retry-After
    retry_after_seconds: int = 1
    rate_5xx: float = 0.0
    slow_ms: int = 0
    slow_rate: float = 1.0  # share of requests delayed by slow_ms (when slow_ms > 0)
    drop_after_read: float = 0.0  # accept, then close the connection without answering
    duplicate_pushes: float = 0.0  # share of report pushes sent twice
    shuffle_pushes: bool = False  # reports out of order (finals before intermediates)

    def update(self, values: dict[str, Any], *, at_startup: bool = False) -> None:
        """Apply `values` (option name → value) after checking every one; all or nothing."""
        staged = dataclasses.replace(self, outcomes=dict(self.outcomes))
        known = {f.name: f for f in dataclasses.fields(self)}
        for key, value in values.items():
            if key not in known:
                raise ConfigError(f"unknown option {key!r}")
            if key in STARTUP_ONLY and not at_startup:
                # Whoever can reach the control API must not be able to turn the sandbox
                # into a relay to other hosts: only the person starting it may.
                raise ConfigError(f"{key} can only be set when the sandbox starts")
            setattr(staged, key, _coerce(key, known[key].type, value))
        staged.check()
        self.__dict__.update(staged.__dict__)

    def check(self) -> None:
        """Raise ConfigError when options contradict each other or are out of range."""
        for name in (
            "rate_429",
            "rate_5xx",
            "drop_after_read",
            "duplicate_pushes",
            "not_on_whatsapp",
            "seen_rate",
            "retry_after_share",
            "slow_rate",
            "push_jitter",
        ):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"{name} must be between 0 and 1")
        if self.rate_429 + self.rate_5xx + self.drop_after_read > 1.0:
            raise ConfigError("rate_429 + rate_5xx + drop_after_read must not exceed 1")
        if self.push_delay < 0 or self.slow_ms < 0 or self.push_timeout <= 0:
            raise ConfigError("push_delay, slow_ms must be >= 0 and push_timeout > 0")
        if not 1 <= self.push_batch <= 2000 or not 1 <= self.push_workers <= 64:
            raise ConfigError("push_batch must be 1..2000 and push_workers 1..64")
        if any(not 0.0 <= v <= 1.0 for v in self.not_on_channel.values()):
            raise ConfigError("not_on_channel shares must be between 0 and 1")
        unknown = set(self.outcomes) - set(OUTCOMES)
        if unknown:
            raise ConfigError(f"unknown outcomes {sorted(unknown)}; known: {', '.join(OUTCOMES)}")
        if any(v < 0 for v in self.outcomes.values()) or sum(self.outcomes.values()) <= 0:
            raise ConfigError("outcome shares must be >= 0 and add up to more than 0")

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def parse_outcomes(text: str) -> dict[str, float]:
    """`delivered=0.9,undeliverable=0.1` → {"delivered": 0.9, "undeliverable": 0.1}."""
    out = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        name, sep, share = item.partition("=")
        if not sep:
            raise ConfigError(f"outcome {item!r} is not NAME=SHARE")
        try:
            out[name.strip()] = float(share)
        except ValueError as exc:
            raise ConfigError(f"outcome share {share!r} is not a number") from exc
    return out


def _coerce(key: str, kind: Any, value: Any) -> Any:
    kind = kind if isinstance(kind, str) else getattr(kind, "__name__", str(kind))
    try:
        if key in ("outcomes", "not_on_channel"):
            value = parse_outcomes(value) if isinstance(value, str) else value
            if not isinstance(value, dict):
                raise TypeError
            upper = key == "not_on_channel"  # Infobip's channel names are upper case
            return {(str(k).upper() if upper else str(k)): float(v) for k, v in value.items()}
        if kind == "bool":
            if isinstance(value, str):
                return value.lower() in ("1", "true", "yes", "on")
            return bool(value)
        if kind == "int":
            return int(value)
        if kind == "float":
            return float(value)
        return str(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{key}: {value!r} is not a valid {kind}") from exc


def add_arguments(parser: argparse.ArgumentParser, port: int = 9100) -> None:
    """CLI flags for every option (`python -m infobip.sandbox` and `manage.py sandbox`)."""
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on")
    parser.add_argument("--port", type=int, default=port, help="0 picks a free port")
    parser.add_argument("--api-key", default=None, help="expected key (INFOBIP_SANDBOX_API_KEY)")
    parser.add_argument("--state-db", default=None, help="SQLite file that keeps messages")
    for f in dataclasses.fields(Config):
        flag = "--" + f.name.replace("_", "-")
        kind = f.type if isinstance(f.type, str) else f.type.__name__
        if kind == "bool":
            parser.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction)
        else:
            parser.add_argument(flag, dest=f.name, default=None, metavar=f.name.upper())


def config_from_options(options: dict[str, Any]) -> Config:
    """A Config from parsed CLI options (None = not given)."""
    config = Config()
    names = {f.name for f in dataclasses.fields(Config)}
    config.update(
        {k: v for k, v in options.items() if k in names and v is not None}, at_startup=True
    )
    return config
