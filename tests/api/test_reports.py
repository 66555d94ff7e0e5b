"""`GET /api/v1/reports/campaigns` and `/reports/trends` (issue 26 #11), and `people` in the
campaign document (issue 26 #10)."""

import pytest

from tests.campaigns.test_analytics import _launched

pytestmark = pytest.mark.django_db


def test_comparison_and_trends_read_the_same_figures_as_the_page(api_for, sender_user):
    spring = _launched("Spring", ["delivered", "delivered", "undeliverable"], cost="0.03")
    api = api_for(sender_user, ["read"])
    answer = api.get(f"reports/campaigns?ids={spring.pk}")
    assert answer.status_code == 200, answer.content
    row = answer.json()["campaigns"][0]
    assert (row["name"], row["sent"], row["delivered"], row["delivery_rate"]) == (
        "Spring",
        3,
        2,
        66.7,
    )
    assert (row["cost"], row["cost_per_delivered"], row["currency"]) == ("0.0300", "0.0150", "EUR")
    points = api.get("reports/trends?days=7&bucket=day").json()["points"]
    assert len(points) == 7
    assert points[-1]["campaigns"] == 1
    document = api.get(f"campaigns/{spring.pk}").json()
    assert document["people"]["reached"] == 2


@pytest.mark.parametrize(
    "query",
    [
        "reports/campaigns",
        "reports/campaigns?ids=x",
        "reports/campaigns?ids=" + ",".join(["1"] * 21),
        "reports/trends?days=0",
        "reports/trends?days=²",
        "reports/trends?bucket=y",
    ],
)
def test_bad_parameters_get_the_error_shape(api_for, sender_user, query):
    answer = api_for(sender_user, ["read"]).get(query)
    assert answer.status_code == 400
    assert answer.json()["error"]["message"]
