"""Request validation against Infobip's OpenAPI documents, fast enough for 20,000 messages/s.

The reference validator (`infobip.openapi.request_validator`, python-jsonschema resolving `$ref`s
into the vendored spec) needs ~250 ms for 1,000 `messages[]` entries. Here each request schema is
compiled once into a self-contained JSON Schema (every `$ref` inlined, annotations dropped) and
checked by `jsonschema_rs` (Rust, Draft 2020-12 like the spec): ~0.7 ms for the same body. Only
when that says "invalid" does python-jsonschema walk the same compiled schema to list every
violation, with the reference's wording and `messages[0].to`-style paths (`openapi.violations`).

One deliberate addition: OpenAPI `discriminator` mappings (WhatsApp template headers and
buttons, inbound-configuration channels) are enforced — `{"type": "TEXT"}` must carry the
fields of the mapped schema and an unknown `type` is rejected — which plain JSON Schema (and so
the reference validator) ignores. tests/infobip/sandbox/test_validation.py shows both validators
list the same violations everywhere else.
"""

import re
from functools import cache
from typing import Any

import jsonschema_rs
from jsonschema import Draft202012Validator

from infobip import openapi
from infobip.openapi import Violation

# Keywords that never change validity (or that jsonschema does not assert, like `format`).
_ANNOTATIONS = frozenset(
    {
        "description",
        "title",
        "example",
        "examples",
        "readOnly",
        "writeOnly",
        "default",
        "externalDocs",
        "format",
        "xml",
        "deprecated",
        "discriminator",
        "$comment",
    }
)
_NAME_MAPS = ("properties", "patternProperties", "$defs", "dependentSchemas")
_VERBATIM = ("enum", "const", "required", "dependentRequired")
# jsonschema's oneOf message dumps the matching subschemas; an API error should not.
_ONE_OF_MANY = re.compile(r" is valid under each of .*\Z", re.DOTALL)
_ONE_OF_MANY_TEXT = " is valid under more than one of the given schemas"


def _resolve(product: str, ref: str) -> dict[str, Any]:
    if not ref.startswith("#/"):
        raise ValueError(f"only local $refs are supported, got {ref!r}")
    node: Any = openapi.load(product)
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    found: dict[str, Any] = node  # a schema object, as $refs point to
    return found


def compile_schema(product: str, node: Any, _stack: tuple[str, ...] = ()) -> Any:
    """`node` with every `$ref` inlined, annotations dropped and discriminators enforced."""
    if isinstance(node, list):
        return [compile_schema(product, item, _stack) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        ref = node["$ref"]
        target = _resolve(product, ref)
        mapped = (target.get("discriminator") or {}).get("mapping", {}).values()
        if ref in _stack or any(r in _stack for r in mapped):
            if "discriminator" not in target or _stack.count(ref) > 1:
                raise ValueError(f"recursive schema at {ref}: cannot be inlined")
            # A mapped subtype refers back to a discriminated base: inline the base plain.
            target = {k: v for k, v in target.items() if k != "discriminator"}
        inlined = compile_schema(product, target, (*_stack, ref))
        rest = {k: v for k, v in node.items() if k != "$ref"}
        return {"allOf": [inlined, compile_schema(product, rest, _stack)]} if rest else inlined
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _ANNOTATIONS:
            continue
        if key in _NAME_MAPS:
            out[key] = {name: compile_schema(product, sub, _stack) for name, sub in value.items()}
        elif key in _VERBATIM:
            out[key] = value
        else:
            out[key] = compile_schema(product, value, _stack)
    mapping = (node.get("discriminator") or {}).get("mapping")
    if mapping and "oneOf" not in node and "anyOf" not in node:
        prop = node["discriminator"]["propertyName"]
        branches = [
            {
                "if": {"properties": {prop: {"const": value}}, "required": [prop]},
                "then": compile_schema(product, {"$ref": ref}, _stack),
            }
            for value, ref in mapping.items()
        ]
        out["allOf"] = [*out.get("allOf", []), *branches]
        properties = dict(out.get("properties", {}))
        properties[prop] = {**properties.get(prop, {}), "enum": list(mapping)}
        out["properties"] = properties
    return out


class RequestValidator:
    """Validates one operation's request body; `violations(body)` is empty when it is valid."""

    def __init__(self, schema: dict[str, Any]) -> None:
        self.schema = schema
        self._fast = jsonschema_rs.Draft202012Validator(schema)
        self._full = Draft202012Validator(schema)

    def is_valid(self, body: Any) -> bool:
        try:
            valid: bool = self._fast.is_valid(body)
        except (ValueError, TypeError, OverflowError):
            # Values jsonschema_rs cannot convert (e.g. huge integers): let jsonschema decide.
            valid = self._full.is_valid(body)
        return valid

    def violations(self, body: Any) -> list[Violation]:
        """Every violation of `body`, as Infobip-style (property, violation) pairs."""
        if self.is_valid(body):
            return []
        return [
            Violation(v.property, _ONE_OF_MANY.sub(_ONE_OF_MANY_TEXT, v.violation))
            for v in openapi.violations(self._full, body)
        ]


@cache
def request_validator(method: str, path_template: str) -> RequestValidator:
    """The compiled validator for the JSON request body of `method path_template`."""
    op = openapi.find_operation(method, path_template)
    if op is None:
        raise KeyError(f"no operation {method.upper()} {path_template} in the Infobip specs")
    schema = op.spec["requestBody"]["content"]["application/json"]["schema"]
    return RequestValidator(compile_schema(op.product, schema))
