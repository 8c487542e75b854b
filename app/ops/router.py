"""Liveness, readiness and metrics."""

from __future__ import annotations

from alembic.config import Config
from alembic.script import ScriptDirectory
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text

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
    database does not (`inboxpilot_database_up 0`)."""
    runtime: Runtime | None = getattr(request.app.state, "runtime", None)
    body = await render(None if runtime is None else runtime.engine)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
