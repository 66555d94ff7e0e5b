"""Typed errors of the Infobip client: what went wrong, and whether retrying can help.

Infobip answers errors in two envelopes (legacy `requestError.serviceException` and the newer
`errorCode`/`violations`); the client maps both onto these classes, so callers branch on the
type and never on raw bodies. No error ever carries the API key or the request headers.
"""

from collections.abc import Iterable

from infobip.openapi import Violation


class InfobipError(Exception):
    """Base of every error the Infobip client raises."""

    def __init__(
        self,
        description: str,
        *,
        status_code: int | None = None,
        error_code: str | None = None,
        violations: Iterable[Violation] = (),
    ) -> None:
        self.description = description
        self.status_code = status_code
        self.error_code = error_code
        self.violations: list[Violation] = list(violations)
        super().__init__(description)

    def __str__(self) -> str:
        head = " ".join(
            part
            for part in (
                f"HTTP {self.status_code}" if self.status_code is not None else "",
                self.error_code or "",
            )
            if part
        )
        text = f"{head}: {self.description}" if head else self.description
        if self.violations:
            text += " (" + "; ".join(f"{v.property}: {v.violation}" for v in self.violations) + ")"
        return text

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status_code={self.status_code!r}, "
            f"error_code={self.error_code!r}, description={self.description!r})"
        )


class InfobipConfigError(InfobipError, ValueError):
    """The base URL or API key is missing or malformed; nothing was sent."""


class InfobipAuthError(InfobipError):
    """401 (the key is wrong or revoked) or 403 (the key lacks the scope for this endpoint)."""


class InfobipValidationError(InfobipError):
    """400 and other 4xx: the request itself is wrong; repeating it unchanged fails again."""


class InfobipThrottledError(InfobipError):
    """429 after the client's own retries; `retry_after` is Infobip's hint in seconds, if any."""

    def __init__(
        self,
        description: str,
        *,
        retry_after: float | None = None,
        status_code: int | None = None,
        error_code: str | None = None,
        violations: Iterable[Violation] = (),
    ) -> None:
        self.retry_after = retry_after
        super().__init__(
            description, status_code=status_code, error_code=error_code, violations=violations
        )


class InfobipServerError(InfobipError):
    """5xx after the client's own retries: Infobip's side failed."""


class InfobipConnectionError(InfobipError):
    """Infobip could not be reached, or a read-only call failed mid-way: safe to retry.

    For sends this means nothing reached Infobip (DNS, refused, connect timeout, TLS handshake);
    a send that may have reached Infobip raises InfobipOutcomeUnknownError instead.
    """


class InfobipOutcomeUnknownError(InfobipError):
    """The send may have reached Infobip (read timeout, connection dropped after sending).

    Never re-send blindly: reconcile by our messageIds (SMS logs / reports) first.
    """


class InfobipUnexpectedResponseError(InfobipError):
    """Infobip (or whatever answers at the base URL) returned something that is not its API."""


_TRANSIENT = (InfobipThrottledError, InfobipServerError, InfobipConnectionError)


def is_transient(exc: BaseException) -> bool:
    """Whether retrying the same call later can succeed (throttled, 5xx, not connected)."""
    return isinstance(exc, _TRANSIENT)
