"""Inbound keywords (docs/INTERFACE.md, "Inbound keywords"): opt-out, opt-in and help.

The first word of the message decides, compared without case (Unicode casefold), without
accents (ARRET matches ARRÊT) and without surrounding punctuation or symbols ("Stop!",
"¡Alto!", "*STOP*"). The lists and the reply texts are settings (HERALD_OPT_OUT_KEYWORDS,
HERALD_OPT_IN_KEYWORDS, HERALD_HELP_KEYWORDS, HERALD_KEYWORD_REPLIES); opt-out wins when a word
is on several lists.
"""

from functools import lru_cache

from django.conf import settings

from core.words import first_word, fold
from infobip.models import KeywordAction

__all__ = ["classify", "first_word", "fold", "reply_text"]


@lru_cache(maxsize=8)
def _table(
    opt_out: tuple[str, ...], opt_in: tuple[str, ...], help_: tuple[str, ...]
) -> dict[str, str]:
    table: dict[str, str] = {}
    # Later lists must not override earlier ones: opt-out first, it is the one that matters.
    for action, words in (
        (KeywordAction.OPT_OUT, opt_out),
        (KeywordAction.OPT_IN, opt_in),
        (KeywordAction.HELP, help_),
    ):
        for word in words:
            key = fold(word)
            if key:
                table.setdefault(key, action.value)
    return table


def classify(text: str) -> str:
    """The KeywordAction value the message's first word asks for ("" when none)."""
    word = first_word(text)
    if not word:
        return KeywordAction.NONE.value
    table = _table(
        tuple(settings.HERALD_OPT_OUT_KEYWORDS),
        tuple(settings.HERALD_OPT_IN_KEYWORDS),
        tuple(settings.HERALD_HELP_KEYWORDS),
    )
    return table.get(word, KeywordAction.NONE.value)


def reply_text(action: str) -> str:
    """The configured confirmation for `action` (empty: no reply is sent)."""
    if not action:
        return ""
    return str(settings.HERALD_KEYWORD_REPLIES.get(action) or "")
