from django.apps import AppConfig


class ConversionsConfig(AppConfig):
    """Conversions in, attribution by a versioned rule, split-test winners and lift.

    Above campaigns/ (it reads the ledger, clicks and replies to credit a conversion) and
    below the pages and the API; what it adds to a campaign's status document reaches
    campaigns/ through the registry campaigns owns (campaigns.status_sections), and what it
    adds to a journey's through journeys.figures.
    """

    name = "conversions"
    verbose_name = "Conversions and attribution"

    def ready(self) -> None:
        from campaigns.analytics import figures_provider_register
        from campaigns.status_sections import status_section_register
        from conversions.figures import campaigns_conversion_figures
        from conversions.status import campaign_conversions_section
        from journeys.figures import conversions_provider_register

        status_section_register(campaign_conversions_section)
        figures_provider_register(campaigns_conversion_figures)
        # A journey's status and its builder's send steps: the credits of its steps' campaigns.
        conversions_provider_register(campaigns_conversion_figures)
