"""Revocation by phrase, in every shipped language; ambiguous replies flagged with a due date."""

import datetime as dt

import pytest

from contacts.phrases import LANGUAGES, fold_text, phrase_classify, review_due

# (language, reply) pairs that clearly revoke consent: every shipped language has some.
REVOKES = {
    "en": ["please stop texting me", "Stop messaging me!", "Remove me from your list",
           "unsubscribe me please", "Don't text me again", "no more messages thanks",
           "leave me alone", "opt me out", "ok please stop"],
    "fr": ["arrêtez svp", "Arrêtez de m'envoyer des SMS", "désabonnez-moi",
           "je ne veux plus recevoir vos messages", "ne m'envoyez plus rien", "supprimez moi"],
    "es": ["no me envíen más mensajes", "dejen de escribirme", "quiero darme de baja",
           "por favor denme de baja", "bórrenme de la lista"],
    "pt": ["parem de me enviar mensagens", "não quero mais receber", "me descadastre",
           "não me mandem mais nada", "remover meu número"],
    "de": ["keine Nachrichten mehr bitte", "Hören Sie auf damit", "bitte abmelden",
           "tragen Sie mich aus", "ich möchte keine SMS"],
    "it": ["non voglio più ricevere messaggi", "smettete di scrivermi", "cancellatemi",
           "disiscrivimi per favore", "non mandatemi più nulla"],
    "nl": ["geen berichten meer aub", "stop met sturen", "schrijf me uit", "uitschrijven graag",
           "verwijder mijn nummer"],
    "tr": ["mesaj göndermeyin", "beni listeden çıkarın", "bir daha mesaj göndermeyin",
           "istemiyorum"],
}  # fmt: skip

AMBIGUOUS = {
    "en": ["can I stop these later?", "don't stop, I love these", "how do I unsubscribe?"],
    "fr": ["c'est quoi stop ?", "ne arrêtez pas"],
    "es": ["¿cómo me doy de baja?", "alto ahí, ¿quién es?"],
    "pt": ["como faço para sair?", "não quero perder as promoções"],
    "de": ["was heißt stopp?", "wie kann ich mich abmeldung machen?"],
    "it": ["basta così per oggi?", "come smetto?"],
    "nl": ["hoe stoppen?", "geen idee wie dit is"],
    "tr": ["iptal nasıl?", "dur bir dakika"],
}

NOT_ABOUT_STOPPING = [
    "Thanks, see you Saturday",
    "merci beaucoup",
    "¿a qué hora abren?",
    "obrigado!",
    "Danke schön",
    "grazie mille",
    "dank je wel",
    "teşekkürler",
    "",
    "   ",
    "👍",
]


def test_every_shipped_language_has_revocation_and_ambiguity_cases() -> None:
    assert set(REVOKES) == set(LANGUAGES) == set(AMBIGUOUS)


@pytest.mark.parametrize(
    ("language", "text"), [(lang, t) for lang, texts in REVOKES.items() for t in texts]
)
def test_clear_revocations_opt_out(language, text) -> None:
    match = phrase_classify(text)
    assert match.kind == "revoke", (text, match)
    # The contact's language, when known, is tried first and gives the same answer.
    assert phrase_classify(text, language=language).kind == "revoke"


@pytest.mark.parametrize(
    ("language", "text"), [(lang, t) for lang, texts in AMBIGUOUS.items() for t in texts]
)
def test_ambiguous_replies_are_flagged_not_acted_on(language, text) -> None:
    assert phrase_classify(text, language=language).kind == "ambiguous", text


@pytest.mark.parametrize("text", NOT_ABOUT_STOPPING)
def test_other_replies_are_left_alone(text) -> None:
    assert phrase_classify(text).kind == ""


def test_folding_ignores_case_accents_and_punctuation() -> None:
    assert fold_text("  Arrêtez, SVP !!") == "arretez svp"
    assert fold_text("ÇIKARIN") == "cikarin"


def test_the_review_is_due_ten_business_days_later() -> None:
    friday = dt.datetime(2026, 12, 4, 18, 0, tzinfo=dt.UTC)
    assert review_due(friday) == dt.date(2026, 12, 18)  # two weekends skipped
    monday = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)
    assert review_due(monday) == dt.date(2026, 12, 21)
