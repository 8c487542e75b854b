"""The product's Prometheus metrics, defined once; every name starts with `inboxpilot_`.

Each process has its own registry (prometheus_client's default one): the web process
serves it on `GET /metrics`, a `inboxpilot worker` on `METRICS_PORT` when that is set.
Counters and histograms here count what *this* process did; the backlog figures
(`inbox_backlog`, `jobs_due`, ...) are read from the database at scrape time by
`app.ops.backlog`, so every web process reports the same, database-wide numbers.

Label values are small closed sets (statuses, job kinds, outcomes, Graph operations), the
only exception being `account_id` on `graph_throttled_total`: one series per connected
account that Meta ever throttled.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import Counter, Histogram, generate_latest, start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncEngine

from app.models import InboxStatus
from app.ops.repository import Backlog, read_backlog

# Webhook deliveries: 1 ms .. 2.5 s (the group commit makes a stored event cost a few ms;
# Meta gives up after about 20 s, so anything near the top bucket is trouble).
_ACK_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
# Worker items span a profile fetch (tens of ms) to an LLM draft with retries (a minute).
_ITEM_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_GRAPH_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0)
_LLM_BUCKETS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0)

# --- the webhook receiver (app.meta.webhook) -------------------------------------------

WEBHOOK_ACKS = Counter(
    "inboxpilot_webhook_acks_total",
    "POST /webhooks/meta answers by HTTP status (200 stored; 401 bad signature; 400 not "
    "JSON; 413 too large; 503 not stored, Meta retries; disconnected: no answer sent)",
    ["status"],
)
WEBHOOK_ACK_SECONDS = Histogram(
    "inboxpilot_webhook_ack_seconds",
    "Time from a webhook POST's arrival to its answer (body read, signature, durable store)",
    buckets=_ACK_BUCKETS,
)

# --- the worker (app.worker.runner) -----------------------------------------------------

WORKER_ITEMS = Counter(
    "inboxpilot_worker_items_total",
    "Items the worker finished, by kind (event = a stored webhook body, else the job kind) "
    "and outcome (done, retry, postponed, failed, released at shutdown, lost to another "
    "worker after the lease ran out)",
    ["kind", "outcome"],
)
WORKER_ITEM_SECONDS = Histogram(
    "inboxpilot_worker_item_seconds",
    "Time one item's handler ran, by kind, whatever its outcome",
    ["kind"],
    buckets=_ITEM_BUCKETS,
)

# --- sending (app.outbox.jobs, app.meta.graph) -------------------------------------------

SENDS = Counter(
    "inboxpilot_sends_total",
    "Send attempts by channel (graph, sandbox) and outcome: sent; retry (Meta or the network "
    "failed transiently); unconfirmed (the call may have reached Meta, waiting for its echo); "
    "throttled; expired (24 h window closed); failed (given up); outcome_unknown (the worker "
    "stopped during the call: a moderator must check); confirmed (an outcome_unknown send "
    "whose echo arrived later)",
    ["channel", "outcome"],
)
GRAPH_THROTTLED = Counter(
    "inboxpilot_graph_throttled_total",
    "Sends Meta refused with a rate limit, by our account id (the account's sends pause)",
    ["account_id"],
)
GRAPH_REQUESTS = Counter(
    "inboxpilot_graph_requests_total",
    "Graph API calls by operation (send_text, get_user_profile) and outcome (ok, or the "
    "GraphError class: retry_later, throttled, token_invalid, permission_missing, "
    "outside_window, recipient_unavailable, bad_request, error)",
    ["operation", "outcome"],
)
GRAPH_REQUEST_SECONDS = Histogram(
    "inboxpilot_graph_request_seconds",
    "Graph API call latency by operation, failures included",
    ["operation"],
    buckets=_GRAPH_BUCKETS,
)

# --- drafting (instrumented by app.drafting) --------------------------------------------

# One per draft decided: decision auto|review (or none when no draft was made), and the
# main reason (a short, closed vocabulary chosen by the drafting code, never free text).
DRAFTS = Counter(
    "inboxpilot_drafts_total",
    "Drafts decided, by decision (auto, review) and main reason",
    ["decision", "reason"],
)
# Draft jobs that drafted nothing (and called no LLM) because the follower's newest
# unanswered message was older than Meta's 24-hour window: no reply could go out. The
# messages stay unanswered in the conversation for a person (Human Agent rules).
DRAFTS_OUTSIDE_WINDOW = Counter(
    "inboxpilot_drafts_outside_window_total",
    "Draft jobs that made no draft because the follower's messages were older than Meta's "
    "24-hour window (left unanswered for a person)",
)
# One observation per chat completion call; outcome ok|error|timeout|invalid_output.
LLM_REQUEST_SECONDS = Histogram(
    "inboxpilot_llm_request_seconds",
    "LLM chat completion latency by outcome",
    ["outcome"],
    buckets=_LLM_BUCKETS,
)
# Tokens the LLM server reported in `usage`; kind prompt|completion.
LLM_TOKENS = Counter(
    "inboxpilot_llm_tokens_total",
    "LLM tokens used, by kind (prompt, completion)",
    ["kind"],
)
# Estimated spend from the token counts and the configured prices.
LLM_COST_USD = Counter(
    "inboxpilot_llm_cost_usd_total",
    "Estimated LLM spend in US dollars",
)
# Drafts made by the offline drafter because the LLM budget was used up.
LLM_BUDGET_FALLBACKS = Counter(
    "inboxpilot_llm_budget_fallbacks_total",
    "Drafts that fell back to the offline drafter because the LLM budget was exhausted",
)


class WebhookAckRecorder:
    """`WEBHOOK_ACKS` children cached per status: the receiver is the hot path, and a
    labelled lookup takes a lock and builds a tuple on every call."""

    __slots__ = ("_children",)

    def __init__(self) -> None:
        self._children: dict[int | str, Any] = {}

    def __call__(self, status: int | str, seconds: float) -> None:
        child = self._children.get(status)
        if child is None:
            child = self._children[status] = WEBHOOK_ACKS.labels(status=str(status))
        child.inc()
        WEBHOOK_ACK_SECONDS.observe(seconds)


record_webhook_ack = WebhookAckRecorder()


def record_worker_item(kind: str, outcome: str, seconds: float | None = None) -> None:
    WORKER_ITEMS.labels(kind=kind, outcome=outcome).inc()
    if seconds is not None:
        WORKER_ITEM_SECONDS.labels(kind=kind).observe(seconds)


def record_send(channel: str, outcome: str) -> None:
    SENDS.labels(channel=channel, outcome=outcome).inc()


def record_graph_call(operation: str, outcome: str, seconds: float) -> None:
    GRAPH_REQUESTS.labels(operation=operation, outcome=outcome).inc()
    GRAPH_REQUEST_SECONDS.labels(operation=operation).observe(seconds)


class MetricsServer:
    """A worker process's `/metrics` (any path, in fact): prometheus_client's own small
    threaded HTTP server, since the worker runs no web framework."""

    def __init__(self, host: str, port: int) -> None:
        self._server, self._thread = start_http_server(port, addr=host)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class BacklogCollector(Collector):
    """The database-wide backlog gauges, built at scrape time from one `Backlog` read
    (None: the database did not answer, and only `inboxpilot_database_up 0` is reported)."""

    def __init__(self, backlog: Backlog | None) -> None:
        self._backlog = backlog

    def collect(self) -> Iterator[Metric]:
        backlog = self._backlog
        yield GaugeMetricFamily(
            "inboxpilot_database_up",
            "1 if the database answered the backlog queries of this scrape in time, else 0",
            value=0 if backlog is None else 1,
        )
        if backlog is None:
            return
        now = backlog.read_at
        yield GaugeMetricFamily(
            "inboxpilot_inbox_backlog",
            "Stored webhook bodies not processed yet (queued, or leased to a worker)",
            value=backlog.inbox_unprocessed,
        )
        oldest = backlog.inbox_oldest_received_at
        yield GaugeMetricFamily(
            "inboxpilot_inbox_oldest_age_seconds",
            "Age of the oldest unprocessed webhook body (0 when there is none)",
            value=0 if oldest is None else max(0.0, (now - oldest).total_seconds()),
        )
        yield _by_label(
            "inboxpilot_inbox_parked",
            "Webhook bodies set aside for good, by status (failed, unprocessable)",
            "status",
            {InboxStatus.FAILED: 0, InboxStatus.UNPROCESSABLE: 0} | backlog.inbox_parked,
        )
        yield _by_label(
            "inboxpilot_jobs_due",
            "Jobs whose run time has come and that wait for a worker, by kind",
            "kind",
            backlog.jobs_due,
        )
        yield _by_label(
            "inboxpilot_jobs_oldest_due_age_seconds",
            "How long the longest-waiting due job of each kind has waited",
            "kind",
            {
                kind: max(0.0, (now - at).total_seconds())
                for kind, at in backlog.jobs_oldest_due_at.items()
            },
        )
        yield _by_label(
            "inboxpilot_jobs_running",
            "Jobs leased to a worker right now, by kind",
            "kind",
            backlog.jobs_running,
        )
        yield _by_label(
            "inboxpilot_jobs_failed",
            "Jobs parked as failed after their last attempt (GET /api/v1/jobs), by kind",
            "kind",
            backlog.jobs_failed,
        )


def _by_label(name: str, documentation: str, label: str, values: dict[str, Any]) -> Metric:
    family = GaugeMetricFamily(name, documentation, labels=[label])
    for key, value in sorted(values.items()):
        family.add_metric([key], float(value))
    return family


BACKLOG_QUERY_TIMEOUT_SECONDS = 2.0


async def render(engine: AsyncEngine | None) -> bytes:
    """This process's metrics in Prometheus text format, plus the database's backlog."""
    backlog = (
        None
        if engine is None
        else await read_backlog(engine, wait_seconds=BACKLOG_QUERY_TIMEOUT_SECONDS)
    )
    return generate_latest() + generate_latest(BacklogCollector(backlog))
