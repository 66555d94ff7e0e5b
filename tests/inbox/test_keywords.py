"""Keyword recognition: first word, any case, any accents, punctuation ignored, configurable."""

import pytest

from inbox.keywords import classify, first_word, fold


@pytest.mark.parametrize(
    ("text", "action"),
    [
        ("STOP", "opt_out"),
        ("stop", "opt_out"),
        ("Stop!", "opt_out"),
        ("  sToP please  ", "opt_out"),
        ("*STOP*", "opt_out"),
        ("🛑 STOP", "opt_out"),
        ("Stop promotions", "opt_out"),  # a template's quick-reply button
        ("STOPALL", "opt_out"),
        ("unsubscribe", "opt_out"),
        ("Cancel.", "opt_out"),
        ("end", "opt_out"),
        ("QUIT", "opt_out"),
        ("Arrêt", "opt_out"),  # French, accent ignored
        ("ARRET", "opt_out"),
        ("désabonner", "opt_out"),
        ("¡Alto!", "opt_out"),  # Spanish
        ("baja", "opt_out"),
        ("PARAR", "opt_out"),  # Spanish / Portuguese
        ("Stopp", "opt_out"),  # German
        ("ABMELDEN bitte", "opt_out"),
        ("cancella", "opt_out"),  # Italian
        ("İPTAL", "opt_out"),  # Turkish dotted capital I
        ("ｓｔｏｐ", "opt_out"),  # full-width letters
        ("START", "opt_in"),
        ("start", "opt_in"),
        ("Unstop", "opt_in"),
        ("Anmelden", "opt_in"),
        ("HELP", "help"),
        ("help?", "help"),
        ("Aide", "help"),
        ("ayuda", "help"),
        ("HILFE!", "help"),
        ("aiuto", "help"),
        ("please stop", ""),  # only the first word counts
        ("stopped by the shop", ""),
        ("STOPPER", ""),
        ("", ""),
        ("   ", ""),
        ("!!!", ""),
        ("QUIZ Correct answer is Paris", ""),
    ],
)
def test_classify(text, action) -> None:
    assert classify(text) == action


def test_the_lists_are_settings(settings) -> None:
    settings.HERALD_OPT_OUT_KEYWORDS = ["NEIN"]
    settings.HERALD_OPT_IN_KEYWORDS = ["JA"]
    settings.HERALD_HELP_KEYWORDS = ["HILFE", "NEIN"]
    assert classify("Nein!") == "opt_out"  # on two lists: opt-out wins
    assert classify("ja") == "opt_in"
    assert classify("STOP") == ""


def test_fold_and_first_word() -> None:
    assert fold("«Arrêt»") == "arret"
    assert fold("STRASSE") == fold("Straße")
    assert first_word("... , STOP now") == "stop"
