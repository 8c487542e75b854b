"""Page: an account's persona and confidence rules, edited through the same service
functions as the JSON API (so validation and audit are the same), beside the approval
statistics that tell which rules would have been safe."""

from __future__ import annotations

from typing import Any, get_args

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from app.accounts import service as accounts
from app.accounts.schemas import AccountUpdate
from app.accounts.service import OWNER_RULES
from app.core.clock import utc_now
from app.deps import Id, RuntimeDep, SessionDep
from app.drafting.cost import daily_budget, spent_today
from app.errors import Forbidden, NotFound
from app.models import Account, User
from app.moderation import autonomy
from app.moderation.stats import approval_stats
from app.outbox.disclosure import (
    DEFAULT_LINES,
    MIN_REPLY_ROOM,
    DisclosureTooLong,
    check_text,
    default_line,
    room_left,
)
from app.policy.schemas import DEFAULT_AUTO_INTENTS, INTENTS, Policy
from app.ui.catalog_forms import field_errors, split_list, text
from app.ui.comment_triggers import router as comment_triggers_router
from app.ui.evidence import router as evidence_router
from app.ui.home import router as home_router
from app.ui.members import router as members_router
from app.users import members
from app.web import CheckedWebUser, WebUser, message_page, not_found_page, page

router = APIRouter(include_in_schema=False)

# The rules this page explains one by one; any rule added to Policy later is still shown
# (as a plain field, with its description) so that nothing is editable only through the API.
KNOWN_RULES = (
    "mode",
    "min_confidence",
    "intent_min_confidence",
    "auto_intents",
    "max_auto_replies_per_conversation_per_day",
    "pause_after_human_reply_minutes",
    "hold_auto_seconds",
    "thank_story_mentions",
    "story_mention_thanks",
)
DEFAULTS = Policy()
# Shown next to the band a share of unchanged approvals at least this high, with this many
# decisions at least: a threshold there would have been safe.
SAFE_SHARE, ENOUGH_DECISIONS = 0.95, 10


def _extra_rules(policy: Policy) -> list[dict[str, Any]]:
    """Rules beyond KNOWN_RULES, with the input that edits them."""
    rules = []
    for name, info in Policy.model_fields.items():
        if name in KNOWN_RULES:
            continue
        types = {info.annotation, *get_args(info.annotation)}
        kind = (
            "bool"
            if bool in types
            else "number"
            if types & {int, float}
            else "list"
            if any(getattr(t, "__origin__", None) is list for t in types)
            else "text"
        )
        value = getattr(policy, name)
        rules.append(
            {
                "name": name,
                "kind": kind,
                "value": ", ".join(map(str, value)) if kind == "list" else value,
                "description": info.description or "",
                "default": getattr(DEFAULTS, name),
            }
        )
    return rules


INTENT_THRESHOLD = "intent_min_confidence."  # one input per intent: "<prefix><intent>"


def _intent_thresholds(form: FormData) -> dict[str, str]:
    return {
        key.removeprefix(INTENT_THRESHOLD): value.strip()
        for key, value in form.multi_items()
        if key.startswith(INTENT_THRESHOLD) and isinstance(value, str) and value.strip()
    }


def _policy_from(form: FormData, current: Policy, *, can_decide: bool) -> dict[str, Any]:
    values: dict[str, Any] = current.model_dump()
    values |= {
        "mode": text(form, "mode"),
        "min_confidence": text(form, "min_confidence"),
        "intent_min_confidence": _intent_thresholds(form),
        "auto_intents": [v for v in form.getlist("auto_intents") if isinstance(v, str)],
        "max_auto_replies_per_conversation_per_day": text(
            form, "max_auto_replies_per_conversation_per_day"
        ),
        "pause_after_human_reply_minutes": text(form, "pause_after_human_reply_minutes"),
        "hold_auto_seconds": text(form, "hold_auto_seconds"),
        "thank_story_mentions": form.get("thank_story_mentions") is not None,
        "story_mention_thanks": text(form, "story_mention_thanks") or None,
    }
    for rule in _extra_rules(current):
        name = rule["name"]
        if rule["kind"] == "bool":
            values[name] = form.get(name) is not None
        elif rule["kind"] == "list":
            values[name] = split_list(text(form, name))
        else:
            values[name] = text(form, name)
    if not can_decide:
        # Their inputs are disabled, so browsers leave them out: what is absent stays. A
        # value that is sent is compared with the stored one (a change is refused).
        present = {key.split(".")[0] for key in form}
        for name in OWNER_RULES:
            if name not in present:
                values[name] = getattr(current, name)
    return values


def _disclosure_from(form: FormData, account: Account) -> tuple[dict[str, Any], dict[str, str]]:
    """The disclosure fields as sent, and a problem with the text. Members who may not
    change them get them disabled, so absent; a forged value is refused when saving."""
    values = {name: text(form, name) for name in ("disclosure", "disclosure_text") if name in form}
    if "disclosure_text" in values:
        try:
            check_text(values["disclosure_text"], account.platform)
        except DisclosureTooLong as exc:
            return values, {"disclosure_text": exc.message}
    return values, {}


def _parse(
    form: FormData, current: Policy, account: Account, *, can_decide: bool
) -> tuple[dict[str, Any], AccountUpdate | None, Policy | None, dict[str, str]]:
    persona, languages = text(form, "persona"), text(form, "languages")
    paused = form.get("paused") is not None
    # The owner's checkbox: disabled for other members, so absent; what is absent stays.
    track_links = form.get("track_links") is not None if can_decide else account.track_links
    shown: dict[str, Any] = {
        "persona": persona,
        "languages": languages,
        "paused": paused,
        "track_links": track_links,
    }
    disclosure, errors = _disclosure_from(form, account)
    shown |= disclosure
    update = policy = None
    try:
        update = AccountUpdate(
            persona=persona,
            languages=split_list(languages),
            paused=paused,
            track_links=track_links,
            **disclosure,
        )
    except ValidationError as exc:
        errors |= field_errors(exc)
    if update is not None and not update.languages:
        errors["languages"] = "at least one language, for example: en"
    values = _policy_from(form, current, can_decide=can_decide)
    unknown = sorted(set(values["auto_intents"]) - set(INTENTS) - set(current.auto_intents))
    if unknown:
        errors["auto_intents"] = f"unknown intent(s): {', '.join(unknown)}"
    known = set(INTENTS) | set(current.intent_min_confidence)
    strange = sorted(set(values["intent_min_confidence"]) - known)
    if strange:
        errors["intent_min_confidence"] = f"unknown intent(s): {', '.join(strange)}"
    try:
        policy = Policy.model_validate(values)
    except ValidationError as exc:
        errors |= field_errors(exc)
    if policy is None and "intent_min_confidence" in errors:
        errors["intent_min_confidence"] = "each threshold is a number from 0 to 1, or empty"
    shown["policy"] = values
    return shown, update, policy, errors


def _changed(account: Account, update: AccountUpdate) -> bool:
    return (
        update.persona != account.persona
        or update.languages != list(account.languages or ())
        or update.paused != account.is_paused
        or update.track_links != account.track_links
        or ("disclosure" in update.model_fields_set and update.disclosure != account.disclosure)
        or (
            "disclosure_text" in update.model_fields_set
            and (update.disclosure_text or None) != account.disclosure_text
        )
    )


async def _render(
    request: Request,
    session: SessionDep,
    web_user: tuple[User, Any],
    account: Account,
    *,
    shown: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    user, web_session = web_user
    policy = Policy.of(account.policy)
    if shown is None:
        shown = {
            "persona": account.persona,
            "languages": ", ".join(account.languages or ()),
            "paused": account.is_paused,
            "track_links": account.track_links,
            "policy": policy.model_dump(),
        }
    shown.setdefault("disclosure", account.disclosure)
    shown.setdefault("disclosure_text", account.disclosure_text or "")
    stats = await approval_stats(session, account_id=account.id)
    settings = request.app.state.settings
    people = await members.list_members(session, user=user, account_id=account.id)
    spending = {
        "today": await spent_today(session, account.id, utc_now()),
        "budget": daily_budget(settings, account),
        "own_budget": account.daily_llm_budget_usd is not None,
        "llm": settings.llm_enabled,
    }
    return page(
        request,
        "settings.html",
        status_code=422 if errors else 200,
        user=user,
        csrf_token=web_session.csrf_token,
        nav="accounts",
        account=account,
        shown=shown,
        errors=errors or {},
        intents=list(dict.fromkeys([*INTENTS, *policy.auto_intents])),
        defaults=DEFAULTS,
        default_intents=DEFAULT_AUTO_INTENTS,
        extra_rules=_extra_rules(policy),
        stats=stats,
        proposals=await autonomy.proposals(session, account_id=account.id, policy=policy),
        a_day=autonomy.a_day,
        min_sample=autonomy.MIN_SAMPLE,
        wrong_limit=autonomy.WRONG_LIMIT,
        wrong_window=autonomy.WRONG_WINDOW,
        accepted=request.query_params.get("accepted", ""),
        spending=spending,
        can_decide=await members.can_decide(session, user, account.id),
        owner=next((m for m in people if m.role == "owner"), None),
        members=people,
        safe_share=SAFE_SHARE,
        enough=ENOUGH_DECISIONS,
        saved=request.query_params.get("saved") == "1",
        disclosure_lines={
            language: default_line(account.name, language) for language in DEFAULT_LINES
        },
        disclosure_room=room_left("", account.platform) - MIN_REPLY_ROOM,
        disclosure_unit="bytes" if account.platform == "instagram" else "characters",
        min_reply_room=MIN_REPLY_ROOM,
        public_url=settings.PUBLIC_URL.rstrip("/"),
    )


# Not carried from the form into the confirmation's hidden inputs.
_NOT_CARRIED = {"csrf_token", "confirmed", "edit"}


async def _confirm(
    request: Request,
    web_user: tuple[User, Any],
    account: Account,
    form: FormData,
    before: Policy,
    after: Policy,
    session: SessionDep,
) -> Response:
    """What a change of the owner's rules will do, before it is saved: the same form again
    as hidden inputs, with `confirmed` (saves) or `edit` (back to the form, as typed)."""
    user, web_session = web_user
    guess = await autonomy.estimate(session, account_id=account.id, before=before, after=after)
    return page(
        request,
        "settings_confirm.html",
        user=user,
        csrf_token=web_session.csrf_token,
        nav="accounts",
        account=account,
        changes=autonomy.changes(before, after),
        estimate=guess,
        a_day=autonomy.a_day,
        mode=after.mode,
        carried=[
            (key, value)
            for key, value in form.multi_items()
            if key not in _NOT_CARRIED and isinstance(value, str)
        ],
    )


@router.get("/accounts/{account_id}/settings", response_class=HTMLResponse)
async def settings_page(
    request: Request, account_id: Id, session: SessionDep, web_user: WebUser
) -> Response:
    try:
        account = await accounts.get_account(session, user=web_user[0], account_id=account_id)
    except NotFound:
        return not_found_page(request, web_user[0])
    return await _render(request, session, web_user, account)


@router.post("/accounts/{account_id}/settings", response_class=HTMLResponse)
async def save_settings(
    request: Request,
    account_id: Id,
    session: SessionDep,
    web_user: CheckedWebUser,
    runtime: RuntimeDep,
) -> Response:
    user = web_user[0]
    try:
        account = await accounts.get_account(session, user=user, account_id=account_id)
    except NotFound:
        return not_found_page(request, user)
    current = Policy.of(account.policy)
    can_decide = await members.can_decide(session, user, account.id)
    form = await request.form()
    shown, update, policy, errors = _parse(form, current, account, can_decide=can_decide)
    if errors or update is None or policy is None or "edit" in form:
        return await _render(request, session, web_user, account, shown=shown, errors=errors)
    if can_decide and "confirmed" not in form and autonomy.changes(current, policy):
        return await _confirm(request, web_user, account, form, current, policy, session)
    try:
        # The policy first: refused, it leaves nothing half-saved.
        if policy != current:
            await accounts.put_policy(session, user=user, account_id=account.id, policy=policy)
        if _changed(account, update):
            await accounts.update_account(
                session,
                user=user,
                account_id=account.id,
                data=update,
                cipher=runtime.cipher,
                settings=runtime.settings,
                graph=runtime.graph,
            )
    except Forbidden as exc:
        return message_page(
            request,
            "Only the owner can change this",
            exc.message[:1].upper() + exc.message[1:] + ". Nothing was saved.",
            status_code=403,
            link=f"/accounts/{account.id}/settings",
            link_text="Back to the settings",
            user=user,
        )
    return RedirectResponse(f"/accounts/{account.id}/settings?saved=1", status_code=303)


router.include_router(members_router)
router.include_router(comment_triggers_router)
router.include_router(evidence_router)
router.include_router(home_router)
