"""Settings: the variables of INTERFACE.md, from the environment and a `.env` file."""

from __future__ import annotations

import secrets
from functools import cached_property
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SECRET_KEY_FILE = ".inboxpilot-secret-key"
VAPID_KEY_FILE = ".inboxpilot-vapid-key"
DEFAULT_LLM_MODEL = "gpt-4.1-mini"
DEFAULT_GRAPH_VERSION = "v25.0"


class ConfigError(Exception):
    """The settings cannot run the service (a required variable is missing)."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    DATABASE_URL: str = "sqlite+aiosqlite:///./inboxpilot.db"
    SECRET_KEY: SecretStr | None = None
    PUBLIC_URL: str = "http://127.0.0.1:8000"

    META_APP_ID: str | None = None
    META_APP_SECRET: SecretStr | None = None
    META_VERIFY_TOKEN: SecretStr | None = None
    META_GRAPH_URL: str = "https://graph.facebook.com"
    INSTAGRAM_GRAPH_URL: str = "https://graph.instagram.com"
    META_GRAPH_VERSION: str = DEFAULT_GRAPH_VERSION
    # Connecting accounts (OAuth). The hosts are settings so tests can point them at fakes.
    FACEBOOK_DIALOG_URL: str = "https://www.facebook.com"
    INSTAGRAM_AUTHORIZE_URL: str = "https://www.instagram.com"
    INSTAGRAM_API_URL: str = "https://api.instagram.com"
    # A Facebook Login for Business configuration; when set it replaces the scope list.
    META_LOGIN_CONFIG_ID: str | None = None
    # Instagram Login has its own app id and secret in the App Dashboard; unset = the Meta app's.
    INSTAGRAM_APP_ID: str | None = None
    INSTAGRAM_APP_SECRET: SecretStr | None = None
    # Old SECRET_KEYs, comma-separated: stored tokens encrypted with them still decrypt
    # until `inboxpilot tokens rotate-key` has re-encrypted them with SECRET_KEY.
    SECRET_KEY_FALLBACKS: SecretStr | None = None

    OPENAI_API_KEY: SecretStr | None = None
    OPENAI_BASE_URL: str | None = None
    LLM_MODEL: str = DEFAULT_LLM_MODEL
    EMBEDDING_MODEL: str | None = None
    LLM_TIMEOUT_SECONDS: float = 30.0
    # Prices of LLM_MODEL in US dollars per million tokens, for the estimated cost of each
    # draft (defaults: gpt-4.1-mini's list prices). Set them to your model's.
    LLM_INPUT_USD_PER_MTOK: float = Field(default=0.40, ge=0)
    LLM_OUTPUT_USD_PER_MTOK: float = Field(default=1.60, ge=0)
    # The most one account's drafts may spend on the LLM per UTC day, unless the account
    # sets its own; unset = no limit. Over it, drafts are written offline and reviewed.
    LLM_DAILY_BUDGET_USD: float | None = Field(default=None, ge=0)

    REPLY_DEBOUNCE_SECONDS: float = Field(default=4.0, ge=0)

    # Alerts (app/notifications): e-mail digests through SMTP_URL
    # (`smtp://user:pass@host:port`, `smtps://` for TLS); unset, no e-mail is sent.
    SMTP_URL: SecretStr | None = None
    # The digests' sender; unset: inboxpilot <no-reply@the host of PUBLIC_URL>.
    MAIL_FROM: str | None = None
    # Web push (VAPID): the private key as base64url (the raw 32 bytes, or DER), the public
    # key as the browser wants it (base64url of the 65-byte point; derived when unset). In
    # sandbox mode a key pair is generated once and kept in a file beside SECRET_KEY_FILE.
    VAPID_PRIVATE_KEY: SecretStr | None = None
    VAPID_PUBLIC_KEY: str | None = None

    # Operational knobs beyond INTERFACE.md.
    LOG_LEVEL: str = "INFO"
    LOG_JSON: bool = False
    # Message text and followers' names, usernames, emails in log fields; off: redacted.
    LOG_PERSONAL_DATA: bool = False
    # `inboxpilot worker` serves Prometheus text on METRICS_HOST:METRICS_PORT when the port
    # is set (the web process always serves GET /metrics on its own port).
    METRICS_PORT: int | None = Field(default=None, ge=1, le=65535)
    METRICS_HOST: str = "0.0.0.0"
    # When set, the web process's GET /metrics needs `Authorization: Bearer <METRICS_TOKEN>`
    # (401 otherwise); unset, it is public (a warning at start outside sandbox mode).
    METRICS_TOKEN: SecretStr | None = None
    # On SIGTERM, how long requests (web) and items in flight (worker) may still finish;
    # a worker then hands what it still holds back to the queue.
    SHUTDOWN_GRACE_SECONDS: float = Field(default=20.0, ge=0)
    # OpenTelemetry traces over OTLP/HTTP to OTEL_EXPORTER_OTLP_ENDPOINT (app/ops/tracing.py).
    OTEL_TRACING: bool = False
    WEBHOOK_MAX_BODY_BYTES: int = 1024 * 1024
    # Every other request (API, UI, privacy callbacks): larger bodies get a 413 unread.
    # Room for a catalog import: a file of up to 10 MiB (the importer's own limit, which
    # answers a precise 422 above it) plus its multipart framing.
    MAX_REQUEST_BODY_BYTES: int = Field(default=12 * 1024 * 1024, ge=1024)
    # Items in flight per worker process; drafting waits on the LLM, so this is I/O-bound.
    WORKER_CONCURRENCY: int = Field(default=16, ge=1, le=512)
    WORKER_POLL_SECONDS: float = Field(default=0.2, gt=0)
    # How long a claimed item stays leased without its worker's heartbeat, which renews it
    # every eighth of that: a dead worker's items are taken over about this much later
    # (app/worker/heartbeat.py).
    WORKER_LEASE_SECONDS: float = Field(default=8.0, gt=0)
    JOB_MAX_ATTEMPTS: int = Field(default=8, ge=1)
    JOB_BACKOFF_BASE_SECONDS: float = Field(default=2.0, ge=0)
    JOB_BACKOFF_MAX_SECONDS: float = Field(default=600.0, ge=0)
    HTTP_TIMEOUT_SECONDS: float = 15.0
    # Messages per second to one account's followers, across every process (Meta allows
    # 300 text calls per second per account; see app/outbox/pacing.py).
    SEND_RATE_PER_ACCOUNT: float = Field(default=20.0, gt=0, le=300)
    # How long an approved reply waits on the server before it is handed to the send job:
    # the moderator's Undo works until then (app/outbox/hold.py).
    UNDO_SECONDS: float = Field(default=8.0, ge=0, le=60)
    # Connections each process keeps open to PostgreSQL, and as many again under bursts.
    # Mind the server's max_connections: (web + worker processes) x 2 x this.
    DATABASE_POOL_SIZE: int = Field(default=10, ge=1, le=200)
    SECRET_KEY_FILE: str = SECRET_KEY_FILE

    @model_validator(mode="after")
    def _require_secret_outside_sandbox(self) -> Settings:
        if not self.sandbox and self.SECRET_KEY is None:
            raise ConfigError("SECRET_KEY is required when Meta credentials are set")
        if self.SMTP_URL is not None:
            parts = urlsplit(self.SMTP_URL.get_secret_value())
            if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
                raise ConfigError(
                    "SMTP_URL must look like smtp://user:pass@host:port (or smtps://)"
                )
        return self

    @property
    def sandbox(self) -> bool:
        """Sandbox mode: no Meta app configured; sends go to the local sandbox outbox."""
        return self.META_APP_SECRET is None

    @cached_property
    def secret_key(self) -> str:
        """SECRET_KEY, or in sandbox mode one generated once and kept in a local file."""
        if self.SECRET_KEY is not None:
            return self.SECRET_KEY.get_secret_value()
        path = Path(self.SECRET_KEY_FILE)
        if path.exists():
            return path.read_text().strip()
        key = secrets.token_urlsafe(48)
        path.write_text(key + "\n")
        path.chmod(0o600)
        return key

    @property
    def secret_key_fallbacks(self) -> list[str]:
        if self.SECRET_KEY_FALLBACKS is None:
            return []
        raw = self.SECRET_KEY_FALLBACKS.get_secret_value()
        return [part.strip() for part in raw.split(",") if part.strip()]

    @property
    def instagram_app_id(self) -> str | None:
        return self.INSTAGRAM_APP_ID or self.META_APP_ID

    @property
    def instagram_app_secret(self) -> str | None:
        secret = self.INSTAGRAM_APP_SECRET or self.META_APP_SECRET
        return None if secret is None else secret.get_secret_value()

    @property
    def meta_webhook_secret(self) -> str:
        """The Meta app secret, valid for webhooks of every `object`; in sandbox mode, one
        derived locally."""
        if self.META_APP_SECRET is not None:
            return self.META_APP_SECRET.get_secret_value()
        from app.core.crypto import derive_key

        return derive_key(self.secret_key, "sandbox-webhook").hex()

    @property
    def instagram_webhook_secret(self) -> str | None:
        """The Instagram app's own secret, when it has one: Instagram-Login webhooks may be
        signed with it (unconfirmed by Meta's docs), so it is accepted, but only for
        `object: instagram` (app/meta/webhook.py)."""
        if self.META_APP_SECRET is None or self.INSTAGRAM_APP_SECRET is None:
            return None
        return self.INSTAGRAM_APP_SECRET.get_secret_value()

    @property
    def webhook_secrets(self) -> list[str]:
        """Secrets a signature (a webhook's or a signed request's) may be made with."""
        extra = self.instagram_webhook_secret
        return [self.meta_webhook_secret, *([] if extra is None else [extra])]

    @property
    def verify_token(self) -> str:
        if self.META_VERIFY_TOKEN is not None:
            return self.META_VERIFY_TOKEN.get_secret_value()
        from app.core.crypto import derive_key

        return derive_key(self.secret_key, "sandbox-verify-token").hex()[:32]

    @property
    def mail_from(self) -> str:
        if self.MAIL_FROM:
            return self.MAIL_FROM
        host = urlsplit(self.PUBLIC_URL).hostname or "localhost"
        return f"inboxpilot <no-reply@{host}>"

    @property
    def vapid_key_file(self) -> Path:
        """Where sandbox mode keeps the VAPID key it generated (beside the secret key)."""
        return Path(self.SECRET_KEY_FILE).with_name(VAPID_KEY_FILE)

    @property
    def llm_enabled(self) -> bool:
        return self.OPENAI_API_KEY is not None


def listening_settings(settings: Settings, *, host: str, port: int) -> Settings:
    """The settings `inboxpilot serve` runs with: in sandbox mode with PUBLIC_URL unset,
    the links the service makes (invitations, deletion status, the demo's hints) point at
    the address it listens on, not at the default port. Outside sandbox mode, and whenever
    PUBLIC_URL is set (environment or `.env`), unchanged."""
    if not settings.sandbox or "PUBLIC_URL" in settings.model_fields_set:
        return settings
    # A wildcard address is not one a browser can open: loopback is where it answers too.
    shown = "127.0.0.1" if host in {"", "0.0.0.0"} else ("::1" if host == "::" else host)
    if ":" in shown:
        shown = f"[{shown}]"
    return settings.model_copy(update={"PUBLIC_URL": f"http://{shown}:{port}"})
