"""create_app(settings): routers, error handlers, and the lifespan that builds the runtime."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import structlog
from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.accounts.oauth_router import router as connect_router
from app.accounts.router import router as accounts_router
from app.catalog.router import router as catalog_router
from app.comments.router import router as comment_triggers_router
from app.config import Settings
from app.conversations.router import router as conversations_router
from app.core.body_limit import BodyLimit
from app.core.request_id import RequestIdMiddleware
from app.core.security_headers import SecurityHeaders
from app.errors import AppError
from app.inbox.writer import InboxWriter
from app.links.router import router as links_router
from app.meta.webhook import WebhookReceiver
from app.meta.webhook import router as webhook_router
from app.moderation.router import router as drafts_router
from app.notifications.push import vapid_keys
from app.ops.router import router as ops_router
from app.ops.tracing import Tracing, create_tracing
from app.privacy.router import router as privacy_router
from app.registry import build_worker
from app.reports.router import router as reports_router
from app.runtime import open_runtime
from app.ui.alerts import router as alert_pages
from app.ui.audit import router as audit_pages
from app.ui.catalog import router as catalog_pages
from app.ui.conversations import router as conversation_pages
from app.ui.people import router as user_pages
from app.ui.queue import router as queue_pages
from app.ui.reports import router as report_pages
from app.ui.simulator import router as simulator_pages
from app.users.router import router as users_router
from app.web import SignInRequired, error_page, wants_page
from app.worker.router import router as worker_router

log = structlog.get_logger("app")


def create_app(settings: Settings, *, run_worker: bool = False) -> FastAPI:
    tracing = create_tracing(settings, role="web")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            async with _running(app, tracing):
                yield
        finally:
            if tracing is not None:
                tracing.shutdown()

    @asynccontextmanager
    async def _running(app: FastAPI, tracing: Tracing | None) -> AsyncIterator[None]:
        async with open_runtime(settings, tracing=tracing) as runtime:
            # An in-process worker hears of new webhooks at once instead of at its next poll.
            worker = build_worker(runtime) if run_worker else None
            writer = InboxWriter(runtime.engine, on_stored=None if worker is None else worker.wake)
            await writer.start()
            app.state.runtime = runtime
            app.state.inbox_writer = writer
            stop = asyncio.Event()
            worker_task = None
            if worker is not None:
                worker_task = asyncio.create_task(worker.run_forever(stop))
            try:
                yield
            finally:
                stop.set()
                if worker_task is not None:
                    # The worker bounds its own shutdown (SHUTDOWN_GRACE_SECONDS); a timeout
                    # here must not skip flushing the webhook writer below.
                    with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                        await asyncio.wait_for(worker_task, timeout=30)
                await writer.stop()

    app = FastAPI(
        title="inboxpilot",
        version="0.1.0",
        summary="Grounded replies to an influencer's Instagram and Messenger DMs",
        lifespan=lifespan,
        # Swagger UI from our own static files (see _add_docs), never from a CDN; no ReDoc.
        docs_url=None,
        redoc_url=None,
        # Tracing is ours (OTEL_TRACING, app/ops/tracing.py), metrics are
        # Prometheus': FastAPI's own OpenTelemetry hook would only look for global
        # providers on every request (1-2% of an acknowledgement's CPU).
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    if settings.VAPID_PRIVATE_KEY is not None:
        vapid_keys(settings)  # a key that does not load fails here, not on the alerts page
    if not settings.sandbox and settings.METRICS_TOKEN is None:
        # Kept public rather than refused: the figures hold no personal data or text, and
        # a scraper set up before METRICS_TOKEN existed keeps working (docs/operations.md).
        log.warning("metrics.public", hint="set METRICS_TOKEN to require a bearer token")
    for router in (
        webhook_router,
        ops_router,
        accounts_router,
        catalog_router,
        comment_triggers_router,
        drafts_router,
        conversations_router,
        worker_router,
        users_router,
        connect_router,
        privacy_router,
        reports_router,
        links_router,
        queue_pages,
        conversation_pages,
        catalog_pages,
        simulator_pages,
        user_pages,
        alert_pages,
        audit_pages,
        report_pages,
    ):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    _add_docs(app)
    _add_error_handlers(app)
    app.add_middleware(BodyLimit, max_bytes=settings.MAX_REQUEST_BODY_BYTES)
    app.add_middleware(SecurityHeaders)  # the 413s too; not the webhook receiver's answers
    app.add_middleware(WebhookReceiver)
    app.add_middleware(RequestIdMiddleware)  # outermost: the webhook receiver's answers too
    if tracing is not None:
        tracing.instrument_app(app)
    return app


DOCS_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>inboxpilot API</title>
  <link rel="stylesheet" href="/static/swagger-ui/swagger-ui.css">
  <script src="/static/swagger-ui/swagger-ui-bundle.js" defer></script>
  <script src="/static/swagger-ui/init.js" defer></script>
</head>
<body><div id="swagger-ui"></div></body>
</html>
"""


def _add_docs(app: FastAPI) -> None:
    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(DOCS_PAGE)


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def app_error(request: Request, exc: AppError) -> Response:
        if isinstance(exc, SignInRequired):
            return RedirectResponse(exc.location, status_code=303)
        if wants_page(request):
            # A page a role may not see, an id of another account's: a page, not raw JSON.
            return error_page(request, exc.status_code, exc.message, link_home=True)
        return JSONResponse({"detail": exc.message}, status_code=exc.status_code)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        # An unknown address typed or followed in a browser: a page, not raw JSON.
        if exc.status_code in (404, 405) and wants_page(request):
            message = "there is no page at this address"
            return error_page(request, exc.status_code, message, link_home=True)
        return await http_exception_handler(request, exc)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        return JSONResponse({"detail": errors}, status_code=422)
