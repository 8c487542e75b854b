"""The checks in code on a draft, and the decision they feed: one place, used by the draft
job and by the evaluation runner, so the evaluation measures what runs in production."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from app.drafting.base import DraftRequest, DraftResult
from app.policy.form import form_problems
from app.policy.grounding import answer_problems
from app.policy.guardrails import catalog_texts, detect_sensitive
from app.policy.recognise import Recognition, recognise
from app.policy.schemas import Policy
from app.policy.service import Decision, DecisionInput, DraftFacts, decide


def recognise_request(request: DraftRequest) -> Recognition:
    """What our own code makes of the follower's message (the second judge), unless a rule
    of the influencer already says what it asks (`DraftRequest.recognition`)."""
    if request.recognition is not None:
        return request.recognition
    return recognise(
        request.follower_text,
        request.products,
        earlier=[t.text for t in request.history],
        account_name=request.account_name,
        today=request.today,
    )


def _scores(request: DraftRequest, recognition: Recognition) -> dict[int, float]:
    """How surely each retrieved product is the one meant: retrieval's score, and full
    certainty for the products the follower's own words name (`Recognition.named`)."""
    scores = {m.product.id: m.score for m in request.products}
    if recognition.named:
        scores.update(dict.fromkeys(recognition.subject, 1.0))
    return scores


@dataclass(frozen=True, slots=True)
class ConversationState:
    """The account's and the conversation's facts a decision needs, read by the job that
    drafted (the evaluation runner uses the defaults: an active, unpaused account)."""

    account_status: str = "active"
    account_paused: bool = False
    conversation_paused: bool = False
    paused_until: datetime | None = None  # a person replied: the bot waits until then
    standby: bool = False  # another app or a person holds the thread
    opted_out: bool = False  # the follower wrote STOP
    room_for_disclosure: bool = True  # the reply can end with the automatic-reply line
    auto_replies_today: int = 0


def assess(
    request: DraftRequest,
    result: DraftResult,
    error: str | None,
    *,
    policy: Policy,
    now: datetime,
    state: ConversationState = ConversationState(),
) -> Decision:
    """Decides `result` for `request` in the account's and conversation's `state`.

    Two judges must agree before anything goes out alone: the model's answer states only
    true facts of the product asked about (`answer_problems`), and our own code
    recognises the message as a kind the account lets go out alone (`recognise`). The
    model's own doubts (needs_human, confidence, intent) can only hold a draft back."""
    recognition = recognise_request(request)
    # Personal data the catalog or anyone in this conversation wrote is not someone else's.
    known = [
        *(text for match in request.products for text in catalog_texts(match)),
        *(t.text for t in request.history),
        request.follower_text,
    ]
    return decide(
        DecisionInput(
            policy=policy,
            draft=DraftFacts(
                intent=result.intent,
                confidence=result.confidence,
                needs_human=result.needs_human,
                product_ids=result.product_ids,
            ),
            product_scores=_scores(request, recognition),
            sensitive=detect_sensitive(request.follower_text),
            recognised_problem=recognition.problem,
            recognised_intents=recognition.intents,
            ungrounded=[
                *answer_problems(
                    result.reply,
                    matches=request.products,
                    cited=result.product_ids,
                    recognition=recognition,
                    today=request.today,
                ),
                *form_problems(result.reply, platform=request.platform, known_texts=known),
            ],
            drafter_error=error,
            now=now,
            account_status=state.account_status,
            account_paused=state.account_paused,
            conversation_paused=state.conversation_paused,
            paused_until=state.paused_until,
            standby=state.standby,
            opted_out=state.opted_out,
            room_for_disclosure=state.room_for_disclosure,
            auto_replies_today=state.auto_replies_today,
        )
    )
