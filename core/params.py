"""Reading numbers from query strings and form fields without ever raising.

`str.isdigit()` accepts `²` and other numerals that `int()` refuses, and a number can be far
outside any column's range: both used to turn a hostile query parameter into a 500.
"""

import re

_DIGITS = re.compile(r"[0-9]{1,19}")
BIGINT_MAX = 2**63 - 1


def param_int(value: object, *, minimum: int = 0, maximum: int = BIGINT_MAX) -> int | None:
    """The ASCII whole number in `value` if it lies in [minimum, maximum], else None."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    if not _DIGITS.fullmatch(value):
        return None
    number = int(value)
    return number if minimum <= number <= maximum else None
