"""The only code that talks to Infobip: one method per endpoint Herald uses.

One pooled `requests.Session` per client, a (connect, read) timeout on every call, and urllib3
retries with exponential backoff and jitter for what is safe to repeat: connection failures
before anything was sent, 429 and 5xx answers, and read failures of GETs. A send that may have
reached Infobip (read timeout, connection dropped mid-answer, gateway 502/504) is never re-sent:
it raises InfobipOutcomeUnknownError so the caller reconciles by its own messageIds.
"""

import logging
import os
import random
import re
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import takewhile
from typing import Any
from urllib.parse import quote, urlsplit

import orjson
import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    InvalidHeader,
    MaxRetryError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    ResponseError,
)
from urllib3.exceptions import SSLError as Urllib3SSLError
from urllib3.util.retry import Retry

from core.logging import mask
from infobip.bodies import (
    inbound_configuration_body,
    messages_api_request_body,
    sms_request_body,
    whatsapp_buttons_request_body,
    whatsapp_image_request_body,
    whatsapp_template_request_body,
    whatsapp_text_request_body,
)
from infobip.errors import (
    InfobipAuthError,
    InfobipConfigError,
    InfobipConnectionError,
    InfobipError,
    InfobipOutcomeUnknownError,
    InfobipServerError,
    InfobipThrottledError,
    InfobipUnexpectedResponseError,
    InfobipValidationError,
)
from infobip.openapi import Violation
from infobip.types import (
    DeliveryReport,
    InboundConfiguration,
    InboundSms,
    MessagesApiMessage,
    SendResult,
    SentMessage,
    SmsLog,
    SmsMessage,
    SmsPreview,
    WhatsAppTemplateMessage,
)

logger = logging.getLogger(__name__)

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
INBOUND_CONFIGURATIONS = "/resource-management/1/inbound-message-configurations"
PAGE_MAX = 1000  # Infobip's maximum `limit` on every pull endpoint
ID_LIST_MAX_CHARS = 2048  # `/sms/3/logs?messageId=a,b,c` accepts at most this many characters
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
GATEWAY_STATUSES = frozenset({502, 504})  # answered by a proxy: the backend may have the request
RETRY_STATUSES = frozenset({429, *range(500, 600)})
_HOST_RE = re.compile(r"[a-z0-9]([a-z0-9.-]*[a-z0-9])?|[0-9a-f:]+")


def normalise_base_url(url: str) -> str:
    """`https://host[:port][/path]` from what an operator typed; http only for loopback fakes."""
    text = (url or "").strip()
    if not text:
        raise InfobipConfigError("the Infobip base URL is empty (set INFOBIP_BASE_URL)")
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    try:
        port = parts.port
    except ValueError as exc:
        raise InfobipConfigError(f"the Infobip base URL has an invalid port: {url!r}") from exc
    if scheme not in ("http", "https") or not _HOST_RE.fullmatch(host):
        raise InfobipConfigError(
            f"the Infobip base URL {url!r} is not a URL like xxxxx.api.infobip.com"
        )
    if parts.username or parts.password or parts.query or parts.fragment:
        raise InfobipConfigError(
            "the Infobip base URL must not carry credentials, a query or a fragment"
        )
    if scheme == "http" and host not in LOOPBACK_HOSTS:
        # The key travels in a header: plain HTTP is only acceptable for fakes on this machine.
        raise InfobipConfigError(
            f"the Infobip base URL {url!r} uses plain http; use https:// "
            "(http is accepted only for local fakes on 127.0.0.1 / localhost)"
        )
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    return f"{scheme}://{netloc}{parts.path.rstrip('/')}"


class InfobipRetry(Retry):
    """urllib3 Retry that never repeats a non-idempotent request Infobip may have received.

    Connection errors (nothing sent) are retried for every method, 429/5xx answers too, except
    gateway 502/504 on a POST. Read errors are retried for GETs only. The backoff grows
    exponentially from the first retry with uniform jitter; a Retry-After up to
    `max_retry_after` seconds is waited for, a longer one ends the retries so the caller can
    reschedule instead of blocking a worker.
    """

    def __init__(self, *args: Any, max_retry_after: float = 30.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_retry_after = max_retry_after

    def new(self, **kw: Any) -> "InfobipRetry":
        kw.setdefault("max_retry_after", self.max_retry_after)
        return super().new(**kw)

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        if method.upper() not in IDEMPOTENT_METHODS and status_code in GATEWAY_STATUSES:
            return False
        return super().is_retry(method, status_code, has_retry_after)

    def get_retry_after(self, response: Any) -> float | None:
        try:
            return super().get_retry_after(response)
        except InvalidHeader:
            return None

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: Any = None,
        error: Exception | None = None,
        _pool: Any = None,
        _stacktrace: Any = None,
    ) -> "InfobipRetry":
        unsafe = (method or "").upper() not in IDEMPOTENT_METHODS
        if error is not None and unsafe and not self._is_connection_error(error):
            # The request may have been sent: re-raise so the client reports "outcome unknown".
            raise error.with_traceback(_stacktrace)
        if response is not None and self.respect_retry_after_header:
            wait = self.get_retry_after(response)
            if wait is not None and wait > self.max_retry_after:
                raise MaxRetryError(_pool, url, ResponseError(f"Retry-After {wait:.0f}s"))
        return super().increment(method, url, response, error, _pool, _stacktrace)

    def get_backoff_time(self) -> float:
        consecutive = len(
            list(takewhile(lambda h: h.redirect_location is None, reversed(self.history)))
        )
        if consecutive == 0:
            return 0.0
        value = self.backoff_factor * (2 ** (consecutive - 1))
        if self.backoff_jitter:
            value += random.random() * self.backoff_jitter
        return float(max(0.0, min(self.backoff_max, value)))


class _Secret:
    """A string that shows only masked in reprs, `vars()` and debug pages."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def __repr__(self) -> str:
        return repr(mask(self.value))

    __str__ = __repr__


class _AppKeyAuth(requests.auth.AuthBase):
    """`Authorization: App <key>` on every request; the key never shows in a repr."""

    def __init__(self, key: _Secret) -> None:
        self._key = key

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"App {self._key.value}"
        return request

    def __repr__(self) -> str:
        return f"<App {self._key}>"


class InfobipClient:
    """Typed access to the Infobip endpoints Herald uses (see docs/INFOBIP.md)."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        max_retries: int = 3,
        backoff_factor: float = 0.5,
        max_retry_after: float = 30.0,
    ) -> None:
        self.base_url = normalise_base_url(base_url)
        if not (api_key or "").strip():
            raise InfobipConfigError("the Infobip API key is empty (set INFOBIP_API_KEY)")
        self._api_key = _Secret(api_key.strip())
        self.timeout = (float(connect_timeout), float(read_timeout))
        retry = InfobipRetry(
            total=max_retries,
            connect=max_retries,
            read=max_retries,
            status=max_retries,
            other=max_retries,
            redirect=0,
            allowed_methods=None,
            status_forcelist=RETRY_STATUSES,
            backoff_factor=backoff_factor,
            backoff_jitter=backoff_factor,
            backoff_max=max(max_retry_after, backoff_factor),
            raise_on_status=False,
            raise_on_redirect=False,
            respect_retry_after_header=True,
            max_retry_after=max_retry_after,
        )
        self._session = requests.Session()
        self._session.auth = _AppKeyAuth(self._api_key)
        self._session.headers.update({"Accept": "application/json", "User-Agent": "Herald"})
        adapter = HTTPAdapter(max_retries=retry, pool_connections=1, pool_maxsize=16)
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)

    def __repr__(self) -> str:
        return f"InfobipClient(base_url={self.base_url!r}, api_key={self._api_key})"

    def close(self) -> None:
        """Close the pooled connections."""
        self._session.close()

    # --- SMS ---------------------------------------------------------------------------------

    def send_sms(
        self,
        messages: Sequence[SmsMessage],
        *,
        bulk_id: str | None = None,
        tracking: dict[str, Any] | None = None,
        include_sms_count: bool = True,
        conversion_tracking: bool = False,
    ) -> SendResult:
        """Send SMS in one POST /sms/3/messages; identical messages share one entry."""
        if not messages:
            return SendResult(bulk_id=bulk_id, messages=[])
        body = sms_request_body(
            messages,
            bulk_id=bulk_id,
            tracking=tracking,
            include_sms_count=include_sms_count,
            conversion_tracking=conversion_tracking,
        )
        data = self._request("POST", "/sms/3/messages", body=body, send=True)
        return SendResult.from_dict(_send_envelope(data))

    def log_conversion(self, message_id: str) -> str:
        """Tell Infobip a tracked SMS converted (POST /ct/1/log/end/{messageId}); its processKey.

        A state change at Infobip: an answer lost on the way raises InfobipOutcomeUnknownError
        (the caller does not repeat it), a 429/5xx is retried like a send's.
        """
        path = f"/ct/1/log/end/{quote(message_id, safe='')}"
        data = self._request("POST", path, send=True)
        key = data.get("processKey") if isinstance(data, dict) else None
        return key if isinstance(key, str) else ""

    def get_sms_reports(
        self, *, bulk_id: str | None = None, message_id: str | None = None, limit: int = PAGE_MAX
    ) -> list[DeliveryReport]:
        """Pull new SMS delivery reports (GET /sms/3/reports; each is returned only once)."""
        params = _params(bulkId=bulk_id, messageId=message_id, limit=_limit(limit))
        data = self._request("GET", "/sms/3/reports", params=params)
        return [DeliveryReport.from_dict(item, channel="SMS") for item in _results(data)]

    def get_sms_logs(
        self,
        *,
        message_ids: Sequence[str] = (),
        bulk_id: str | None = None,
        limit: int = PAGE_MAX,
    ) -> list[SmsLog]:
        """Read SMS logs (GET /sms/3/logs) by our messageIds and/or a bulkId, last 48 h."""
        logs: list[SmsLog] = []
        if message_ids:
            # Each comma list fits Infobip's 2048 characters; ids bound the results per call.
            for chunk in comma_chunks(message_ids, ID_LIST_MAX_CHARS):
                params = _params(messageId=chunk, bulkId=bulk_id, limit=PAGE_MAX)
                data = self._request("GET", "/sms/3/logs", params=params)
                logs += [SmsLog.from_dict(item) for item in _results(data)]
            return logs
        cursor: str | None = None
        while len(logs) < limit:
            params = _params(
                bulkId=bulk_id, limit=_limit(limit - len(logs)), useCursor="true", cursor=cursor
            )
            data = self._request("GET", "/sms/3/logs", params=params)
            page = _results(data)
            logs += [SmsLog.from_dict(item) for item in page]
            next_cursor = _next_cursor(data)
            if not page or not next_cursor or next_cursor == cursor:
                break
            cursor = next_cursor
        return logs

    def preview_sms(
        self, text: str, *, language_code: str | None = None, transliteration: str | None = None
    ) -> list[SmsPreview]:
        """Parts and characters left per language configuration (POST /sms/1/preview)."""
        body = {
            "text": text,
            **_params(languageCode=language_code, transliteration=transliteration),
        }
        data = self._request("POST", "/sms/1/preview", body=body)
        previews = data.get("previews") if isinstance(data, dict) else None
        return [SmsPreview.from_dict(item) for item in previews or [] if isinstance(item, dict)]

    def get_inbound_sms(self, *, limit: int = PAGE_MAX) -> list[InboundSms]:
        """Pull new inbound SMS (GET /sms/1/inbox/reports; each is returned only once)."""
        data = self._request("GET", "/sms/1/inbox/reports", params={"limit": _limit(limit)})
        return [InboundSms.from_dict(item) for item in _results(data)]

    # --- WhatsApp ----------------------------------------------------------------------------

    def send_whatsapp_text(
        self,
        *,
        sender: str,
        to: str,
        text: str,
        message_id: str,
        callback_data: str | None = None,
        notify_url: str | None = None,
        preview_url: bool = False,
        url_options: dict[str, Any] | None = None,
    ) -> SentMessage:
        """Send one free-form WhatsApp text (POST /whatsapp/1/message/text; 24 h window only)."""
        body = whatsapp_text_request_body(
            sender=sender,
            to=to,
            text=text,
            message_id=message_id,
            callback_data=callback_data,
            notify_url=notify_url,
            preview_url=preview_url,
            url_options=url_options,
        )
        return self._send_single("/whatsapp/1/message/text", body)

    def send_whatsapp_image(
        self,
        *,
        sender: str,
        to: str,
        media_url: str,
        message_id: str,
        caption: str = "",
        callback_data: str | None = None,
        notify_url: str | None = None,
        url_options: dict[str, Any] | None = None,
    ) -> SentMessage:
        """Send one image by URL, optional caption (POST /whatsapp/1/message/image; 24 h only)."""
        body = whatsapp_image_request_body(
            sender=sender,
            to=to,
            media_url=media_url,
            message_id=message_id,
            caption=caption,
            callback_data=callback_data,
            notify_url=notify_url,
            url_options=url_options,
        )
        return self._send_single("/whatsapp/1/message/image", body)

    def send_whatsapp_buttons(
        self,
        *,
        sender: str,
        to: str,
        text: str,
        buttons: Sequence[tuple[str, str]],
        message_id: str,
        header_text: str = "",
        footer: str = "",
        callback_data: str | None = None,
        notify_url: str | None = None,
        url_options: dict[str, Any] | None = None,
    ) -> SentMessage:
        """Send text with 1-3 reply buttons (POST /whatsapp/1/message/interactive/buttons)."""
        body = whatsapp_buttons_request_body(
            sender=sender,
            to=to,
            text=text,
            buttons=buttons,
            message_id=message_id,
            header_text=header_text,
            footer=footer,
            callback_data=callback_data,
            notify_url=notify_url,
            url_options=url_options,
        )
        return self._send_single("/whatsapp/1/message/interactive/buttons", body)

    def _send_single(self, path: str, body: dict[str, Any]) -> SentMessage:
        data = self._request("POST", path, body=body, send=True)
        if not isinstance(data, dict) or not (data.get("messageId") or data.get("status")):
            raise InfobipOutcomeUnknownError("Infobip's answer to the send carries no messageId")
        return SentMessage.from_dict(data)

    def send_whatsapp_templates(
        self, messages: Sequence[WhatsAppTemplateMessage], *, bulk_id: str | None = None
    ) -> SendResult:
        """Send template messages in one POST /whatsapp/1/message/template (optional failover)."""
        if not messages:
            return SendResult(bulk_id=bulk_id, messages=[])
        body = whatsapp_template_request_body(messages, bulk_id=bulk_id)
        data = self._request("POST", "/whatsapp/1/message/template", body=body, send=True)
        return SendResult.from_dict(_send_envelope(data))

    def list_whatsapp_templates(self, sender: str) -> list[dict[str, Any]]:
        """Every template of `sender` as Infobip returns it (GET /whatsapp/2/.../templates)."""
        path = f"/whatsapp/2/senders/{quote(sender, safe='')}/templates"
        templates: list[dict[str, Any]] = []
        cursor: str | None = None
        for _page in range(100):  # the spec declares no paging; follow a cursor if one appears
            data = self._request("GET", path, params=_params(cursor=cursor) or None)
            found = data.get("templates") if isinstance(data, dict) else None
            templates += [t for t in found or [] if isinstance(t, dict)]
            next_cursor = _next_cursor(data)
            if not next_cursor or next_cursor == cursor:
                break
            cursor = next_cursor
        return templates

    # --- Messages API (Viber, RCS and the other channels of POST /messages-api/1/messages) ---

    def send_messages(
        self,
        messages: Sequence[MessagesApiMessage],
        *,
        bulk_id: str | None = None,
        tracking: dict[str, Any] | None = None,
    ) -> SendResult:
        """Send Messages API messages in one POST /messages-api/1/messages (any channel)."""
        if not messages:
            return SendResult(bulk_id=bulk_id, messages=[])
        body = messages_api_request_body(messages, bulk_id=bulk_id, tracking=tracking)
        data = self._request("POST", "/messages-api/1/messages", body=body, send=True)
        return SendResult.from_dict(_send_envelope(data))

    def get_messages_api_reports(
        self, *, channel: str = "WHATSAPP", limit: int = PAGE_MAX
    ) -> list[DeliveryReport]:
        """Pull new delivery reports of `channel` (GET /messages-api/1/reports; once only)."""
        params = {"channel": channel, "limit": _limit(limit)}
        data = self._request("GET", "/messages-api/1/reports", params=params)
        return [DeliveryReport.from_dict(item, channel=channel) for item in _results(data)]

    # --- Inbound configuration (resources API) ------------------------------------------------

    def list_inbound_configurations(
        self, *, channel: str, number: str | None = None, keyword: str | None = None
    ) -> list[InboundConfiguration]:
        """Inbound configurations of `channel` (and `number`) (GET .../inbound-message-...)."""
        params = _params(channel=channel.upper(), number=number, keyword=keyword)
        data = self._request("GET", INBOUND_CONFIGURATIONS, params=params)
        if isinstance(data, dict):  # tolerate an envelope, though the spec answers an array
            data = data.get("results") or data.get("configurations") or []
        if not isinstance(data, list):
            raise InfobipUnexpectedResponseError("inbound configurations: not a JSON array")
        return [InboundConfiguration.from_dict(item) for item in data if isinstance(item, dict)]

    def create_inbound_configuration(
        self, *, channel: str, number: str, url: str, keyword: str | None = None
    ) -> InboundConfiguration:
        """Forward `number`'s inbound messages (for `keyword`) to `url` (HTTP_FORWARD)."""
        body = inbound_configuration_body(channel=channel, number=number, url=url, keyword=keyword)
        data = self._request("POST", INBOUND_CONFIGURATIONS, body=body)
        if not isinstance(data, dict) or not data.get("configurationKey"):
            raise InfobipUnexpectedResponseError("the configuration answer has no configurationKey")
        return InboundConfiguration.from_dict({**body, **data})

    def delete_inbound_configuration(self, configuration_key: str) -> None:
        """Delete one inbound configuration (DELETE .../inbound-message-configurations/{key})."""
        path = f"{INBOUND_CONFIGURATIONS}/{quote(configuration_key, safe='')}"
        self._request("DELETE", path)

    # --- Account -----------------------------------------------------------------------------

    def check_credentials(self) -> None:
        """Prove the base URL is Infobip's API and the key works (GET /sms/3/logs?limit=1)."""
        data = self._request("GET", "/sms/3/logs", params={"limit": 1})
        if not isinstance(data, dict) or not isinstance(data.get("results"), list):
            raise InfobipUnexpectedResponseError(
                f"{self.base_url} answered /sms/3/logs without a `results` list: "
                "it does not look like Infobip's API",
                status_code=200,
            )

    def custom_request(
        self, method: str, path: str, *, params: dict[str, Any] | None = None, body: Any = None
    ) -> Any:
        """Any endpoint (`manage.py infobip_request`): same key, base URL, timeouts, retries."""
        if not path.startswith("/") or path.startswith("//"):
            raise InfobipConfigError(f"{path!r}: give a path on the base URL, e.g. /sms/3/logs")
        method = method.upper()
        return self._request(method, path, params=params, body=body, send=method != "GET")

    def custom_call(
        self, method: str, path: str, *, params: dict[str, Any] | None = None, body: Any = None
    ) -> tuple[int, Any]:
        """Any endpoint, answered as Infobip answered: (HTTP status, JSON body or text).

        Unlike custom_request, an HTTP error is an answer, not an exception (the API's custom
        call passes it on); a transport failure still raises.
        """
        if not path.startswith("/") or path.startswith("//"):
            raise InfobipConfigError(f"{path!r}: give a path on the base URL, e.g. /sms/3/logs")
        method = method.upper()
        answer: tuple[int, Any] = self._request(  # as_answer: (HTTP status, parsed body)
            method, path, params=params, body=body, send=method != "GET", as_answer=True
        )
        return answer

    # --- Transport ---------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        send: bool = False,
        as_answer: bool = False,
    ) -> Any:
        """Call Infobip and return the parsed JSON, or raise a typed InfobipError.

        `send` marks requests that change state at Infobip: their read failures mean "outcome
        unknown" rather than a retryable connection error. `as_answer` returns (status, body)
        for every HTTP answer instead (custom_call).
        """
        data = None
        headers = None
        if body is not None:
            # orjson: the same compact UTF-8 as json.dumps(ensure_ascii=False), ~10x faster.
            data = orjson.dumps(body)
            headers = {"Content-Type": "application/json"}
        started = time.monotonic()
        failure: InfobipError | None = None
        try:
            response = self._session.request(
                method,
                self.base_url + path,
                params=params,
                data=data,
                headers=headers,
                timeout=self.timeout,
                allow_redirects=False,
            )
        except (requests.RequestException, HTTPError) as exc:
            failure = self._transport_error(exc, send=send)
        if failure is not None:
            # Raised outside the except block: requests' exception (which holds the prepared
            # request and its Authorization header) is neither the cause nor the context.
            logger.warning(
                "infobip %s %s failed after %.0f ms: %s %s",
                method,
                path,
                _ms(started),
                type(failure).__name__,
                failure.description,
            )
            raise failure
        retries = len(getattr(getattr(response.raw, "retries", None), "history", ()) or ())
        logger.info(
            "infobip %s %s -> %s in %.0f ms%s",
            method,
            path,
            response.status_code,
            _ms(started),
            f" after {retries} retries" if retries else "",
        )
        if as_answer:
            try:
                content = orjson.loads(response.content) if response.content else None
            except ValueError:
                content = self._redact(response.text[:10_000])
            return response.status_code, content
        if response.status_code == 204:
            return None
        if 200 <= response.status_code < 300:
            try:
                return orjson.loads(response.content)
            except ValueError:
                text = f"HTTP {response.status_code} from {path} is not JSON"
                if send:
                    raise InfobipOutcomeUnknownError(
                        text, status_code=response.status_code
                    ) from None
                raise InfobipUnexpectedResponseError(
                    f"{text}: {self.base_url} does not look like Infobip's API",
                    status_code=response.status_code,
                ) from None
        raise self._http_error(response, send=send)

    def _redact(self, text: str) -> str:
        key = self._api_key.value
        return text.replace(key, mask(key)) if text else text

    def _transport_error(self, exc: BaseException, *, send: bool) -> InfobipError:
        """Map a requests/urllib3 failure onto connection (nothing sent) or outcome unknown."""
        root = _root_cause(exc)
        if isinstance(exc, requests.exceptions.InvalidURL | requests.exceptions.InvalidSchema):
            return InfobipConfigError(self._redact(f"invalid Infobip URL: {exc}"))
        if isinstance(root, NameResolutionError):
            host = urlsplit(self.base_url).hostname
            text = f"could not resolve host {host!r} (DNS): check INFOBIP_BASE_URL"
        elif isinstance(root, NewConnectionError):
            text = f"could not connect to {self.base_url}: {_reason(root)}"
        elif isinstance(root, ConnectTimeoutError) or isinstance(exc, requests.ConnectTimeout):
            text = f"connecting to {self.base_url} timed out after {self.timeout[0]:g}s"
        elif _is_certificate_error(root):
            text = f"TLS certificate of {self.base_url} rejected: {_reason(root)}"
        else:
            if isinstance(root, ReadTimeoutError):
                text = f"no answer from {self.base_url} within {self.timeout[1]:g}s"
            elif isinstance(root, ProtocolError):
                text = f"connection to {self.base_url} dropped before the answer: {_reason(root)}"
            else:
                text = f"{type(root).__name__} talking to {self.base_url}: {_reason(root)}"
            if send:
                return InfobipOutcomeUnknownError(
                    self._redact(text + "; the request may have reached Infobip")
                )
        return InfobipConnectionError(self._redact(text))

    def _http_error(self, response: requests.Response, *, send: bool) -> InfobipError:
        """Map an HTTP error answer onto the typed error for its status."""
        status = response.status_code
        code, description, violations = parse_error_body(response)
        description = self._redact(description)
        violations = [
            Violation(self._redact(v.property), self._redact(v.violation)) for v in violations
        ]
        kwargs: dict[str, Any] = {
            "status_code": status,
            "error_code": code,
            "violations": violations,
        }
        if status in (401, 403):
            return InfobipAuthError(description, **kwargs)
        if status == 429:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            return InfobipThrottledError(description, retry_after=retry_after, **kwargs)
        if send and status in GATEWAY_STATUSES:
            return InfobipOutcomeUnknownError(
                f"{description} (a gateway answered: the send may have reached Infobip)",
                **kwargs,
            )
        if status >= 500:
            return InfobipServerError(description, **kwargs)
        if status >= 400:
            return InfobipValidationError(description, **kwargs)
        location = response.headers.get("Location")
        where = f" to {self._redact(location)}" if location else ""
        return InfobipUnexpectedResponseError(
            f"HTTP {status}{where}: {self.base_url} does not look like Infobip's API", **kwargs
        )


# --- Parsing helpers ----------------------------------------------------------------------------


def parse_error_body(response: requests.Response) -> tuple[str | None, str, list[Violation]]:
    """(error code, description, violations) from either of Infobip's error envelopes."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        request_error = body.get("requestError")
        exception = (
            request_error.get("serviceException") if isinstance(request_error, dict) else None
        )
        if isinstance(exception, dict):
            violations = []
            fields = exception.get("validationErrors")
            for name, messages in fields.items() if isinstance(fields, dict) else ():
                for text in messages if isinstance(messages, list) else [messages]:
                    violations.append(Violation(str(name), str(text)))
            code = exception.get("messageId")
            text = str(exception.get("text") or "")
            return (str(code) if code else None), text or _reason_phrase(response), violations
        if "errorCode" in body or "violations" in body:
            violations = [
                Violation(str(v.get("property") or ""), str(v.get("violation") or ""))
                for v in body.get("violations") or []
                if isinstance(v, dict)
            ]
            code = body.get("errorCode")
            text = str(body.get("description") or "")
            return (str(code) if code else None), text or _reason_phrase(response), violations
    return None, _reason_phrase(response), []


def _reason_phrase(response: requests.Response) -> str:
    text = " ".join((response.text or "").split())[:200]
    reason = response.reason or f"HTTP {response.status_code}"
    return f"{reason}: {text}" if text else reason


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta seconds or HTTP date), or None."""
    if not value:
        return None
    try:
        return max(0.0, InfobipRetry().parse_retry_after(value))
    except InvalidHeader:
        return None


def comma_chunks(values: Iterable[str], max_chars: int) -> Iterator[str]:
    """Comma-joined runs of `values` (deduplicated, in order), each at most `max_chars` long."""
    chunk: list[str] = []
    size = 0
    for value in dict.fromkeys(values):
        extra = len(value) + (1 if chunk else 0)
        if chunk and size + extra > max_chars:
            yield ",".join(chunk)
            chunk, size, extra = [], 0, len(value)
        chunk.append(value)
        size += extra
    if chunk:
        yield ",".join(chunk)


def _send_envelope(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict) or not isinstance(data.get("messages"), list):
        raise InfobipOutcomeUnknownError("Infobip's answer to the send has no `messages` list")
    return data


def _results(data: Any) -> list[dict[str, Any]]:
    if not isinstance(data, dict):
        raise InfobipUnexpectedResponseError("Infobip answered with something other than JSON")
    return [item for item in data.get("results") or [] if isinstance(item, dict)]


def _next_cursor(data: Any) -> str | None:
    cursor = data.get("cursor") if isinstance(data, dict) else None
    value = cursor.get("nextCursor") if isinstance(cursor, dict) else None
    return str(value) if value else None


def _params(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None and v != ""}


def _limit(limit: int) -> int:
    return max(1, min(PAGE_MAX, int(limit)))


def _ms(started: float) -> float:
    return (time.monotonic() - started) * 1000


def _root_cause(exc: BaseException) -> BaseException:
    """The innermost urllib3/socket error behind a requests exception."""
    current = exc
    for _depth in range(10):
        if isinstance(current, MaxRetryError) and current.reason is not None:
            current = current.reason
        elif current.args and isinstance(current.args[0], BaseException):
            current = current.args[0]
        else:
            break
    return current


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ProtocolError) and len(exc.args) > 1:
        return f"{exc.args[0]} {exc.args[1]!r}"
    text = str(exc) or type(exc).__name__
    # "HTTPConnection(host=..., port=...): Failed to establish a new connection: [Errno 111] ..."
    return text.split("new connection: ", 1)[-1]


def _is_certificate_error(exc: BaseException) -> bool:
    # A certificate is checked during the handshake, before anything is sent.
    inner = exc.args[0] if isinstance(exc, Urllib3SSLError) and exc.args else exc
    return isinstance(inner, ssl.SSLCertVerificationError | ssl.CertificateError)


# --- The process's client -------------------------------------------------------------------

_factory: Callable[[], InfobipClient] | None = None
_clients: dict[tuple[object, ...], InfobipClient] = {}
_lock = threading.Lock()


def get_client() -> InfobipClient:
    """The process's client for the current settings (sandbox or Infobip), or the test factory's."""
    if _factory is not None:
        return _factory()
    if settings.INFOBIP_SANDBOX:
        base_url, api_key = settings.INFOBIP_SANDBOX_URL, settings.INFOBIP_SANDBOX_API_KEY
    else:
        base_url, api_key = settings.INFOBIP_BASE_URL, settings.INFOBIP_API_KEY
    config = {
        "base_url": base_url,
        "api_key": api_key,
        "connect_timeout": settings.INFOBIP_CONNECT_TIMEOUT,
        "read_timeout": settings.INFOBIP_READ_TIMEOUT,
        "max_retries": settings.INFOBIP_MAX_RETRIES,
    }
    # The pid is part of the key: a forked worker must not share its parent's sockets.
    key = (os.getpid(), *config.values())
    with _lock:
        client = _clients.get(key)
        if client is None:
            _clients.clear()
            client = _clients[key] = InfobipClient(**config)
        return client


def set_client_factory(factory: Callable[[], InfobipClient] | None) -> None:
    """Make get_client() return `factory()` (tests, fakes); None restores the settings client."""
    global _factory
    _factory = factory
    with _lock:
        _clients.clear()
