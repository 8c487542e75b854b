"""STOP and START are whole messages; a sentence that contains the word is not one."""

from __future__ import annotations

import pytest

from app.conversations.optout import command_language, read_command


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("STOP", None),
        ("stop", None),
        ("Stop!!!", None),
        ("🛑 STOP 🛑", None),
        ("STOPP", "de"),
        ("stopp bitte", "de"),
        ("Abmelden", "de"),
        ("ARRÊT", "fr"),
        ("arret", "fr"),
        ("Désabonner", "fr"),
        ("BASTA", "it"),
        ("disiscrivimi", "it"),
        ("ALTO", "es"),
        ("Cancelar suscripción", "es"),
        ("UNSUBSCRIBE", "en"),
        ("stop messages", "en"),
        ("please stop", None),
    ],
)
def test_stop_forms(text: str, language: str | None) -> None:
    found = read_command(text)
    assert found is not None
    assert (found.command, found.language) == ("stop", language)


@pytest.mark.parametrize("text", ["START", "start again", "Iniciar", "AVVIA", "Démarrer"])
def test_start_forms(text: str) -> None:
    found = read_command(text)
    assert found is not None
    assert found.command == "start"


@pytest.mark.parametrize(
    "text",
    [
        "stop being so cute",
        "when does the sale stop?",
        "Basta con le domande, qual è il codice?",
        "can't stop using the serum",
        "start of the sale?",
        "",
        None,
        "stop stop stop stop stop stop stop",
    ],
)
def test_sentences_are_not_commands(text: str | None) -> None:
    assert read_command(text) is None


def test_shared_forms_take_the_conversations_language() -> None:
    basta = read_command("basta")
    stop = read_command("STOP")
    assert basta is not None
    assert stop is not None
    assert command_language(basta, "es") == "es"
    assert command_language(basta, "de") == "it"
    assert command_language(stop, "fr") == "fr"
    stopp = read_command("stopp")
    assert stopp is not None
    assert command_language(stopp, "en") == "de"
