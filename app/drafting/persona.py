"""The persona's greeting and sign-off, read from the account's persona text.

The persona is one free text the owner writes on the rules page (and `PATCH
/api/v1/accounts/{id}`); the LLM reads all of it. The offline drafter reads only lines
of this shape, documented in docs/llm.md ("Voice"):

    Greeting: Hey you!            (every language without its own line)
    Greeting (de): Hallo ihr Lieben!
    Sign-off: xx Lena
    Sign-off (it): Un abbraccio, Lena

Keys are matched without regard to case; `Sign off`, `Signoff` and `Sign-off` are the
same key; the language is an ISO 639-1 code in brackets.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

ANY_LANGUAGE = "*"
# A line is a frame line only when it starts with the key: prose mentioning a greeting
# ("uses a warm greeting") is not one.
_LINE = re.compile(
    r"^\s*(?P<key>greeting|sign[- ]?off)\s*"
    r"(?:[(\[]\s*(?P<lang>[a-z]{2})\s*[)\]])?\s*:\s*(?P<text>.+?)\s*$",
    re.IGNORECASE | re.MULTILINE,
)
# An opener that a persona greeting replaces: "Hi! ", "¡Hola! ", "Coucou ! ".
_OPENER = re.compile(r"^\S+\s?!\s*")


@dataclass(frozen=True, slots=True)
class Voice:
    greetings: dict[str, str] = field(default_factory=dict)  # language or "*" -> text
    sign_offs: dict[str, str] = field(default_factory=dict)

    def greeting(self, language: str) -> str | None:
        return self.greetings.get(language, self.greetings.get(ANY_LANGUAGE))

    def sign_off(self, language: str) -> str | None:
        return self.sign_offs.get(language, self.sign_offs.get(ANY_LANGUAGE))


def parse_voice(persona: str) -> Voice:
    """The greeting and sign-off lines of `persona`; the last line of a key wins."""
    greetings: dict[str, str] = {}
    sign_offs: dict[str, str] = {}
    for match in _LINE.finditer(persona or ""):
        key = match["key"].lower()
        language = (match["lang"] or ANY_LANGUAGE).lower()
        target = greetings if key == "greeting" else sign_offs
        target[language] = match["text"]
    return Voice(greetings, sign_offs)


def frame(reply: str, voice: Voice, language: str, *, greets: bool = False) -> str:
    """`reply` opened with the persona's greeting and closed with its sign-off in
    `language`, when set. `greets`: the reply is itself a hello ("Hi! How can I help?"),
    whose own opener the persona's greeting replaces."""
    greeting, sign_off = voice.greeting(language), voice.sign_off(language)
    body = reply.strip()
    if greeting:
        if greets:
            body = _OPENER.sub("", body, count=1)
        if not body.casefold().startswith(greeting.casefold()):
            body = f"{greeting} {body}".strip()
    if sign_off and not body.casefold().endswith(sign_off.casefold()):
        body = f"{body}\n{sign_off}"
    return body
