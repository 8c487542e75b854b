"""Which requests for a tracked link are a person's click.

Meta fetches every link in a DM to draw its preview, and so do the other messengers and
search engines when a link travels further: those requests still get the redirect but are
not clicks. Nor is a HEAD request (no browser sends one to open a link), nor an empty or
missing User-Agent.
"""

from __future__ import annotations

import re

# Named fetchers first (so the list says who they are), then the generic words. "bot" is
# not counted after "cu": the Cubot phones put their brand in the User-Agent.
_FETCHERS = re.compile(
    r"facebookexternalhit|facebot|meta-externalagent|meta-externalfetcher|whatsapp"
    r"|twitterbot|slackbot|telegrambot|discordbot|linkedinbot|googlebot|bingbot"
    r"|(?<!cu)bot|crawler|spider|preview",
    re.IGNORECASE,
)
# Enough to see who is asking; a longer header is not read further.
_UA_CHARS = 512


def is_click(method: str, user_agent: str | None) -> bool:
    """True for a GET from something other than a link-preview fetcher or a bot."""
    if method.upper() != "GET":
        return False
    agent = (user_agent or "")[:_UA_CHARS].strip()
    return bool(agent) and _FETCHERS.search(agent) is None
