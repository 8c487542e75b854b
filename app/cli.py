"""The `inboxpilot` command (also `python -m app`)."""

from __future__ import annotations

import asyncio
import getpass
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import ValidationError

from app.config import Settings
from app.errors import AppError

T = TypeVar("T")

cli = typer.Typer(
    add_completion=False, no_args_is_help=True, help="inboxpilot: grounded DM replies."
)
users_cli = typer.Typer(no_args_is_help=True, help="Manage users.")
tokens_cli = typer.Typer(no_args_is_help=True, help="Manage API tokens.")
catalog_cli = typer.Typer(no_args_is_help=True, help="Import the catalog.")
cli.add_typer(users_cli, name="users")
cli.add_typer(tokens_cli, name="tokens")
cli.add_typer(catalog_cli, name="catalog")


def fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=1)


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise fail(f"configuration: {where + ': ' if where else ''}{first['msg']}") from None


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop when installed (it comes with uvicorn[standard]): cheaper socket I/O."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def run(coro_factory: Callable[[Settings], Awaitable[T]]) -> T:
    settings = load_settings()
    try:
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            return runner.run(coro_factory(settings))  # type: ignore[arg-type]
    except AppError as exc:
        raise fail(exc.message) from None
    except OSError as exc:
        raise fail(f"{type(exc).__name__}: {exc}") from None


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
    no_worker: Annotated[
        bool, typer.Option("--no-worker", help="do not run a worker in-process")
    ] = False,
) -> None:
    """The web process: webhooks, API (and a worker unless --no-worker)."""
    import uvicorn

    from app.config import listening_settings
    from app.logging import configure_logging
    from app.main import create_app

    settings = listening_settings(load_settings(), host=host, port=port)
    configure_logging(
        settings.LOG_LEVEL, json=settings.LOG_JSON, personal_data=settings.LOG_PERSONAL_DATA
    )
    mode = "sandbox mode" if settings.sandbox else "Meta mode"
    base = settings.PUBLIC_URL.rstrip("/")
    typer.echo(f"inboxpilot ({mode}) on http://{host}:{port}  (open {base}/, API docs {base}/docs)")
    uvicorn.run(
        create_app(settings, run_worker=not no_worker),
        host=host,
        port=port,
        log_config=None,
        proxy_headers=True,
        # On SIGTERM: stop accepting, let open requests finish for this long, then the
        # lifespan stops the in-process worker and flushes the webhook writer.
        timeout_graceful_shutdown=max(1, round(settings.SHUTDOWN_GRACE_SECONDS)),
    )


@cli.command()
def worker(
    concurrency: Annotated[int | None, typer.Option(help="items handled at once")] = None,
) -> None:
    """A worker process; run any number of them against one PostgreSQL.

    SIGTERM or SIGINT: stop claiming, let the items in flight finish for up to
    SHUTDOWN_GRACE_SECONDS, hand the rest back to the queue, exit 0.
    """
    from app.logging import configure_logging
    from app.ops.metrics import MetricsServer
    from app.ops.tracing import create_tracing
    from app.registry import build_worker
    from app.runtime import open_runtime

    async def main(settings: Settings) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        metrics = None
        if settings.METRICS_PORT is not None:
            metrics = MetricsServer(settings.METRICS_HOST, settings.METRICS_PORT)
        tracing = create_tracing(settings, role="worker")
        try:
            async with open_runtime(settings, tracing=tracing) as runtime:
                await build_worker(runtime, concurrency=concurrency).run_forever(stop)
        finally:
            if metrics is not None:
                metrics.close()
            if tracing is not None:
                tracing.shutdown()

    settings = load_settings()
    configure_logging(
        settings.LOG_LEVEL, json=settings.LOG_JSON, personal_data=settings.LOG_PERSONAL_DATA
    )
    run(main)


@cli.command()
def migrate() -> None:
    """alembic upgrade head on DATABASE_URL."""
    from alembic import command
    from alembic.config import Config

    from app.core.paths import ALEMBIC_INI

    settings = load_settings()
    config = Config(str(ALEMBIC_INI))
    config.attributes["database_url"] = settings.DATABASE_URL
    try:
        command.upgrade(config, "head")
    except Exception as exc:
        raise fail(f"migration failed: {type(exc).__name__}: {exc}") from None
    typer.echo("database is at the latest migration")


@users_cli.command("create")
def users_create(
    email: Annotated[str, typer.Option(help="the user's email")],
    role: Annotated[str, typer.Option(help="admin or moderator")],
    password: Annotated[str | None, typer.Option(help="prompted when not given")] = None,
    account: Annotated[list[int] | None, typer.Option(help="account id (repeatable)")] = None,
    owner: Annotated[
        bool,
        typer.Option(
            "--owner",
            help="make the user the owner of the --account(s); the previous owner becomes "
            "a moderator member",
        ),
    ] = False,
) -> None:
    """Creates a user."""
    from app.commands import create_user

    if password is None:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Repeat: ") != password:
            raise fail("passwords do not match")
    user_id = run(
        lambda s: create_user(
            s, email=email, role=role, password=password, account_ids=account or [], owner=owner
        )
    )
    owns = f", owner of account {', '.join(map(str, account or []))}" if owner else ""
    typer.echo(f"created user {user_id} ({email}, {role}{owns})")


@users_cli.command("invite")
def users_invite(
    email: Annotated[str, typer.Option(help="the invitee's email")],
    role: Annotated[str, typer.Option(help="admin or moderator")],
    account: Annotated[list[int] | None, typer.Option(help="account id (repeatable)")] = None,
) -> None:
    """Prints a single-use invitation link (valid 7 days) on the last line."""
    from app.commands import invite_user

    link = run(lambda s: invite_user(s, email=email, role=role, account_ids=account or []))
    typer.echo(link)


@tokens_cli.command("create")
def tokens_create(email: Annotated[str, typer.Option(help="the user's email")]) -> None:
    """Prints a new API token for that user (on the last line)."""
    from app.commands import create_token

    token = run(lambda s: create_token(s, email=email))
    typer.echo(token)


@tokens_cli.command("rotate-key")
def tokens_rotate_key() -> None:
    """Re-encrypts every stored Meta access token with the current SECRET_KEY.

    Put the old key(s) in SECRET_KEY_FALLBACKS first; remove them once this succeeded.
    """
    from app.commands import rotate_token_key

    accounts, states = run(rotate_token_key)
    typer.echo(f"re-encrypted {accounts} account token(s) and {states} pending login(s)")


@catalog_cli.command("import")
def catalog_import(
    file: Annotated[Path, typer.Argument(help="CSV or JSON file", exists=True, dir_okay=False)],
    account: Annotated[int, typer.Option(help="account id")],
) -> None:
    """Imports cooperations and products: what the catalog holds (same brand and campaign,
    same product name) is updated, the rest added; nothing is written if any row is invalid."""
    from app.catalog.importer import ImportError_
    from app.commands import import_catalog

    try:
        content = file.read_bytes()
        result = run(
            lambda s: import_catalog(s, content=content, filename=file.name, account_id=account)
        )
    except ImportError_ as exc:
        for error in exc.errors:
            typer.echo(error, err=True)
        raise fail(f"{len(exc.errors)} error(s); nothing imported") from None
    c, p = result.cooperation_counts, result.product_counts
    typer.echo(
        f"imported {result.cooperations} cooperation(s), {result.products} product(s): "
        f"new {c.new}/{p.new}, changed {c.changed}/{p.changed}, "
        f"unchanged {c.unchanged}/{p.unchanged}; kept (not in the file) {c.kept}/{p.kept} "
        "(cooperations/products)"
    )


@cli.command()
def simulate(
    text: Annotated[str, typer.Argument(help="the follower's message")],
    account: Annotated[int, typer.Option(help="account id")],
    sender: Annotated[str, typer.Option("--from", help="the follower's id")] = "sandbox-follower-1",
    url: Annotated[str | None, typer.Option(help="service base URL (default PUBLIC_URL)")] = None,
    comment: Annotated[
        bool, typer.Option("--comment", help="post TEXT as a comment under a post, not a DM")
    ] = False,
    media: Annotated[
        str | None,
        typer.Option(help="with --comment: the post's media id (default: the demo post)"),
    ] = None,
) -> None:
    """Posts a correctly signed webhook event carrying TEXT to the running service: a DM,
    or with --comment a top-level comment under a post (the demo's "SERUM" trigger)."""
    from app.commands import simulate as do_simulate
    from app.meta.sandbox import SANDBOX_POST

    if media is not None and not comment:
        raise fail("--media needs --comment")
    media_id = (media or SANDBOX_POST) if comment else None
    status, body = run(
        lambda s: do_simulate(
            s, account_id=account, sender=sender, text=text, url=url, media_id=media_id
        )
    )
    if status != 200:
        raise fail(f"service answered {status}: {body}")
    typer.echo(f"delivered ({status} {body})")


@cli.command()
def demo(
    host: Annotated[str, typer.Option(help="the --host serve will listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="the --port serve will listen on")] = 8000,
    # serve's own option, accepted so scripts/serve can pass its arguments to both.
    no_worker: Annotated[bool, typer.Option("--no-worker", hidden=True)] = False,  # noqa: ARG001
) -> None:
    """Sandbox only: creates a demo admin, account and catalog (once) and prints how to use
    them, with links for `serve` on the same --host/--port (scripts/serve passes its own)."""
    from app.commands import seed_demo
    from app.config import listening_settings

    info: dict[str, Any] = run(lambda s: seed_demo(listening_settings(s, host=host, port=port)))
    for line in info["lines"]:
        typer.echo(line)


def main() -> None:
    try:
        cli()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()

__all__ = ["cli", "main"]
