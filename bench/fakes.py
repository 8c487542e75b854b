"""Loopback stand-ins for the benchmark, each run as its own uvicorn process.

    python bench/fakes.py graph --port P   fake Meta Send API: POST /{version}/{id}/messages
    python bench/fakes.py llm --port P [--delay S]
                                           fake OpenAI-compatible /v1/chat/completions
    python bench/fakes.py bare --port P    the baseline: bare FastAPI, POST answers 200

All of them: uvicorn with uvloop + httptools, one worker, no access log, and GET /healthz.

The fake Send API records, per recipient, the wall-clock time its first message arrived
(`GET /_stats`), so the benchmark can compute received -> replied latency across processes
(one machine, one clock). `POST /_reset` forgets everything.

The fake LLM answers like a well-behaved model: it reads the catalog entries that the prompt
carries between <catalog> tags and replies with the first entry's discount code and link,
citing its id, so the service's guardrails let the reply go out automatically. `--delay` (or
`POST /_control {"delay": S}` at run time) makes every answer wait S seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import re
import time
from typing import Any

CATALOG = re.compile(r"<catalog>\s*(.*?)\s*</catalog>", re.S)


def _uvicorn(app: Any, port: int) -> None:
    import uvicorn

    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        workers=1,
        log_level="warning",
        access_log=False,
    )


# --------------------------------------------------------------------------- Send API


def graph_app() -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    state: dict[str, Any] = {"count": 0, "first": {}, "counts": {}, "last_text": None}
    ids = itertools.count(1)

    async def send(request: Request) -> JSONResponse:
        now = time.time()
        try:
            body = json.loads(await request.body())
            recipient = str(body["recipient"]["id"])
            text = body.get("message", {}).get("text")
        except (ValueError, KeyError, TypeError):
            return JSONResponse(
                {"error": {"message": "bad request", "type": "OAuthException", "code": 100}},
                status_code=400,
            )
        state["count"] += 1
        state["first"].setdefault(recipient, now)
        state["counts"][recipient] = state["counts"].get(recipient, 0) + 1
        state["last_text"] = text
        return JSONResponse({"recipient_id": recipient, "message_id": f"m_{next(ids)}"})

    async def stats(request: Request) -> JSONResponse:
        prefix = request.query_params.get("prefix", "")
        first = {k: v for k, v in state["first"].items() if k.startswith(prefix)}
        duplicates = sum(n - 1 for k, n in state["counts"].items() if k.startswith(prefix))
        return JSONResponse(
            {
                "count": state["count"],
                "recipients": len(first),
                "duplicates": duplicates,
                "first": first if request.query_params.get("times") else None,
                "last_text": state["last_text"],
            }
        )

    async def reset(_request: Request) -> JSONResponse:
        state.update(count=0, first={}, counts={}, last_text=None)
        return JSONResponse({"ok": True})

    async def healthz(_request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    return Starlette(
        routes=[
            Route("/{version}/{sender_id}/messages", send, methods=["POST"]),
            Route("/_stats", stats, methods=["GET"]),
            Route("/_reset", reset, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )


# --------------------------------------------------------------------------- LLM


def llm_answer(body: dict[str, Any]) -> dict[str, Any]:
    """The JSON a good model would return for this prompt."""
    system = next(
        (m.get("content") or "" for m in body.get("messages", []) if m.get("role") == "system"),
        "",
    )
    entries: list[dict[str, Any]] = []
    match = CATALOG.search(system if isinstance(system, str) else "")
    if match:
        try:
            entries = json.loads(match.group(1))
        except ValueError:
            entries = []
    usable = [e for e in entries if e.get("discount_code") and not e.get("code_expired")]
    if not usable:
        return {
            "reply": "Thanks for your message! The team will get back to you.",
            "intent": "other",
            "language": "en",
            "confidence": 0.3,
            "product_ids": [],
            "needs_human": True,
        }
    entry = usable[0]
    reply = f"Hi! Your code for the {entry['name']} is {entry['discount_code']}"
    if entry.get("url"):
        reply += f": {entry['url']}"
    return {
        "reply": reply,
        "intent": "discount_code",
        "language": "en",
        "confidence": 0.95,
        "product_ids": [entry["id"]],
        "needs_human": False,
    }


def llm_app(delay: float) -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    state: dict[str, Any] = {"delay": delay, "calls": 0, "in_flight": 0}
    ids = itertools.count(1)

    async def completions(request: Request) -> JSONResponse:
        body = json.loads(await request.body())
        state["calls"] += 1
        state["in_flight"] += 1
        try:
            if state["delay"] > 0:
                await asyncio.sleep(state["delay"])
        finally:
            state["in_flight"] -= 1
        content = json.dumps(llm_answer(body))
        return JSONResponse(
            {
                "id": f"chatcmpl-bench{next(ids)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", "bench"),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content, "refusal": None},
                        "finish_reason": "stop",
                        "logprobs": None,
                    }
                ],
                "usage": {"prompt_tokens": 500, "completion_tokens": 40, "total_tokens": 540},
            }
        )

    async def control(request: Request) -> JSONResponse:
        data = json.loads(await request.body() or b"{}")
        if "delay" in data:
            state["delay"] = float(data["delay"])
        return JSONResponse(state)

    async def stats(_request: Request) -> JSONResponse:
        return JSONResponse(state)

    async def healthz(_request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    return Starlette(
        routes=[
            Route("/v1/chat/completions", completions, methods=["POST"]),
            Route("/_control", control, methods=["POST"]),
            Route("/_stats", stats, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )


# --------------------------------------------------------------------------- baseline


def bare_app() -> Any:
    """The baseline of PERFORMANCE.md: FastAPI, a POST that answers 200, nothing else."""
    from fastapi import FastAPI
    from fastapi.responses import PlainTextResponse

    app = FastAPI()

    @app.post("/webhooks/meta")
    async def receive() -> PlainTextResponse:
        return PlainTextResponse("EVENT_RECEIVED")

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description="benchmark fakes")
    parser.add_argument("kind", choices=("graph", "llm", "bare"))
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay", type=float, default=0.0, help="llm: seconds per answer")
    args = parser.parse_args()
    app = {"graph": graph_app, "bare": bare_app}.get(args.kind)
    _uvicorn(app() if app else llm_app(args.delay), args.port)


if __name__ == "__main__":
    main()
