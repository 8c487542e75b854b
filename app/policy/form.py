"""Checks of a draft's form, independent of the model: it fits in one message of the
platform, carries few links and emoji, and names no one else's personal data.

A draft failing any of them goes to a moderator with the reason; none rewrites the text.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from app.policy.reasons import Reason, ReasonCode

# Meta's limits: Instagram counts UTF-8 bytes, Messenger characters.
INSTAGRAM_MAX_BYTES = 1000
MESSENGER_MAX_CHARS = 2000
# Instagram's tone: a DM with more than this reads like spam.
MAX_LINKS = 2
MAX_EMOJI = 6

_LINK = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_HANDLE = re.compile(r"(?<![\w@./])@([A-Za-z0-9._]{2,30})")
_PHONE = re.compile(r"(?<![\w+])(?:\+|00|0)\d[\d ()./-]{6,}\d(?!\w)")
_DATE_SHAPED = re.compile(r"\d{1,4}[./-]\d{1,2}[./-]\d{1,4}")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){3,7}(?: ?[A-Z0-9]{1,3})?\b")


def _is_emoji(char: str) -> bool:
    return ord(char) >= 0x2190 and unicodedata.category(char) == "So"


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def form_problems(reply: str, *, platform: str, known_texts: Sequence[str]) -> list[Reason]:
    """What is wrong with the draft's form, as reasons for a moderator; [] when nothing.

    `known_texts` are the catalog entries and the conversation (the follower's own
    words included): personal data found there is not someone else's.
    """
    too_long, too_many = ReasonCode.TOO_LONG, ReasonCode.TOO_MANY_LINKS_OR_EMOJI
    problems: list[Reason] = []
    if platform == "instagram" and len(reply.encode()) > INSTAGRAM_MAX_BYTES:
        text = f"longer than one Instagram message ({INSTAGRAM_MAX_BYTES} bytes)"
        problems.append(Reason(too_long, text))
    if platform == "messenger" and len(reply) > MESSENGER_MAX_CHARS:
        text = f"longer than one Messenger message ({MESSENGER_MAX_CHARS} characters)"
        problems.append(Reason(too_long, text))
    links = len(_LINK.findall(reply))
    if links > MAX_LINKS:
        problems.append(Reason(too_many, f"{links} links (at most {MAX_LINKS} sent automatically)"))
    emoji = sum(_is_emoji(char) for char in reply)
    if emoji > MAX_EMOJI:
        problems.append(Reason(too_many, f"{emoji} emoji (at most {MAX_EMOJI} sent automatically)"))
    problems.extend(_personal_data(reply, known_texts))
    return problems


def _personal_data(reply: str, known_texts: Sequence[str]) -> list[Reason]:
    known = "\n".join(known_texts)
    known_lower = known.casefold()
    known_digits = {_digits(m.group()) for m in _PHONE.finditer(known)}
    known_digits |= {_digits(m.group()) for m in _IBAN.finditer(known)}
    found: list[str] = []
    for email in _EMAIL.findall(reply):
        if email.casefold() not in known_lower:
            found.append(f"an email address not from the catalog or the conversation ({email})")
    without_emails = _IBAN.sub(" ", _EMAIL.sub(" ", _LINK.sub(" ", reply)))
    for handle in _HANDLE.findall(without_emails):
        if f"@{handle}".casefold() not in known_lower:
            found.append(f"mentions @{handle}, who is not in the catalog or the conversation")
    for match in _PHONE.finditer(without_emails):
        digits = _digits(match.group())
        if _DATE_SHAPED.fullmatch(match.group().strip()):
            continue  # "bis 01.06.2027" is a date, not a phone number
        if len(digits) >= 8 and digits not in known_digits:
            found.append("a phone number not from the catalog or the conversation")
    for match in _IBAN.finditer(reply):
        if _digits(match.group()) not in known_digits:
            found.append("a bank account number not from the catalog or the conversation")
    return [Reason(ReasonCode.PERSONAL_DATA, f"personal data: {item}") for item in found]
