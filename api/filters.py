"""Query filters of the list calls: an unknown value is a 400 naming the parameter.

An empty list for `state=delivred` looks like an answer; it is a typo. Each filter with a
closed set of values says which it takes.
"""

from collections.abc import Iterable

from rest_framework.request import Request

from api.errors import ApiError


def choice_filter(request: Request, name: str, choices: Iterable[str]) -> str | None:
    """The value of filter `name` (None when absent); ApiError naming it when not a choice."""
    value = request.query_params.get(name)
    if value is None:
        return None
    allowed = list(choices)
    if value not in allowed:
        message = f"unknown value {value[:50]!r}; use one of {', '.join(allowed)}"
        raise ApiError(f"{name}: {message}", fields={name: [message]})
    return value


def bool_filter(request: Request, name: str) -> bool | None:
    """`true` / `false` (None when absent); ApiError naming the filter otherwise."""
    value = choice_filter(request, name, ("true", "false"))
    return None if value is None else value == "true"
