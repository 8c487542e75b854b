"""structlog set-up: key-value events, context variables bound once per request or job.

One processor chain serves structlog's own loggers and the standard library's (uvicorn,
SQLAlchemy, alembic), so with `LOG_JSON=true` every line is one JSON object carrying the
bound context (`request_id`; `event_id` or `job_id`/`job_kind`; `account_id`, ...).
Fields that hold personal data (message text, names, usernames, emails, pictures) are
redacted unless `LOG_PERSONAL_DATA` is set; fields that hold credentials always are, so
a future log call cannot leak them by accident.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any, TextIO

import structlog

REDACTED = "[redacted]"

# Followers' and users' personal data: logged only when LOG_PERSONAL_DATA is true.
PERSONAL_FIELDS = frozenset(
    {
        "text",
        "texts",
        "reply",
        "message_text",
        "draft_text",
        "edited_text",
        "body",
        "raw",
        "payload",
        "name",
        "first_name",
        "last_name",
        "full_name",
        "username",
        "email",
        "emails",
        "phone",
        "profile_pic",
        "profile_pic_url",
        "picture",
        "contact_name",
        "sender_name",
        "prompt",
        "completion",
        "messages",
    }
)
# Credentials: never logged, whatever the settings say.
SECRET_FIELDS = frozenset(
    {
        "access_token",
        "token",
        "password",
        "secret",
        "app_secret",
        "appsecret_proof",
        "authorization",
        "api_key",
        "code",
        "signed_request",
        "verify_token",
        "cookie",
        "session",
    }
)


class Redactor:
    """A structlog processor replacing sensitive fields' values by "[redacted]", in the
    event and in dicts nested in it. It goes by field name, not content: message text
    inside an exception's message or a free-form `error` string is not caught, so such
    strings must not quote what a follower wrote."""

    def __init__(self, *, personal_data: bool) -> None:
        self.fields = SECRET_FIELDS if personal_data else SECRET_FIELDS | PERSONAL_FIELDS

    def __call__(
        self, _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        for key, value in event_dict.items():
            if key == "event":
                continue
            event_dict[key] = self._clean(key, value)
        return event_dict

    def _clean(self, key: str, value: Any) -> Any:
        if value is None:
            return None
        if key.lower() in self.fields:
            # Numbers are counts or Meta's error `code`, never text or a credential.
            return value if isinstance(value, int | float) else REDACTED
        if isinstance(value, Mapping):
            return {k: self._clean(str(k), v) for k, v in value.items()}
        return value


# Paths whose last segment is a credential: the status page of a data deletion request
# (its confirmation code, a URL fixed by Meta's callback contract), an invitation link of
# the old shape (now the token travels in the fragment or a form), a tracked link's token.
_SECRET_PATHS = re.compile(r"^(/meta/data-deletion|/invite|/l)/(?!(?:open|accept)$)[^/]+")
_SECRET_TEMPLATES = {"/meta/data-deletion": "{code}", "/invite": "{token}", "/l": "{token}"}


def loggable_path(target: str) -> str:
    """A request target as it may be logged or traced: no query string (it carries
    `hub.verify_token`, OAuth `code` and `state`) and, on the routes whose path holds a
    credential, the route template instead of the credential."""
    path = target.split("?", 1)[0]
    return _SECRET_PATHS.sub(lambda m: f"{m.group(1)}/{_SECRET_TEMPLATES[m.group(1)]}", path)


# Paths whose requests are logged without the client's address: a tracked link is followed
# by followers, whose clicks are counted without keeping who clicked.
_ANONYMOUS_PATHS = re.compile(r"^/l/")


class _StripQuery(logging.Filter):
    """uvicorn's access log prints the client's address and the whole request target: keep
    what `loggable_path` keeps, and no address for a tracked link."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            client = "-" if _ANONYMOUS_PATHS.match(args[2]) else args[0]
            record.args = (client, args[1], loggable_path(args[2]), args[3], args[4])
        return True


_HANDLER_NAME = "inboxpilot"


def configure_logging(
    level: str = "INFO",
    *,
    json: bool = False,
    personal_data: bool = False,
    stream: TextIO | None = None,
) -> None:
    """Configures structlog and the standard library's root logger to write to `stream`
    (stderr by default), as JSON lines or readable key-value lines."""
    stream = stream or sys.stderr
    level_number = logging.getLevelName(level.upper())
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        Redactor(personal_data=personal_data),
    ]
    final: list[structlog.typing.Processor]
    if json:
        # Plain-text tracebacks: structured ones may include local variables.
        final = [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
    else:
        # plain_traceback: rich's pretty tracebacks would print local variables (tokens).
        final = [
            structlog.dev.ConsoleRenderer(
                colors=False, exception_formatter=structlog.dev.plain_traceback
            )
        ]
    _configure_stdlib(stream, level_number, shared, final)
    structlog.configure(
        processors=[*shared, *final],
        wrapper_class=structlog.make_filtering_bound_logger(level_number),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )


def _configure_stdlib(
    stream: TextIO,
    level: int,
    shared: list[structlog.typing.Processor],
    final: list[structlog.typing.Processor],
) -> None:
    handler = logging.StreamHandler(stream)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *final],
        )
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # httpx logs request URLs at INFO, and a Graph URL may carry an access token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    # uvicorn's own logging config (if anything applied it: `serve` passes log_config=None)
    # gives its loggers handlers and levels of their own that bypass ours.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.setLevel(logging.NOTSET)  # the root's level, set above
        logger.propagate, logger.disabled = True, False
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, _StripQuery) for f in access.filters):
        access.addFilter(_StripQuery())


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)  # type: ignore[no-any-return]
