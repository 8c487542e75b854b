"""E-mail digests through SMTP_URL (aiosmtplib): one message per person, text and HTML.

`smtp://user:pass@host:port` speaks SMTP and upgrades with STARTTLS when the server
offers it; `smtps://` opens TLS at once. The password never reaches a log line or an
error: failures are reported as the exception's class and the server's host and port.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from urllib.parse import unquote, urlsplit

import aiosmtplib
from jinja2 import Environment, FileSystemLoader, select_autoescape

from app.config import Settings
from app.core.clock import utc_now
from app.notifications.service import Digest, Item, Kind

SCHEMES = {"smtp": 587, "smtps": 465}
# Sections of a digest listed item by item; beyond this many, a count and the queue link.
MAX_LISTED = 20

_templates = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().parent.parent / "templates" / "mail"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


class MailFailed(Exception):
    """Sending failed; the message names no credential."""


@dataclass(frozen=True, slots=True)
class SmtpTarget:
    host: str
    port: int
    use_tls: bool
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"


def parse_smtp_url(url: str) -> SmtpTarget:
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES or not parts.hostname:
        raise ValueError("SMTP_URL must look like smtp://user:pass@host:port or smtps://…")
    try:
        port = parts.port or SCHEMES[parts.scheme]
    except ValueError:
        raise ValueError("SMTP_URL has an invalid port") from None
    return SmtpTarget(
        host=parts.hostname,
        port=port,
        use_tls=parts.scheme == "smtps",
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


def smtp_target(settings: Settings) -> SmtpTarget | None:
    if settings.SMTP_URL is None:
        return None
    return parse_smtp_url(settings.SMTP_URL.get_secret_value())


def waited(item: Item, now: datetime) -> str:
    """How long a draft has waited, in words: "45 min", "3 h"."""
    if item.since is None:
        return ""
    minutes = max(0, int((now - item.since).total_seconds() // 60))
    return f"{minutes} min" if minutes < 120 else f"{minutes // 60} h"


def build_message(settings: Settings, digest: Digest) -> EmailMessage:
    base = settings.PUBLIC_URL.rstrip("/")
    now = utc_now()
    context = {
        "waited": lambda item: waited(item, now),
        "digest": digest,
        "base": base,
        "sections": [
            (kind, title, digest.of(kind)[:MAX_LISTED], len(digest.of(kind)))
            for kind, title in (
                (Kind.SENSITIVE, "Sensitive messages"),
                (Kind.WAITING, "Drafts waiting"),
                (Kind.RECONNECT, "Accounts to reconnect"),
            )
            if digest.of(kind)
        ],
        "settings_link": f"{base}/account/alerts",
        "queue_link": f"{base}/queue",
    }
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = digest.email
    message["Subject"] = f"inboxpilot: {digest.summary}"
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(domain=urlsplit(base).hostname or "localhost")
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(_templates.get_template("digest.txt").render(context))
    message.add_alternative(_templates.get_template("digest.html").render(context), subtype="html")
    return message


async def send_message(target: SmtpTarget, message: EmailMessage, *, seconds: float) -> None:
    try:
        await aiosmtplib.send(
            message,
            hostname=target.host,
            port=target.port,
            username=target.username,
            password=target.password,
            use_tls=target.use_tls,
            timeout=seconds,
        )
    except (aiosmtplib.SMTPException, OSError) as exc:
        # Not `str(exc)`: a server may echo what it was sent, the AUTH exchange included.
        raise MailFailed(f"{type(exc).__name__} from {target.where}") from None
