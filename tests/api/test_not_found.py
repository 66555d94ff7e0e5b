"""Unknown API paths answer the API's JSON error shape, never Django's HTML 404."""

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/nothing-here",
        "/api/v1/contacts/abc",
        # Found by schemathesis: a newline in the path escaped a `.*` catch-all.
        "/api/v1/campaigns/%0A%C2%B2/launch",
        "/api/v1/campaigns/%0A",
    ],
)
def test_unknown_api_paths_answer_json_404(client, path) -> None:
    response = client.post(path)
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["error"]["code"] == "not_found"
