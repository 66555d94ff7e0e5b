"""Errors in a marketer's words (issue 26 #14): the services' reasons carry stable codes
(`INVALID_COUNTRY_CODE: …`) and name command-line flags (`--default-region`), which suit the
errors file, the API and operators; the marketer's pages show them through `in_words`."""

import datetime as dt
import re

# A stable code in front of a reason: "TOO_SHORT: too short" → "too short".
_CODE = re.compile(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+:\s+")
# Whole phrases first (what the phone checks say), then any flag left.
_PHRASES = [
    (
        re.compile(r"national format needs --default-region \(or write it as \+<country code>…\)"),
        "a number written the national way needs its country: choose the country, or write "
        "it with + and the country code",
    ),
    (
        re.compile(
            r"\(read as international digits without \+; a national number needs "
            r"--default-region\)"
        ),
        "(read as an international number without the +: for a national number, choose its "
        "country)",
    ),
]
_FLAGS = {
    "--default-region": "the country",
    "--transactional": "the transactional confirmation",
    "--allow-sequential": "“Accept runs of consecutive numbers” ticked",
}
_FLAG = re.compile(r"--[a-z][a-z-]*")


def in_words(text: object) -> str:
    """The reason without codes or command-line flags, as a sentence fragment."""
    words = str(text)
    for pattern, plain in _PHRASES:
        words = pattern.sub(plain, words)
    words = _CODE.sub("", words)
    return _FLAG.sub(lambda m: _FLAGS.get(m.group(0), "the matching option"), words)


_UNITS = (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1))
# An ISO 8601 duration as the journey engine writes them (PT1H, P1DT30M, P2W).
_ISO_DURATION = re.compile(r"(?<![\w-])-?P(?=\d|T\d)(?:\d+[WD])*(?:T(?:\d+[HMS])+)?(?![\w-])")


def timedelta_words(value: dt.timedelta) -> str:
    """A length of time as people say it: "1 day 1 hour", "30 minutes" ("no time" for 0)."""
    seconds = abs(int(value.total_seconds()))
    parts = []
    for unit, size in _UNITS:
        amount, seconds = divmod(seconds, size)
        if amount:
            parts.append(f"{amount:,} {unit}{'' if amount == 1 else 's'}")
    return " ".join(parts) or "no time"


def durations_in_words(text: object) -> str:
    """The text with each ISO 8601 duration (`PT1H`) said in words ("1 hour")."""
    from journeys.spec import duration_parse

    def words(match: re.Match[str]) -> str:
        parsed = duration_parse(match.group(0))
        return timedelta_words(parsed) if parsed is not None else match.group(0)

    return _ISO_DURATION.sub(words, str(text))
