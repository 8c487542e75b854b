"""Security headers on every answer of the application, as plain ASGI.

    app.add_middleware(SecurityHeaders)

- `Content-Security-Policy`: scripts and styles only from our own origin (no inline
  script, no `eval`: htmx is configured for that in base.html), pictures also from Meta's
  CDNs (followers' and accounts' profile pictures are https links), no plugins, no
  `<base>`, forms post only to us, and no page of ours inside another site's frame.
- `X-Content-Type-Options: nosniff`, `Referrer-Policy: same-origin`, and
  `X-Frame-Options: DENY` for browsers that predate `frame-ancestors`.
- `Cache-Control: no-store` on every answer that does not set its own caching, except
  the static files: pages behind sign-in and API answers carry followers' messages, and
  the few public pages (sign-in, invitation, deletion status) gain nothing from a cache.

The webhook receiver sits outside this middleware: Meta reads no headers, and it is the
one hot path.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' https: data:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)

_ALWAYS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
)
_NO_STORE = (b"cache-control", b"no-store")
_CACHEABLE_PREFIXES = ("/static/",)


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cacheable = str(scope.get("path", "")).startswith(_CACHEABLE_PREFIXES)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": _with_headers(message, cacheable=cacheable)}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _with_headers(message: Message, *, cacheable: bool) -> list[tuple[bytes, bytes]]:
    headers = list(message.get("headers", ()))
    present = {name.lower() for name, _value in headers}
    headers.extend(pair for pair in _ALWAYS if pair[0] not in present)
    if not cacheable and b"cache-control" not in present:
        headers.append(_NO_STORE)
    return headers
