"""Words as keywords match them: the first word of a message, folded (case, accents, punctuation).

Shared by inbox (STOP/START/HELP, opt-in keywords), journeys (keyword triggers) and the API's
event filters, so a keyword matches the same way everywhere.
"""

import unicodedata


def fold(word: str) -> str:
    """`word` casefolded, without accents and without leading/trailing punctuation or symbols."""
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    start, end = 0, len(bare)
    while start < end and unicodedata.category(bare[start])[0] in "PSZC":
        start += 1
    while end > start and unicodedata.category(bare[end - 1])[0] in "PSZC":
        end -= 1
    return bare[start:end]


def first_word(text: str) -> str:
    """The first word of `text`, folded (see `fold`); empty when there is none."""
    for word in (text or "").split():
        folded = fold(word)
        if folded:
            return folded
    return ""
