"""Setup through the service itself: accounts registered through the API, a smoke DM."""

from __future__ import annotations

import random
import time
from typing import Any

import httpx

from bench.common import COOPERATION, POLICY, QUESTION, BenchError, run_cli
from bench.faultsuite.load import event_body, now_ms, sign
from bench.faultsuite.model import WEBHOOK_PATH, Account, Run


def account_plan(count: int) -> list[Account]:
    accounts = []
    for i in range(count):
        if i % 2 == 0:
            accounts.append(Account(i, "instagram", str(17841400000100000 + i)))
        else:
            accounts.append(Account(i, "messenger", str(100000000100000 + i)))
    return accounts


def register_accounts(r: Run) -> None:
    """Like run.py's register_account, for every account: CLI token, then the JSON API."""
    email = "faults@example.com"
    run_cli(
        ["users", "create", "--email", email, "--role", "admin", "--password", "benchpass123"],
        env=r.env,
        cwd=r.tmp,
    )
    out = run_cli(["tokens", "create", "--email", email], env=r.env, cwd=r.tmp)
    token = [line for line in out.splitlines() if line.strip()][-1].strip()
    policy = {**POLICY, "max_auto_replies_per_conversation_per_day": 1000}
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=r.url("web1"), headers=headers, timeout=30) as api:
        for account in r.accounts:
            instagram = account.platform == "instagram"
            data: dict[str, Any] = {
                "platform": account.platform,
                "external_id": account.external_id,
                "name": f"Faults {account.platform} {account.index}",
                "access_token": f"faults-token-{account.external_id}",
                "graph_host": "instagram" if instagram else "facebook",
            }
            if not instagram:
                data["page_id"] = account.external_id
            steps: list[tuple[str, str, dict[str, Any], int]] = [
                ("POST", "/api/v1/accounts", data, 201),
                ("PUT", "/api/v1/accounts/{id}/policy", policy, 200),
                ("POST", "/api/v1/accounts/{id}/cooperations", COOPERATION, 201),
            ]
            for method, path, body, expected in steps:
                url = path.format(id=account.api_id)
                answer = api.request(method, url, json=body)
                if answer.status_code != expected:
                    raise BenchError(
                        f"{method} {url} -> {answer.status_code}: {answer.text[:1000]}"
                    )
                if path == "/api/v1/accounts":
                    account.api_id = int(answer.json()["id"])


def smoke(r: Run) -> None:
    """One DM per platform, end to end, before the load: a broken setup stops here."""
    prefix = f"{random.randint(100000, 999999)}"
    pending: dict[str, Account] = {}
    for account in {a.platform: a for a in r.accounts}.values():
        follower = f"{prefix}{account.index:07d}"
        body = event_body(account, follower, f"smoke-{prefix}-{account.index}", QUESTION, now_ms())
        answer = httpx.post(
            r.url("web1", WEBHOOK_PATH),
            content=body,
            headers={"X-Hub-Signature-256": sign(body), "Content-Type": "application/json"},
            timeout=30,
        )
        if answer.status_code != 200:
            raise BenchError(f"smoke webhook -> {answer.status_code}: {answer.text[:300]}")
        pending[follower] = account
    deadline = time.monotonic() + 90
    while pending and time.monotonic() < deadline:
        stats = httpx.get(r.url("graph", "/_stats"), params={"prefix": prefix}, timeout=10).json()
        if stats["recipients"] >= len(pending):
            return
        time.sleep(0.5)
    raise BenchError(
        f"smoke: {len(pending)} DMs ({', '.join(a.platform for a in pending.values())}) got "
        f"{stats['recipients']} replies in 90 s; worker log tail:\n{r.workers[0].tail()}"
    )
