"""Start-up checks of campaign settings the marketer's pages only describe in words.

An empty HERALD_OPT_OUT_COUNTRIES means no marketing SMS anywhere gets opt-out wording: the
pages say so in words; the operator hears the setting's name here (`manage.py check`, every
command and the web process).
"""

from typing import Any

from django.core.checks import CheckMessage, Warning, register

from campaigns.opt_out_law import opt_out_countries


@register()
def opt_out_countries_check(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Warn when no country's opt-out wording rule is on."""
    if opt_out_countries():
        return []
    return [
        Warning(
            "HERALD_OPT_OUT_COUNTRIES is empty: no marketing SMS gets opt-out wording, and no "
            "launch is refused for lacking it",
            hint="set it to the countries you send to whose law asks for it (AU, CA, FR, GB, NZ)",
            id="campaigns.W001",
        )
    ]
