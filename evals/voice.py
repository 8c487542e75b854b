"""Would a moderator approve the draft unchanged? The voice measurement (issue 13, point 6).

The set's messages are answered in file order by an account whose influencer has a voice:
a greeting and a sign-off per language (`VOICE`), written in the persona as
`Greeting (xx):` / `Sign-off:` lines. After each message labelled `auto`, a moderator
approves the correct answer (the scripted `good` answer) edited into that voice, and
that approval joins the account's history, from which the next drafts take their
examples exactly as production does (`app.drafting.examples`: same language, intent,
edited first, similar, recent, scrubbed).

A draft of a message labelled `auto` is **approved unchanged** when all of these hold:

- **right content**: it does not ask for a person, states nothing the labelled products
  do not back and no code that may not go out (`judge.unsafe_reasons`), calls no valid
  code expired, and for a code request about a product with a valid code, gives it;
- **right language**: the draft's language is the label's;
- **the influencer's voice**: it opens with the greeting of that language and ends with
  the sign-off.

Two drafters: `offline` (production) and `good`, the scripted model, which cannot read
instructions: what it does with its prompt is copy the greeting and sign-off that the
examples of its language in the `<examples>` section share. Its figure therefore
measures the examples path (chosen, in the right language, scrubbed, in the prompt), not
a model's obedience. Only the development sets are measured (`VOICE_SETS`).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta

from app.drafting.base import Drafter, DraftRequest, DraftResult
from app.drafting.examples import Candidate, examples_for
from app.drafting.offline import OfflineDrafter
from app.drafting.prompt import build_messages
from app.drafting.retrieval import rank_in_conversation
from evals.dataset import Catalog, Message
from evals.evaluate import build_request, run_drafter
from evals.judge import only_valid_codes, says_expired, stated_codes, unsafe_reasons
from evals.scripted import GoodDrafter, correct_answer, labelled_rows

VOICE_SETS = ("dev", "devb")
VOICE_DRAFTERS = ("offline", "good")
GREETINGS = {
    "de": "Hallo ihr Lieben!",
    "en": "Hey lovely!",
    "es": "¡Hola, guapa!",
    "fr": "Coucou toi !",
    "it": "Ciao bella!",
}
# The scripted model's reading of an example: an opening exclamation, a closing line.
_OPENING = re.compile(r"^(.{1,40}?!)\s")
_START = datetime(2026, 9, 1, tzinfo=UTC)


def sign_off(account_name: str) -> str:
    return f"xx {account_name.split()[0]}"


def voice_persona(account_name: str) -> str:
    lines = [f"Greeting ({lang}): {text}" for lang, text in GREETINGS.items()]
    return "\n".join(
        ["Warm, short, a little playful.", *lines, f"Sign-off: {sign_off(account_name)}"]
    )


def in_voice(reply: str, language: str, account_name: str) -> str:
    """A correct draft as the moderator edits it: the greeting, the answer, the sign-off."""
    return f"{GREETINGS[language]} {reply.strip()}\n{sign_off(account_name)}"


def has_voice(reply: str, language: str, account_name: str) -> bool:
    text = reply.strip()
    return text.startswith(GREETINGS.get(language, "\0")) and text.endswith(sign_off(account_name))


def content_right(message: Message, result: DraftResult, catalog: Catalog, today: date) -> bool:
    """The draft says what a correct answer says (the voice aside)."""
    if result.needs_human or result.language != message.language:
        return False
    if unsafe_reasons(message, result, catalog, today):
        return False
    if says_expired(result.reply) and only_valid_codes(message, catalog, today):
        return False
    if message.intent != "discount_code" or message.ambiguous:
        return True
    good = correct_answer(message, labelled_rows(message, catalog), today).reply
    wanted = set(stated_codes(good, catalog))
    return not wanted or bool(wanted & set(stated_codes(result.reply, catalog)))


def prompt_examples(request: DraftRequest) -> list[dict[str, object]]:
    """The examples section of the system message the LLM would receive, parsed."""
    system = build_messages(request)[0]["content"]
    if "<examples>\n" not in system:
        return []
    body = system.split("<examples>\n", 1)[1].split("\n</examples>", 1)[0]
    body = body.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    examples: list[dict[str, object]] = json.loads(body)
    return examples


def imitate(reply: str, examples: Sequence[dict[str, object]], language: str) -> str:
    """`reply` with the opening and closing line most of the same-language examples share."""
    openings: Counter[str] = Counter()
    closings: Counter[str] = Counter()
    for example in examples:
        text = str(example.get("reply", ""))
        if example.get("language") != language:
            continue
        if opening := _OPENING.match(text):
            openings[opening.group(1)] += 1
        if "\n" in text:
            closings[text.rsplit("\n", 1)[1].strip()] += 1
    if openings:
        reply = f"{openings.most_common(1)[0][0]} {reply}"
    if closings:
        reply = f"{reply}\n{closings.most_common(1)[0][0]}"
    return reply


class VoiceModel:
    """The scripted good model, copying the voice of the examples in its prompt."""

    name = "good"

    def __init__(self, message: Message, catalog: Catalog) -> None:
        self.good = GoodDrafter(message, catalog)

    async def draft(self, request: DraftRequest) -> DraftResult:
        result = await self.good.draft(request)
        reply = imitate(result.reply, prompt_examples(request), result.language)
        return replace(result, reply=reply)


@dataclass(frozen=True, slots=True)
class VoiceFigures:
    """Per drafter, over the messages labelled auto."""

    drafter: str
    labelled_auto: int
    content_right: int
    in_voice: int
    unchanged: int  # right content, language and voice: a moderator approves it as is
    with_examples: int  # drafts whose prompt carried at least one example

    @property
    def unchanged_share(self) -> float:
        return self.unchanged / self.labelled_auto if self.labelled_auto else 1.0


def _approval(message: Message, catalog: Catalog, today: date, account: str, at: int) -> Candidate:
    rows = labelled_rows(message, catalog)
    draft = correct_answer(message, rows, today).reply
    return Candidate(
        intent=message.intent,
        language=message.language,
        text=draft,
        final_text=in_voice(draft, message.language, account),
        product_ids=tuple(product.id for product, _ in rows),
        created_at=_START + timedelta(minutes=at),
        follower_text=message.text,
        names=(),
    )


async def evaluate_voice(
    messages: Sequence[Message], catalog: Catalog, today: date, account_name: str
) -> dict[str, VoiceFigures]:
    counts = {name: Counter[str]() for name in VOICE_DRAFTERS}
    names = {product.id: product.name for product, _ in catalog}
    approvals: list[Candidate] = []
    for position, message in enumerate(messages):
        earlier = [turn.text for turn in message.history]
        matches = rank_in_conversation(message.text, earlier, catalog, 3, today=today)
        request = build_request(message, matches, today, account_name)
        request = replace(request, persona=voice_persona(account_name))
        request = replace(request, examples=examples_for(request, approvals, product_names=names))
        if message.decision != "auto":
            continue
        drafters: dict[str, Drafter] = {
            "offline": OfflineDrafter(),
            "good": VoiceModel(message, catalog),
        }
        for name, drafter in drafters.items():
            result, _ = await run_drafter(drafter, request)
            _tally(counts[name], message, result, catalog, today, account_name, request)
        approvals.append(_approval(message, catalog, today, account_name, position))
    return {
        name: VoiceFigures(
            drafter=name,
            labelled_auto=c["auto"],
            content_right=c["content"],
            in_voice=c["voice"],
            unchanged=c["unchanged"],
            with_examples=c["examples"],
        )
        for name, c in counts.items()
    }


def _tally(
    count: Counter[str],
    message: Message,
    result: DraftResult,
    catalog: Catalog,
    today: date,
    account: str,
    request: DraftRequest,
) -> None:
    right = content_right(message, result, catalog, today)
    voiced = has_voice(result.reply, message.language, account)
    count["auto"] += 1
    count["content"] += right
    count["voice"] += voiced
    count["unchanged"] += right and voiced
    count["examples"] += bool(prompt_examples(request))


def voice_table(figures: dict[str, VoiceFigures]) -> str:
    rows = [
        "| drafter | labelled auto | right content | in the voice | approved unchanged "
        "| prompt had examples |",
        "|---|---|---|---|---|---|",
    ]
    for f in figures.values():
        rows.append(
            f"| {f.drafter} | {f.labelled_auto} | {f.content_right} | {f.in_voice} "
            f"| {f.unchanged} ({f.unchanged_share:.3f}) | {f.with_examples} |"
        )
    return "\n".join(rows)
