"""Infobip's official OpenAPI documents (vendored byte-for-byte, see SOURCES.md) and a validator.

Both the sandbox (to answer 400 like Infobip would) and the tests (to prove the client never
builds a body the spec rejects) validate against these documents.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator
    from referencing import Registry

# jsonschema and referencing are imported where a validator is built: the worker and the web
# process only need `Violation` from here, and the two packages cost ~3.5 MB in each process.

SPEC_DIR = Path(__file__).resolve().parent
PRODUCTS = {
    "sms": "infobip-sms-openapi.json",
    "whatsapp": "infobip-whatsapp-openapi.json",
    "messages-api": "infobip-messages-api-openapi.json",
    "resources": "infobip-resources-openapi.json",
}


@dataclass(frozen=True)
class Violation:
    """One way a body breaks the spec, named as Infobip names it (`property`, `violation`)."""

    property: str
    violation: str


@dataclass(frozen=True)
class Operation:
    product: str
    method: str
    path: str
    spec: dict[str, Any]


@cache
def load(product: str) -> dict[str, Any]:
    """The parsed OpenAPI document of `product`."""
    document: dict[str, Any] = json.loads((SPEC_DIR / PRODUCTS[product]).read_text())
    return document


@cache
def _registry(product: str) -> Registry[Any]:
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    resource = Resource.from_contents(load(product), default_specification=DRAFT202012)
    registry: Registry[Any] = Registry().with_resource(_uri(product), resource)
    return registry


def _uri(product: str) -> str:
    return f"urn:infobip:{product}"


def _pointer(*parts: str) -> str:
    return "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


@cache
def _path_patterns() -> list[tuple[re.Pattern[str], str, str]]:
    patterns = []
    for product in PRODUCTS:
        for path in load(product)["paths"]:
            regex = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path)) + "$"
            patterns.append((re.compile(regex), product, path))
    return patterns


def find_operation(method: str, path: str) -> Operation | None:
    """The spec operation that serves `method path` (a concrete path, templates matched)."""
    method = method.lower()
    for regex, product, template in _path_patterns():
        if regex.match(path):
            op = load(product)["paths"][template].get(method)
            if op is not None:
                return Operation(product, method, template, op)
    return None


@cache
def request_validator(method: str, path_template: str) -> Draft202012Validator:
    """A validator for the JSON request body of the operation at `path_template`."""
    op = find_operation(method, path_template)
    if op is None:
        raise KeyError(f"no operation {method.upper()} {path_template} in the Infobip specs")
    pointer = _pointer("paths", op.path, op.method, "requestBody", "content", "application/json")
    return _validator(op.product, pointer + "/schema")


@cache
def webhook_validator(product: str, webhook: str) -> Draft202012Validator:
    """A validator for the push body of `webhooks.<webhook>` (e.g. SMS delivery reports)."""
    pointer = _pointer("webhooks", webhook, "post", "requestBody", "content", "application/json")
    return _validator(product, pointer + "/schema")


@cache
def schema_validator(product: str, schema_name: str) -> Draft202012Validator:
    """A validator for `components.schemas.<schema_name>` (e.g. a response body)."""
    return _validator(product, _pointer("components", "schemas", schema_name))


def _validator(product: str, pointer: str) -> Draft202012Validator:
    from jsonschema import Draft202012Validator

    schema = {"$ref": f"{_uri(product)}#/{pointer}"}
    return Draft202012Validator(schema, registry=_registry(product))


def violations(validator: Draft202012Validator, body: Any) -> list[Violation]:
    """Every violation of `body`, with Infobip-style property paths (`messages[0].to`)."""
    found = []
    for error in validator.iter_errors(body):
        found.append(Violation(_property(error.absolute_path), error.message))
    return sorted(found, key=lambda v: (v.property, v.violation))


def validate_request(method: str, path: str, body: Any) -> list[Violation]:
    """Violations of `body` as the request body of `method path` (empty when valid)."""
    op = find_operation(method, path)
    if op is None:
        raise KeyError(f"no operation {method.upper()} {path} in the Infobip specs")
    return violations(request_validator(method, op.path), body)


def _property(path: Iterable[str | int]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
