"""OpenAPI post-processing: every operation documents the one error shape for its 4xx."""

ERROR_STATUSES = {
    "400": "Bad input; `fields` names each refused field by path",
    "401": "No token, or an unknown or revoked one",
    "403": "The token lacks the scope, or its user the permission",
    "404": "No such object",
    "429": "Rate limited; `Retry-After` says when to try again",
}


def add_error_responses(result: dict, generator, request, public) -> dict:
    """Add the Error document for 400/401/403/404/429 wherever an operation lacks it."""
    ref = {"$ref": "#/components/schemas/Error"}
    for path in result.get("paths", {}).values():
        for operation in path.values():
            responses = operation.setdefault("responses", {})
            for status, description in ERROR_STATUSES.items():
                responses.setdefault(
                    status,
                    {"content": {"application/json": {"schema": ref}}, "description": description},
                )
    return result
