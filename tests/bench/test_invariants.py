"""The fault suite's invariant checker (bench/faultsuite/invariants.py): hand-made final
states in, findings out. No database, no processes: it runs in milliseconds."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bench.faultsuite.invariants import (
    ACCEPTABLE,
    DraftRow,
    FinalState,
    Finding,
    JobCount,
    OutboundRow,
    check_invariants,
    classify,
)
from bench.faultsuite.model import Account, Dm

ACCOUNT = Account(0, "instagram", "17841400000100000")
AT = datetime(2026, 12, 7, 7, 0, tzinfo=UTC)
ALIVE = {"web1": True, "web2": True, "worker2": True, "worker3": True, "worker4": True}

ANSWERED = "every DM answered once or queued for a human once"
STORED = "every acknowledged DM stored exactly once (messages, by mid)"
ACKED = "every webhook eventually acknowledged (200), redelivered like Meta"
TWO_REPLIES = "no follower got two replies at the Send API"
RESENT = "no outbound row sent twice (Send API by metadata; out messages per row)"
STUCK = "nothing stuck (inbox events done; no reply job waiting or failed; no send in flight)"
DRAINED = "backlog drained within --drain-timeout"
ALIVE_ROW = "no service process died (except the ones killed on purpose)"


def dm(n: int, *, acked: bool = True) -> Dm:
    return Dm(
        index=n,
        follower=f"f{n}",
        account=ACCOUNT,
        mid=f"mid-{n}",
        at=n / 10,
        acked=1000.0 + n if acked else None,
    )


def outbound(n: int, status: str = "sent", error_code: str | None = None, **kw: Any) -> OutboundRow:
    row: OutboundRow = {
        "follower": f"f{n}",
        "id": 100 + n,
        "status": status,
        "error_code": error_code,
        "attempts": 1,
        "parts": 1,
        "sent_ids": 1 if status == "sent" else 0,
        "last_error": None,
        "created_at": AT,
        "updated_at": AT,
    }
    row.update(kw)  # type: ignore[typeddict-item]  # test data: any field overridden
    return row


def draft(n: int, status: str) -> DraftRow:
    return {"follower": f"f{n}", "status": status, "decision": "auto", "reasons": "[]"}


def answered_state(dms: list[Dm]) -> FinalState:
    """Every DM stored once, one sent outbound row each, one reply each at the fake."""
    rows = [outbound(d.index) for d in dms]
    return {
        "messages": {d.mid: 1 for d in dms},
        "outbound": rows,
        "drafts": [draft(d.index, "sent") for d in dms],
        "out_messages": {row["id"]: 1 for row in rows},
        "events": {"done": len(dms)},
        "jobs": [JobCount(kind="draft_reply", status="done", n=len(dms), periodic=0)],
        "graph": {
            "counts": {d.follower: 1 for d in dms},
            "by_metadata": {f"inboxpilot:{row['id']}": 1 for row in rows},
        },
        "llm": {"calls": len(dms)},
    }


def check(dms: list[Dm], state: FinalState, **kw: Any) -> dict[str, Finding]:
    options: dict[str, Any] = {"drained_at": 42.0, "alive": ALIVE, **kw}
    return {f["invariant"]: f for f in check_invariants(dms, state, **options)}


def broken(findings: dict[str, Finding]) -> set[str]:
    return {name for name, f in findings.items() if not f["held"]}


def outcomes(dms: list[Dm], state: FinalState) -> dict[str, int]:
    return dict(classify(dms, state)[0])


def test_a_clean_run_holds_every_invariant() -> None:
    dms = [dm(n) for n in range(5)]
    findings = check(dms, answered_state(dms))
    assert broken(findings) == set()
    assert len(findings) == 8
    assert outcomes(dms, answered_state(dms)) == {"answered once": 5}
    assert findings[DRAINED]["detail"] == "drained at t=42 s"
    assert findings[ALIVE_ROW]["detail"] == "2 web + 3 workers alive"


def test_an_acknowledged_dm_never_answered_is_lost() -> None:
    dms = [dm(n) for n in range(3)]
    state = answered_state(dms)
    state["outbound"] = [o for o in state["outbound"] if o["follower"] != "f1"]
    del state["graph"]["counts"]["f1"]
    findings = check(dms, state)
    assert broken(findings) == {ANSWERED}
    assert outcomes(dms, state) == {"answered once": 2, "unanswered": 1}
    assert "[unanswered e.g. f1]" in findings[ANSWERED]["detail"]


def test_an_acknowledged_dm_not_stored_is_lost() -> None:
    dms = [dm(n) for n in range(3)]
    state = answered_state(dms)
    del state["messages"]["mid-2"]
    findings = check(dms, state)
    assert broken(findings) == {STORED}
    assert "2/3 stored; missing 1 e.g. mid-2" in findings[STORED]["detail"]


def test_a_dm_stored_twice_breaks_exactly_once() -> None:
    dms = [dm(0)]
    state = answered_state(dms)
    state["messages"]["mid-0"] = 2
    assert broken(check(dms, state)) == {STORED}


def test_a_follower_replied_twice_at_the_send_api_is_doubled() -> None:
    dms = [dm(n) for n in range(2)]
    state = answered_state(dms)
    state["graph"]["counts"]["f0"] = 2
    findings = check(dms, state)
    assert broken(findings) == {ANSWERED, TWO_REPLIES}
    assert outcomes(dms, state)["duplicate: several replies at the Send API"] == 1
    assert "1 got more than one e.g. {'f0': 2}" in findings[TWO_REPLIES]["detail"]


def test_two_outbound_rows_for_one_dm_are_doubled_even_if_one_failed() -> None:
    dms = [dm(0)]
    state = answered_state(dms)
    state["outbound"].append(outbound(0, "failed", "outcome_unknown", id=999))
    assert outcomes(dms, state) == {"duplicate: several outbound rows": 1}
    assert broken(check(dms, state)) == {ANSWERED}


def test_two_live_drafts_are_doubled_but_superseded_ones_are_not() -> None:
    dms = [dm(0)]
    state = answered_state(dms)
    state["drafts"].append(draft(0, "superseded"))
    assert broken(check(dms, state)) == set()
    state["drafts"].append(draft(0, "pending"))
    assert outcomes(dms, state) == {"duplicate: several live drafts": 1}


@pytest.mark.parametrize("delivered", [0, 1])
def test_a_send_parked_outcome_unknown_is_acceptable_if_meta_got_it_at_most_once(
    delivered: int,
) -> None:
    dms = [dm(0), dm(1)]
    state = answered_state(dms)
    state["outbound"][1] = outbound(1, "failed", "outcome_unknown", sent_ids=0)
    state["graph"]["counts"]["f1"] = delivered
    findings = check(dms, state)
    assert broken(findings) == set()
    label = f"parked outcome_unknown, Send API got {delivered}"
    assert label in ACCEPTABLE
    assert outcomes(dms, state) == {"answered once": 1, label: 1}


def test_a_send_parked_outcome_unknown_that_meta_got_twice_is_doubled() -> None:
    dms = [dm(0)]
    state = answered_state(dms)
    state["outbound"][0] = outbound(0, "failed", "outcome_unknown")
    state["graph"]["counts"]["f0"] = 2
    assert broken(check(dms, state)) == {ANSWERED, TWO_REPLIES}


def test_a_pending_draft_is_queued_for_a_human_once() -> None:
    dms = [dm(0), dm(1)]
    state = answered_state(dms)
    state["outbound"] = state["outbound"][:1]
    state["drafts"][1] = draft(1, "pending")
    del state["graph"]["counts"]["f1"]
    assert broken(check(dms, state)) == set()
    assert outcomes(dms, state) == {"answered once": 1, "pending draft (review)": 1}


@pytest.mark.parametrize(
    ("status", "error_code", "label"),
    [
        ("failed", "window_closed", "send failed (window_closed)"),
        ("expired", None, "send failed (None)"),
    ],
)
def test_a_send_that_failed_otherwise_is_a_finding(
    status: str, error_code: str | None, label: str
) -> None:
    dms = [dm(0)]
    state = answered_state(dms)
    state["outbound"][0] = outbound(0, status, error_code)
    state["graph"]["counts"] = {}
    assert outcomes(dms, state) == {label: 1}
    assert broken(check(dms, state)) == {ANSWERED}


def test_sent_per_database_but_never_at_the_send_api_is_a_finding() -> None:
    dms = [dm(0)]
    state = answered_state(dms)
    state["graph"]["counts"] = {}
    assert outcomes(dms, state) == {"sent per database, never reached the Send API": 1}
    assert ANSWERED in broken(check(dms, state))


def test_an_outbound_row_sent_more_often_than_it_has_parts_is_resent() -> None:
    dms = [dm(0), dm(1)]
    state = answered_state(dms)
    state["outbound"][1]["parts"] = 2
    state["graph"]["by_metadata"]["inboxpilot:101"] = 2  # two parts: fine
    state["out_messages"][101] = 2
    assert broken(check(dms, state)) == set()
    state["graph"]["by_metadata"]["inboxpilot:100"] = 2  # one part, sent twice
    findings = check(dms, state)
    assert broken(findings) == {RESENT}
    assert "resent at the Send API: 1; recorded twice: 0" in findings[RESENT]["detail"]


def test_an_outbound_row_recorded_twice_as_a_message_is_resent() -> None:
    dms = [dm(0)]
    state = answered_state(dms)
    state["out_messages"][100] = 2
    assert broken(check(dms, state)) == {RESENT}


def test_metadata_that_is_not_ours_is_ignored() -> None:
    dms = [dm(0)]
    state = answered_state(dms)
    state["graph"]["by_metadata"].update({"smoke": 5, "inboxpilot:abc": 3})
    assert broken(check(dms, state)) == set()


def test_work_left_over_is_stuck_but_periodic_and_finished_side_jobs_are_not() -> None:
    dms = [dm(0)]
    state = answered_state(dms)
    state["jobs"] += [
        JobCount(kind="refresh_tokens", status="queued", n=1, periodic=1),
        JobCount(kind="fetch_profile", status="failed", n=2, periodic=0),
    ]
    assert broken(check(dms, state)) == set()
    for leftover in (
        {"events": {"done": 1, "queued": 1}},
        {"jobs": [JobCount(kind="fetch_profile", status="running", n=1, periodic=0)]},
        {"jobs": [JobCount(kind="send_reply", status="failed", n=1, periodic=0)]},
    ):
        stuck: FinalState = {**state, **leftover}  # type: ignore[typeddict-item]
        assert broken(check(dms, stuck)) == {STUCK}, leftover


def test_an_outbound_row_still_queued_is_stuck_and_not_answered() -> None:
    dms = [dm(0)]
    state = answered_state(dms)
    state["outbound"][0] = outbound(0, "queued")
    state["graph"]["counts"] = {}
    findings = check(dms, state)
    assert broken(findings) == {ANSWERED, STUCK}
    assert outcomes(dms, state) == {"still queued/sending": 1}
    assert "outbound queued/sending: {'queued': 1}" in findings[STUCK]["detail"]


def test_a_dm_never_acknowledged_is_a_finding() -> None:
    dms = [dm(0), dm(1, acked=False)]
    state = answered_state(dms[:1])
    findings = check(dms, state)
    assert broken(findings) == {ACKED, ANSWERED}
    assert findings[ACKED]["detail"] == "1/2 DMs acknowledged; never: ['f1']"
    assert outcomes(dms, state) == {"answered once": 1, "never acknowledged": 1}


def test_a_dm_answered_although_its_acknowledgement_was_lost_is_answered() -> None:
    # A POST that timed out may still have been stored: the reply is not a duplicate.
    dms = [dm(0, acked=False)]
    findings = check(dms, answered_state(dms))
    assert broken(findings) == {ACKED}


def test_not_drained_and_a_dead_process_are_findings() -> None:
    dms = [dm(0)]
    findings = check(dms, answered_state(dms), drained_at=None, alive={**ALIVE, "worker3": False})
    assert broken(findings) == {DRAINED, ALIVE_ROW}
    assert findings[DRAINED]["detail"] == "not drained"
    assert findings[ALIVE_ROW]["detail"] == "worker3"
