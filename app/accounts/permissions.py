"""The permissions comment triggers need, and what to tell the influencer when one is
missing. Without them DMs go on: only comment triggers need a reconnect."""

from __future__ import annotations

from collections.abc import Collection

COMMENTS_NEED_RECONNECT = "comment triggers need reconnecting"

# By (graph host, platform): comment webhooks, private replies and public replies.
COMMENT_SCOPES: dict[tuple[str, str], tuple[str, ...]] = {
    ("facebook", "messenger"): ("pages_read_engagement", "pages_manage_engagement"),
    ("facebook", "instagram"): ("instagram_manage_comments", "pages_read_engagement"),
    ("instagram", "instagram"): ("instagram_business_manage_comments",),
}


def comments_problem(graph_host: str, platform: str, granted: Collection[str]) -> str | None:
    """Why comment triggers cannot work with the `granted` permissions, or None."""
    missing = [s for s in COMMENT_SCOPES.get((graph_host, platform), ()) if s not in granted]
    if not missing:
        return None
    return f"{COMMENTS_NEED_RECONNECT}: the permission {', '.join(missing)} is not granted"
