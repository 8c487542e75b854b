"""Loopback stand-ins for the benchmark, each run as its own uvicorn process.

    python bench/fakes.py graph --port P   fake Meta Send API: POST /{version}/{id}/messages
    python bench/fakes.py llm --port P [--delay S]
                                           fake OpenAI-compatible /v1/chat/completions
    python bench/fakes.py bare --port P    the baseline: bare FastAPI, POST answers 200

All of them: uvicorn with uvloop + httptools, one worker, no access log, and GET /healthz.

The fake Send API records, per recipient, the wall-clock time its first message arrived
(`GET /_stats`), so the benchmark can compute received -> replied latency across processes
(one machine, one clock). `POST /_reset` forgets everything. For the fault suite
(bench/faults.py) it also answers `GET /{version}/me` (the token check of a hand-registered
account: a token `...-<id>` belongs to account `<id>`), `GET /{version}/{user_id}` (the user
profile API), counts
every accepted send per recipient and per `metadata` (`GET /_stats?counts=1`), lists only the
recipients first answered after a time (`?times=1&since=T`), and `POST /_control` switches a
failure mode on or off: `{"fail": "http500"}` (HTTP 500, Graph code 2, transient),
`{"fail": "throttle", "codes": [613, 4, 32, 80006]}` (Meta's rate-limit errors, the codes in
turn, with the usage headers Meta sends), `{"fail": null}` back to normal; `"ratio": 0.5`
fails only that share of the sends. A refused send is never counted as delivered.

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
import random
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


THROTTLE_CODES = (613, 4, 32, 80006)


def graph_error(
    fail: str, code: int, sender: str, trace: int
) -> tuple[int, dict[str, Any], dict[str, str]]:
    """(HTTP status, body, headers) of one refused send, in the shapes Meta answers."""
    fbtrace = f"AbenchTrace{trace}"
    if fail == "http500":
        body = {
            "message": "An unexpected error has occurred. Please retry your request later.",
            "type": "OAuthException",
            "is_transient": True,
            "code": 2,
            "fbtrace_id": fbtrace,
        }
        return 500, {"error": body}, {}
    messages = {
        4: "(#4) Application request limit reached",
        32: "(#32) Page request limit reached",
        613: "(#613) Calls to this api have exceeded the rate limit.",
        80006: "(#80006) There have been too many messages sent to this Messenger user. "
        "Please wait a while before retrying.",
    }
    body = {
        "message": messages.get(code, f"(#{code}) rate limited"),
        "type": "OAuthException",
        "code": code,
        "fbtrace_id": fbtrace,
    }
    headers: dict[str, str] = {}
    if code == 4:
        body["is_transient"] = True
        headers["x-app-usage"] = json.dumps(
            {"call_count": 100, "total_cputime": 12, "total_time": 15}
        )
    elif code == 32:
        headers["x-page-usage"] = json.dumps(
            {"call_count": 100, "total_cputime": 8, "total_time": 9}
        )
    elif 80000 <= code < 80100:
        usage = {
            "type": "messenger",
            "call_count": 100,
            "total_cputime": 10,
            "total_time": 10,
            "estimated_time_to_regain_access": 1,
        }
        headers["x-business-use-case-usage"] = json.dumps({sender: [usage]})
    return 400, {"error": body}, headers


def graph_app() -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    state: dict[str, Any] = {
        "count": 0,
        "first": {},
        "counts": {},
        "by_metadata": {},
        "last_text": None,
        "refused": {},
        "profiles": 0,
    }
    control: dict[str, Any] = {"fail": None, "codes": list(THROTTLE_CODES), "ratio": 1.0}
    ids = itertools.count(1)
    turns = itertools.count()
    rng = random.Random(7)

    async def send(request: Request) -> JSONResponse:
        now = time.time()
        try:
            body = json.loads(await request.body())
            recipient = str(body["recipient"]["id"])
            text = body.get("message", {}).get("text")
            metadata = body.get("message", {}).get("metadata")
        except (ValueError, KeyError, TypeError, AttributeError):
            return JSONResponse(
                {"error": {"message": "bad request", "type": "OAuthException", "code": 100}},
                status_code=400,
            )
        fail = control["fail"]
        if fail and rng.random() < control["ratio"]:
            turn = next(turns)
            codes = control["codes"] or list(THROTTLE_CODES)
            code = int(codes[turn % len(codes)]) if fail == "throttle" else 2
            status, error, headers = graph_error(fail, code, request.path_params["sender_id"], turn)
            label = f"{fail}:{code}"
            state["refused"][label] = state["refused"].get(label, 0) + 1
            return JSONResponse(error, status_code=status, headers=headers)
        state["count"] += 1
        state["first"].setdefault(recipient, now)
        state["counts"][recipient] = state["counts"].get(recipient, 0) + 1
        if isinstance(metadata, str):
            state["by_metadata"][metadata] = state["by_metadata"].get(metadata, 0) + 1
        state["last_text"] = text
        return JSONResponse({"recipient_id": recipient, "message_id": f"m_{next(ids)}"})

    async def profile(request: Request) -> JSONResponse:
        user_id = request.path_params["user_id"]
        state["profiles"] += 1
        return JSONResponse(
            {
                "id": user_id,
                "name": f"Follower {user_id[-4:]}",
                "first_name": "Follower",
                "last_name": user_id[-4:],
                "username": f"follower_{user_id}",
                "profile_pic": f"https://lookaside.example/{user_id}.jpg",
            }
        )

    async def me(request: Request) -> JSONResponse:
        # The service checks a hand-registered account's token with GET /me: the bench's
        # tokens end in the account's id ("bench-token-<id>"), and the fake answers for it
        # in every shape the service reads (Page, linked Instagram, Instagram Login).
        auth = request.headers.get("authorization", "")
        token = request.query_params.get("access_token") or auth.removeprefix("Bearer ")
        owner = token.rsplit("-", 1)[-1]
        if not owner.isdigit():
            error = {"message": "Invalid OAuth access token.", "type": "OAuthException"}
            return JSONResponse({"error": {**error, "code": 190}}, status_code=400)
        return JSONResponse(
            {
                "id": owner,
                "user_id": owner,
                "username": f"bench_{owner}",
                "instagram_business_account": {"id": owner},
            }
        )

    async def stats(request: Request) -> JSONResponse:
        query = request.query_params
        prefix = query.get("prefix", "")
        first = {k: v for k, v in state["first"].items() if k.startswith(prefix)}
        duplicates = sum(n - 1 for k, n in state["counts"].items() if k.startswith(prefix))
        answer: dict[str, Any] = {
            "count": state["count"],
            "recipients": len(first),
            "duplicates": duplicates,
            "first": None,
            "last_text": state["last_text"],
            "refused": state["refused"],
            "profiles": state["profiles"],
            "control": control,
        }
        if query.get("times"):
            since = float(query.get("since") or 0)
            answer["first"] = {k: v for k, v in first.items() if v >= since}
        if query.get("counts"):
            answer["counts"] = {k: n for k, n in state["counts"].items() if k.startswith(prefix)}
            answer["by_metadata"] = state["by_metadata"]
        return JSONResponse(answer)

    async def set_control(request: Request) -> JSONResponse:
        data = json.loads(await request.body() or b"{}")
        if "fail" in data:
            if data["fail"] not in (None, "http500", "throttle"):
                return JSONResponse({"detail": "fail: null, http500 or throttle"}, status_code=422)
            control["fail"] = data["fail"]
        if "codes" in data:
            control["codes"] = [int(c) for c in data["codes"]]
        if "ratio" in data:
            control["ratio"] = float(data["ratio"])
        return JSONResponse(control)

    async def reset(_request: Request) -> JSONResponse:
        state.update(
            count=0, first={}, counts={}, by_metadata={}, last_text=None, refused={}, profiles=0
        )
        control.update(fail=None, codes=list(THROTTLE_CODES), ratio=1.0)
        return JSONResponse({"ok": True})

    async def healthz(_request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    return Starlette(
        routes=[
            Route("/{version}/{sender_id}/messages", send, methods=["POST"]),
            Route("/_stats", stats, methods=["GET"]),
            Route("/_reset", reset, methods=["POST"]),
            Route("/_control", set_control, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/{version}/me", me, methods=["GET"]),
            Route("/{version}/{user_id}", profile, methods=["GET"]),
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
