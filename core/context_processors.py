"""Template context shared by every page: the sandbox banner and worker liveness."""

from django.conf import settings
from django.http import HttpRequest


def herald(request: HttpRequest) -> dict[str, object]:
    """Expose whether Infobip is the local sandbox, so every page can say so."""
    return {"HERALD_SANDBOX": settings.INFOBIP_SANDBOX}
