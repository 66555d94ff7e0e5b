"""Opt-out wording in marketing SMS where the law asks every message to carry it (issue 26 #8).

The countries (ISO 3166-1) whose law requires every marketing message — SMS included — to tell
the recipient how to stop them, and where it says so:

- AU: Spam Act 2003 (Cth), s 18: every commercial electronic message must contain a functional
  unsubscribe facility.
- CA: Canada's Anti-Spam Legislation (S.C. 2010, c. 23), s 6(2)(c) and s 11: every commercial
  electronic message must set out an unsubscribe mechanism.
- FR: Code des postes et des communications électroniques, art. L34-5: direct marketing by
  electronic message must give valid details to which the recipient can send a request that
  such messages stop.
- GB: Privacy and Electronic Communications (EC Directive) Regulations 2003, reg 23(b): direct
  marketing by electronic mail (texts included) must give a valid address to which the recipient
  can send a request that such communications cease.
- NZ: Unsolicited Electronic Messages Act 2007, s 11: every commercial electronic message must
  include a functional unsubscribe facility.

Left out on purpose: the US (the TCPA does not ask it of every text; the CTIA's industry
guidelines ask for opt-out wording in the first message and periodically), and countries where
it is required only for messages sent without consent. `HERALD_OPT_OUT_COUNTRIES` chooses which
of the countries above apply (all by default).

A campaign either lets Herald add the footer (`opt_out_footer`, on by default): recipients in
those countries whose text does not already say how to opt out get one line added, in their
language — "Reply STOP to opt out" when the sender is a number that takes replies (Herald's STOP
keyword does the rest), else their personal opt-out link, since nobody can reply to a sender
name — or, with the footer off, its launch is refused while such recipients are in its audience
(`opt_out_problems`, the same refusal on every surface).
"""

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db.models import Count

from campaigns.models import Campaign

if TYPE_CHECKING:
    from campaigns.steps import Step
from campaigns.rendering import OPT_OUT_URL, compile_template, contact_values


@dataclass(frozen=True)
class Rule:
    source: str
    language: str  # the footer's language for recipients whose own is not one we have


RULES: dict[str, Rule] = {
    "AU": Rule("Spam Act 2003 (Cth) s 18", "en"),
    "CA": Rule("CASL, S.C. 2010 c. 23, s 6(2)(c)", "en"),
    "FR": Rule("Code des postes et des communications électroniques, art. L34-5", "fr"),
    "GB": Rule("PECR 2003 reg 23", "en"),
    "NZ": Rule("Unsolicited Electronic Messages Act 2007 s 11", "en"),
}
# (reply to a number, link for a sender name), per language.
FOOTERS: dict[str, tuple[str, str]] = {
    "en": ("Reply STOP to opt out", "Opt out: {{opt_out_url}}"),
    "fr": ("Répondez STOP pour vous désabonner", "Désabonnement : {{opt_out_url}}"),
}
# Wording that already tells the recipient how to stop: the opt-out link, or STOP-like words
# written in capitals (as opt-out instructions are; "stop by the shop" is not one). END, QUIT
# and CANCEL are left out: "END OF SEASON" is not an instruction.
_OPT_OUT_WORDS = re.compile(r"\b(STOP|STOPALL|UNSUBSCRIBE|ARRET|ARRÊT|DESABONNER|STOPP)\b")


def opt_out_countries() -> dict[str, Rule]:
    """The countries whose rule applies here (HERALD_OPT_OUT_COUNTRIES)."""
    chosen = getattr(settings, "HERALD_OPT_OUT_COUNTRIES", list(RULES))
    return {code: RULES[code] for code in chosen if code in RULES}


def says_how_to_opt_out(text: str) -> bool:
    """Whether a message text already tells its recipient how to stop the messages."""
    return "{{" + OPT_OUT_URL in text.replace("{{ ", "{{") or bool(_OPT_OUT_WORDS.search(text))


def takes_replies(sender: str) -> bool:
    """Whether people can reply to a sender: a number can, a name (alphanumeric) cannot."""
    return sender.removeprefix("+").isdigit()


class Footers:
    """One campaign's footer decision per recipient (compiled once, for a freeze's million)."""

    def __init__(self, campaign: Campaign, step: "Step | None" = None) -> None:
        from campaigns.steps import campaign_steps, step_sender

        # The campaign's own message, or one step of its fallback chain (an SMS after WhatsApp,
        # Viber or RCS needs the wording as much as an SMS campaign does).
        step = step or campaign_steps(campaign)[0]
        self.countries = opt_out_countries()
        # The law's opt-out line is an SMS matter (a medium of texts that say it themselves).
        self.active = (
            step.kind.ledger == "sms"
            and campaign.opt_out_footer
            and bool(self.countries)
            and not says_how_to_opt_out(_step_text(campaign, step))
        )
        self.reply = takes_replies(step_sender(campaign, step))

    def footer(self, *, country: str, language: str) -> str | None:
        """The footer line (placeholders not filled) for a recipient, None when none is due."""
        rule = self.countries.get(country) if self.active else None
        if rule is None:
            return None
        own = (language or "").replace("_", "-").split("-")[0].lower()
        reply, link = FOOTERS.get(own) or FOOTERS[rule.language]
        return reply if self.reply else link

    def apply(self, text: str, contact: Any) -> str:  # a Contact or a freeze row
        """The rendered text with the recipient's footer added (unchanged when none is due)."""
        line = self.footer(country=contact.country or "", language=contact.language or "")
        if line is None or says_how_to_opt_out(text):
            return text
        template = compile_template(line)
        filled = template.render(contact_values(contact, template.names)).text
        return f"{text}\n{filled}"


def _step_text(campaign: Campaign, step: "Step") -> str:
    """The text a step sends (a fallback step without its own says the campaign's)."""
    return step.content.text or campaign.text


def opt_out_problems(*, campaign: Campaign) -> list[dict[str, Any]]:
    """Countries of the audience whose recipients would get no opt-out wording (launch refuses).

    One grouped count over the audience; empty when the footer is on, the text says how to opt
    out, or nobody is in those countries. The shape of `campaign preview --json`'s
    "compliance" list: [{"country", "recipients", "problems"}].
    """
    from campaigns.steps import campaign_steps

    countries = opt_out_countries()
    # Every SMS the campaign may send counts: its own, and an SMS step of its fallback chain.
    silent = [
        step
        for step in campaign_steps(campaign)
        if step.kind.ledger == "sms" and not says_how_to_opt_out(_step_text(campaign, step))
    ]
    if not silent or campaign.opt_out_footer or not countries:
        return []
    which = "" if silent[0].position == 0 else " (the SMS step of the fallback chain)"
    from campaigns.audience import audience_contacts

    rows = (
        audience_contacts(campaign)
        .filter(opted_out=False, country__in=list(countries))
        .values("country")
        .annotate(n=Count("id"))
        .order_by("country")
    )
    return [
        {
            "country": row["country"],
            "recipients": row["n"],
            "problems": [
                f"every marketing SMS must say how to opt out ({countries[row['country']].source}):"
                f" add “Reply STOP to opt out” or {{{{opt_out_url}}}} to the text{which}, or let "
                "Herald add the opt-out footer"
            ],
        }
        for row in rows
    ]


def opt_out_launch_problem(*, campaign: Campaign) -> str:
    """The launch refusal in one sentence ('' when the campaign may go)."""
    problems = opt_out_problems(campaign=campaign)
    if not problems:
        return ""
    where = ", ".join(f"{p['recipients']:,} in {p['country']}" for p in problems)
    return (
        f"the text does not say how to opt out, and the law asks every marketing SMS to ({where}):"
        " add “Reply STOP to opt out” or {{opt_out_url}}, or turn on the opt-out footer"
    )
