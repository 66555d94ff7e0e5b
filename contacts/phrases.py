"""Revocation beyond the first word: "please stop texting me", "arrêtez svp", "no me escriban más".

The first-word keywords (STOP, ARRET, BAJA…) are handled by the inbound keyword rules. A reply
whose first word is not a keyword is matched here against phrase rules per language: a clear
revocation opts the contact out like STOP; a reply that mentions stopping, unsubscribing or
removal without a clear phrase (or with a negation: "don't stop") is *ambiguous* and is flagged
for a person to decide, with a due date — the US rule (FCC, 47 CFR § 64.1200(a)(10)) is to honour
a revocation made by any reasonable means within 10 business days.

Texts are compared folded: casefolded, accents removed, punctuation as spaces, so "Arrêtez,
SVP !" is "arretez svp". Every shipped language has unit tests (tests/contacts/test_phrases.py).
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where used: models import this module
    from contacts.models import RevocationReview
import datetime as dt
import re
import unicodedata
from dataclasses import dataclass

# Clear revocations, per language (ISO 639-1). Each is a regular expression searched in the
# folded text; \b anchors words. Keep them specific: a false opt-out loses a customer, a false
# "ambiguous" costs a person a glance.
REVOKE: dict[str, tuple[str, ...]] = {
    "en": (
        r"\bstop (texting|messaging|sending|contacting|calling|emailing)\b",
        r"\b(please|pls|plz) stop\b",
        r"\bstop (it )?(please|pls|plz)\b",
        r"\bunsubscribe me\b",
        r"\bremove (me|my (phone )?number)\b",
        r"\btake me off\b",
        r"\bopt (me )?out\b",
        r"\b(do not|dont|don t) (text|message|contact|sms|send) me\b",
        r"\bno more (texts|messages|sms)\b",
        r"\bleave me alone\b",
        r"\bi (do not|dont|don t) want (these|your|any) (texts|messages)\b",
    ),
    "fr": (
        r"\barret(ez|e|er)\b",
        r"\bstop (svp|s il vous plait|merci)\b",
        r"\bdesabonn(ez|e|er)[ -]?moi\b",
        r"\bme desabonner\b",
        r"\bne m envo(yez|ie) plus\b",
        r"\bje ne (veux|souhaite) plus (recevoir|de (vos )?(messages|sms))\b",
        r"\bsupprim(ez|e)[ -]?moi\b",
        r"\bretir(ez|e)[ -]?moi\b",
        r"\bplus de (messages|sms)\b",
    ),
    "es": (
        r"\bno me (envies|envien|mandes|manden|escribas|escriban)( mas)?\b",
        r"\bdej(a|en) de (enviarme|escribirme|mandarme)\b",
        r"\b(darme|dame|denme) de baja\b",
        r"\bquiero (darme de )?baja\b",
        r"\bborr(ame|enme)\b",
        r"\bno quiero (recibir|mas) (mensajes|sms)\b",
        r"\bno (quiero|deseo) recibir mas\b",
    ),
    "pt": (
        r"\bpar(em|e) de (me )?(enviar|mandar|mandarem)\b",
        r"\bnao (quero|desejo) (mais )?(receber|mensagens|sms)\b",
        r"\bnao me (envie|enviem|mande|mandem)( mais)?\b",
        r"\b(me )?descadastr(ar|e|em)\b",
        r"\bremov(er|a|am) (meu numero|me)\b",
        r"\bcancelar (inscricao|assinatura)\b",
    ),
    "de": (
        r"\bkeine (nachrichten|sms|werbung) mehr\b",
        r"\bhor(en sie|t) auf\b",
        r"\b(bitte )?abmelden\b",
        r"\bmelden sie mich ab\b",
        r"\b(bitte )?austragen\b",
        r"\btragen sie mich aus\b",
        r"\bich (will|mochte) keine (nachrichten|sms|werbung)\b",
        r"\bnicht mehr (schreiben|kontaktieren|anschreiben)\b",
    ),
    "it": (
        r"\bnon (voglio|desidero) piu (ricevere|messaggi|sms)\b",
        r"\bsmett(ete|i) di (scrivermi|inviarmi|mandarmi)\b",
        r"\bcancella(mi|temi)\b",
        r"\bdisiscriv(imi|etemi)\b",
        r"\bnon (scrivetemi|mandatemi|inviatemi) piu\b",
        r"\btoglie?temi\b",
    ),
    "nl": (
        r"\bgeen (berichten|sms|sms jes|smsjes) meer\b",
        r"\bstop met (sturen|sms en|smsen|berichten)\b",
        r"\b(schrijf|meld) me (uit|af)\b",
        r"\buitschrijven\b",
        r"\bniet meer (sturen|sms en|smsen|benaderen)\b",
        r"\bverwijder (me|mijn nummer)\b",
    ),
    "tr": (
        r"\bmesaj (gondermeyin|atmayin|istemiyorum)\b",
        r"\b(beni )?listeden (cikarin|cikar|silin)\b",
        r"\bbir daha (mesaj )?(gondermeyin|yazmayin)\b",
        r"\bistemiyorum\b",
        r"\babonelikten cik\w*\b",
    ),
}

# Words that suggest revocation without a clear phrase: flagged, not acted on.
HINTS: dict[str, tuple[str, ...]] = {
    "en": (r"\bstop\w*\b", r"\bunsubscrib\w*\b", r"\bremove\b", r"\bopt\b", r"\bquit\b"),
    "fr": (r"\bstop\b", r"\barret\w*\b", r"\bdesabonn\w*\b", r"\bsupprim\w*\b"),
    "es": (r"\bbaja\b", r"\bparar?\b", r"\balto\b", r"\bno mas\b", r"\bcancelar\b"),
    "pt": (r"\bparar?\b", r"\bsair\b", r"\bcancelar\b", r"\bnao quero\b"),
    "de": (r"\bstopp?\b", r"\babmeld\w*\b", r"\baufhoren\b", r"\bkeine\b"),
    "it": (r"\bbasta\b", r"\bstop\b", r"\bcancell\w*\b", r"\bsmett\w*\b"),
    "nl": (r"\bstop\w*\b", r"\bafmeld\w*\b", r"\bgeen\b"),
    "tr": (r"\biptal\b", r"\bdur\b", r"\bistemiyor\w*\b"),
}

# A negation right before a stop word turns a revocation into a question for a person.
NEGATIONS = (
    r"\b(do not|dont|don t|never|ne|n|no|nicht|niet|non|nao) (stop|arrete|arretez|pares|parem|"
    r"aufhoren|smettete|stoppen)\b"
)

LANGUAGES = tuple(REVOKE)
REVIEW_BUSINESS_DAYS = 10


@dataclass(frozen=True)
class PhraseMatch:
    """`kind` is "revoke", "ambiguous" or "" (nothing about stopping); `rule` the pattern."""

    kind: str
    language: str = ""
    rule: str = ""


def fold_text(text: str) -> str:
    """Casefolded, without accents, punctuation as single spaces."""
    decomposed = unicodedata.normalize("NFKD", (text or "").casefold())
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    spaced = "".join(ch if ch.isalnum() else " " for ch in bare)
    return " ".join(spaced.replace("ı", "i").split())


_COMPILED = {
    lang: ([re.compile(p) for p in REVOKE[lang]], [re.compile(p) for p in HINTS.get(lang, ())])
    for lang in LANGUAGES
}
_NEGATION = re.compile(NEGATIONS)


def phrase_classify(text: str, *, language: str = "") -> PhraseMatch:
    """Whether a reply revokes consent by phrase (the contact's language first, then all)."""
    folded = fold_text(text)
    if not folded:
        return PhraseMatch("")
    first = language.split("-")[0].lower()
    order = ([first] if first in _COMPILED else []) + [lang for lang in LANGUAGES if lang != first]
    negated = _NEGATION.search(folded)
    hint = None
    for lang in order:
        revoke, hints = _COMPILED[lang]
        for pattern in revoke:
            if pattern.search(folded):
                if negated:
                    return PhraseMatch("ambiguous", lang, _NEGATION.pattern)
                return PhraseMatch("revoke", lang, pattern.pattern)
        if hint is None:
            for pattern in hints:
                if pattern.search(folded):
                    hint = PhraseMatch("ambiguous", lang, pattern.pattern)
                    break
    return hint or PhraseMatch("")


def review_due(received_at: dt.datetime, business_days: int = REVIEW_BUSINESS_DAYS) -> dt.date:
    """The date by which an ambiguous reply must be decided: N business days (Mon–Fri) later."""
    day = received_at.date()
    left = business_days
    while left:
        day += dt.timedelta(days=1)
        if day.weekday() < 5:
            left -= 1
    return day


def inbound_revocation_check(
    *, contact_id: int | None, inbound_id: int, text: str, received_at: dt.datetime
) -> str:
    """Phrase rules for an inbound reply with no keyword: "opt_out" when it clearly revokes.

    A clear revocation opts the contact out here (source "phrase", the matched rule in the
    note) and answers "opt_out" so the inbound path confirms it like STOP; an ambiguous one is
    flagged for review with its due date (once per inbound message) and answers "".
    """
    from contacts.models import ConsentSource, RevocationReview
    from contacts.services import contacts_opt_out

    if contact_id is None:
        return ""
    match = phrase_classify(text)
    if match.kind == "revoke":
        contacts_opt_out(
            contact_ids=[contact_id],
            source=ConsentSource.PHRASE,
            note=f"reply phrase ({match.language}): {text}"[:500],
        )
        return "opt_out"
    if match.kind == "ambiguous":
        RevocationReview.objects.get_or_create(
            inbound_id=inbound_id,
            defaults={
                "contact_id": contact_id,
                "text": text[:2000],
                "language": match.language,
                "received_at": received_at,
                "due_on": review_due(received_at),
            },
        )
    return ""


def revocation_review_oldest_open() -> "RevocationReview | None":
    """The open review due first (the dashboard's "oldest open"), or None."""
    from contacts.models import RevocationReview

    return (
        RevocationReview.objects.filter(resolved_at__isnull=True).order_by("due_on", "id").first()
    )
