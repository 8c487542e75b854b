"""Autonomy earned from evidence: proposals to let the bot answer an intent alone (people
approved its drafts unchanged), or to stop it (people marked its answers wrong), and what
a change of rules would do, estimated from the last days' drafts.

The thresholds, documented in the README (Confidence rules):
- send alone: of the last SAMPLE drafts of an intent a person decided with a confidence
  at least a band's lower bound, at least MIN_SAMPLE and a share of UNCHANGED_SHARE
  approved unchanged, and as large a share of at least MIN_IN_BAND of them just above the
  bound (within BAND_WIDTH); the lowest such bound of PROPOSED_THRESHOLDS is proposed.
  "other" is never proposed: it is whatever fits no intent.
- withdraw: WRONG_LIMIT or more of the last WRONG_WINDOW automatic answers of an
  intent allowed alone were marked wrong.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.service import get_account, put_policy
from app.audit.service import record
from app.core.clock import utc_now
from app.errors import Conflict
from app.models import Draft, DraftStatus, ReplyMark, User
from app.moderation.marks import sent_alone
from app.moderation.stats import DECIDED
from app.policy.estimate import would_send
from app.policy.schemas import Policy
from app.policy.words import intent_words
from app.users.members import ensure_owner

SAMPLE, MIN_SAMPLE, UNCHANGED_SHARE = 50, 20, 0.95
PROPOSED_THRESHOLDS = (0.7, 0.8, 0.9)
BAND_WIDTH, MIN_IN_BAND = 0.1, 5
WRONG_WINDOW, WRONG_LIMIT = 20, 2
ESTIMATE_DAYS = 14
HISTORY_LIMIT = 5000
NEVER_PROPOSED = {"other"}
Kind = Literal["send_alone", "withdraw"]


@dataclass(frozen=True)
class Estimate:
    before: float  # answers a day sent without review under the current rules
    after: float
    drafts: int  # drafts of the last ESTIMATE_DAYS days it is based on
    days: int = ESTIMATE_DAYS


@dataclass(frozen=True)
class Proposal:
    kind: Kind
    intent: str
    evidence: str
    question: str
    policy: Policy  # the rules once accepted
    estimate: Estimate

    @property
    def min_confidence(self) -> float | None:
        return self.policy.intent_min_confidence.get(self.intent)


def a_day(rate: float) -> str:
    """A rate in words: "about 40 answers a day"."""
    if rate >= 1.5:
        return f"about {rate:.0f} answers a day"
    if rate >= 0.5:
        return "about one answer a day"
    return "fewer than one answer a day" if rate > 0 else "no answers"


def changes(before: Policy, after: Policy) -> list[str]:
    """What a change of the owner's rules does, one sentence each."""
    lines = []
    if before.mode != after.mode:
        lines.append(f"Mode: {before.mode} becomes {after.mode}.")
    if before.min_confidence != after.min_confidence:
        lines.append(
            f"Minimum confidence: {before.min_confidence:.2f} becomes {after.min_confidence:.2f}."
        )
    for intent in sorted(set(before.auto_intents) - set(after.auto_intents)):
        lines.append(f"{_capital(intent_words(intent))} will wait for review.")
    for intent in sorted(set(after.auto_intents) - set(before.auto_intents)):
        lines.append(f"{_capital(intent_words(intent))} may be sent without review.")
    for intent in sorted(set(before.intent_min_confidence) | set(after.intent_min_confidence)):
        old, new = before.threshold(intent), after.threshold(intent)
        if old != new:
            lines.append(
                f"{_capital(intent_words(intent))}: minimum confidence {old:.2f} becomes {new:.2f}."
            )
    return lines


def _capital(words: str) -> str:
    return words[:1].upper() + words[1:]


async def estimate(
    session: AsyncSession, *, account_id: int, before: Policy, after: Policy
) -> Estimate:
    since = utc_now() - timedelta(days=ESTIMATE_DAYS)
    rows = await session.execute(
        select(Draft.intent, Draft.confidence, Draft.decision, Draft.reasons).where(
            Draft.account_id == account_id,
            Draft.created_at >= since,
            Draft.status != DraftStatus.SUPERSEDED,
        )
    )
    counts = [0, 0]
    drafts = 0
    for intent, confidence, decision, reasons in rows:
        drafts += 1
        for n, policy in enumerate((before, after)):
            facts = {"intent": intent, "confidence": confidence, "decision": decision}
            counts[n] += would_send(policy, **facts, reasons=list(reasons or ()))
    return Estimate(
        before=counts[0] / ESTIMATE_DAYS, after=counts[1] / ESTIMATE_DAYS, drafts=drafts
    )


def _unchanged(status: DraftStatus, text: str, final_text: str | None) -> bool:
    edited = final_text is not None and final_text.strip() != text.strip()
    return status != DraftStatus.REJECTED and not edited


async def _decisions(session: AsyncSession, account_id: int) -> dict[str, list[tuple[float, bool]]]:
    """Per intent, newest first: (confidence, approved unchanged) of person decisions."""
    rows = await session.execute(
        select(Draft.intent, Draft.confidence, Draft.status, Draft.text, Draft.final_text)
        .where(
            Draft.account_id == account_id,
            Draft.decided_by_user_id.is_not(None),
            Draft.status.in_(DECIDED),
        )
        .order_by(Draft.id.desc())
        .limit(HISTORY_LIMIT)
    )
    found: dict[str, list[tuple[float, bool]]] = defaultdict(list)
    for intent, confidence, status, text, final_text in rows:
        found[intent].append((confidence, _unchanged(status, text, final_text)))
    return found


async def _auto_marks(session: AsyncSession, account_id: int) -> dict[str, list[str | None]]:
    """Per intent, newest first: the mark of each reply sent alone (None: unmarked)."""
    rows = await session.execute(
        select(Draft.intent, ReplyMark.mark)
        .outerjoin(ReplyMark, ReplyMark.draft_id == Draft.id)
        .where(Draft.account_id == account_id, sent_alone())
        .order_by(Draft.id.desc())
        .limit(HISTORY_LIMIT)
    )
    found: dict[str, list[str | None]] = defaultdict(list)
    for intent, mark in rows:
        found[intent].append(mark)
    return found


def wrong_lately(marks: list[str | None]) -> int:
    return sum(mark == "wrong" for mark in marks[:WRONG_WINDOW])


def _earned(decisions: list[tuple[float, bool]]) -> tuple[float, int, int] | None:
    """The lowest threshold the evidence supports: (threshold, unchanged, sample). The
    drafts just above it must support it too (MIN_IN_BAND of them within BAND_WIDTH), so
    that drafts at 0.95 do not vouch for a threshold of 0.70."""
    for threshold in PROPOSED_THRESHOLDS:
        sample = [ok for confidence, ok in decisions if confidence >= threshold][:SAMPLE]
        band = [
            ok
            for confidence, ok in decisions[: SAMPLE * 4]
            if threshold <= confidence < threshold + BAND_WIDTH
        ]
        if len(sample) < MIN_SAMPLE or len(band) < MIN_IN_BAND:
            continue
        unchanged = sum(sample)
        if unchanged >= UNCHANGED_SHARE * len(sample) and sum(band) >= UNCHANGED_SHARE * len(band):
            return threshold, unchanged, len(sample)
    return None


def _grant(policy: Policy, intent: str, earned: tuple[float, int, int]) -> tuple[Policy, str, str]:
    threshold, unchanged, sample = earned
    words = intent_words(intent)
    after = policy.model_copy(
        update={
            "auto_intents": list(dict.fromkeys([*policy.auto_intents, intent])),
            "intent_min_confidence": {**policy.intent_min_confidence, intent: threshold},
        }
    )
    evidence = (
        f"{_capital(words)}: {unchanged} of the last {sample} with a confidence "
        f"of at least {threshold:.2f} were approved unchanged."
    )
    return after, evidence, f"Send them automatically at a confidence of at least {threshold:.2f}?"


def _withdraw(policy: Policy, intent: str, wrong: int, seen: int) -> tuple[Policy, str, str]:
    words = intent_words(intent)
    after = policy.model_copy(
        update={"auto_intents": [i for i in policy.auto_intents if i != intent]}
    )
    evidence = (
        f"{_capital(words)}: {wrong} of the last {seen} sent automatically were marked wrong."
    )
    return after, evidence, f"Stop sending {words} automatically? They will wait for review."


async def proposals(session: AsyncSession, *, account_id: int, policy: Policy) -> list[Proposal]:
    """What the history supports changing; call after `ensure_access`."""
    decisions = await _decisions(session, account_id)
    marks = await _auto_marks(session, account_id)
    found: list[tuple[Kind, str, tuple[Policy, str, str]]] = []
    for intent in sorted(set(decisions) | set(marks)):
        wrong = wrong_lately(marks.get(intent, []))
        if intent in policy.auto_intents and wrong >= WRONG_LIMIT:
            seen = min(len(marks[intent]), WRONG_WINDOW)
            found.append(("withdraw", intent, _withdraw(policy, intent, wrong, seen)))
            continue
        earned = _earned(decisions.get(intent, []))
        if intent in NEVER_PROPOSED or earned is None or wrong >= WRONG_LIMIT:
            continue
        allowed = intent in policy.auto_intents
        if not allowed or policy.threshold(intent) > earned[0] + 1e-9:
            found.append(("send_alone", intent, _grant(policy, intent, earned)))
    result = []
    for kind, intent, (after, evidence, question) in found:
        guess = await estimate(session, account_id=account_id, before=policy, after=after)
        result.append(Proposal(kind, intent, evidence, question, after, guess))
    return result


async def accept_proposal(
    session: AsyncSession, *, user: User, account_id: int, kind: str, intent: str
) -> Proposal:
    """Applies a proposal the history still supports (409 when it no longer does)."""
    account = await get_account(session, user=user, account_id=account_id)
    await ensure_owner(session, user, account.id, "which answers are sent automatically")
    policy = Policy.of(account.policy)
    current = await proposals(session, account_id=account.id, policy=policy)
    chosen = next((p for p in current if (p.kind, p.intent) == (kind, intent)), None)
    if chosen is None:
        raise Conflict("this proposal no longer applies; nothing was changed")
    await put_policy(session, user=user, account_id=account.id, policy=chosen.policy)
    await record(
        session,
        action="policy.proposal_accepted",
        user=user,
        account_id=account.id,
        details={"kind": kind, "intent": intent, "evidence": chosen.evidence},
    )
    return chosen


async def pause_intent(
    session: AsyncSession, *, user: User, account_id: int, intent: str
) -> Policy:
    """Stops sending an intent's answers alone: they wait for review from now on."""
    account = await get_account(session, user=user, account_id=account_id)
    await ensure_owner(session, user, account.id, "which answers are sent automatically")
    policy = Policy.of(account.policy)
    if intent not in policy.auto_intents:
        return policy
    after = policy.model_copy(
        update={"auto_intents": [i for i in policy.auto_intents if i != intent]}
    )
    await put_policy(session, user=user, account_id=account.id, policy=after)
    await record(
        session,
        action="policy.intent_paused",
        user=user,
        account_id=account.id,
        details={"intent": intent},
    )
    return after
