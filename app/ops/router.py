"""Liveness, readiness and metrics."""

from __future__ import annotations

import hmac

from alembic.config import Config
from alembic.script import ScriptDirectory
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text

from app.config import Settings
from app.core.paths import ALEMBIC_INI
from app.ops.metrics import render
from app.runtime import Runtime

router = APIRouter(tags=["ops"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


def _head_revision() -> str | None:
    return ScriptDirectory.from_config(Config(str(ALEMBIC_INI))).get_current_head()


@router.get("/readyz")
async def readyz(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    try:
        async with runtime.engine.connect() as conn:
            current = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
    except Exception as exc:
        return JSONResponse(
            {"status": "unavailable", "detail": type(exc).__name__}, status_code=503
        )
    head = _head_revision()
    if current != head:
        return JSONResponse(
            {"status": "migrations pending", "current": current, "head": head}, status_code=503
        )
    return JSONResponse({"status": "ready", "revision": current})


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    """This process's counters, plus the database-wide backlog; answers even when the
    database does not (`inboxpilot_database_up 0`). With METRICS_TOKEN set, only to
    `Authorization: Bearer <METRICS_TOKEN>`."""
    settings: Settings = request.app.state.settings
    if not metrics_authorized(settings, request.headers.get("authorization")):
        return JSONResponse(
            {"detail": "a valid metrics token is required"},
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )
    runtime: Runtime | None = getattr(request.app.state, "runtime", None)
    body = await render(None if runtime is None else runtime.engine)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


def metrics_authorized(settings: Settings, authorization: str | None) -> bool:
    """True without METRICS_TOKEN; else when the header carries it (constant-time compare)."""
    if settings.METRICS_TOKEN is None:
        return True
    scheme, _, given = (authorization or "").partition(" ")
    expected = settings.METRICS_TOKEN.get_secret_value().encode()
    # As bytes: compare_digest refuses str with non-ASCII characters (a TypeError, a 500).
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), expected)
