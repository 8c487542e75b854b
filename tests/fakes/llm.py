"""A fake OpenAI-compatible Chat Completions server, on a respx router.

Answers `POST {base_url}/chat/completions` in the documented shape with a scripted JSON
reply, records every request body, and can be switched into failure modes.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import respx

BASE_URL = "http://llm.test.invalid/v1"
MODES = ("ok", "http_500", "timeout", "invalid_json", "refusal", "truncated")


class FakeLLM:
    def __init__(self, router: respx.MockRouter, base_url: str = BASE_URL) -> None:
        self.route = router.post(f"{base_url}/chat/completions").mock(side_effect=self.handle)
        self.requests: list[dict[str, Any]] = []
        self.mode = "ok"
        # What `usage` reports; None leaves it out, as some compatible servers do.
        self.usage: dict[str, int] | None = {"prompt_tokens": 100, "completion_tokens": 20}
        self.answer: dict[str, Any] = {
            "reply": "Hi! Your code is LENA15.",
            "intent": "discount_code",
            "language": "en",
            "confidence": 0.9,
            "product_ids": [],
            "needs_human": False,
        }

    def script(self, **fields: Any) -> None:
        """Set fields of the next answers (the rest keep their values)."""
        self.answer.update(fields)

    def fail(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}")
        self.mode = mode

    @property
    def last_request(self) -> dict[str, Any]:
        return self.requests[-1]

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answers one request (a test that wraps the route calls this)."""
        body: dict[str, Any] = json.loads(request.content)
        self.requests.append(body)
        if self.mode == "timeout":
            raise httpx.ReadTimeout("fake LLM timed out", request=request)
        if self.mode == "http_500":
            return httpx.Response(500, json={"error": {"message": "boom", "type": "server_error"}})
        content: str | None = json.dumps(self.answer)
        refusal = None
        finish_reason = "stop"
        if self.mode == "invalid_json":
            content = '{"reply": "Hi!", "intent": '
        elif self.mode == "refusal":
            content, refusal = None, "I can't help with that."
        elif self.mode == "truncated":
            finish_reason = "length"
        return httpx.Response(200, json=self._completion(body, content, refusal, finish_reason))

    def _completion(
        self, body: dict[str, Any], content: str | None, refusal: str | None, finish_reason: str
    ) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "id": "chatcmpl-fake-1",
            "object": "chat.completion",
            "created": 1_790_000_000,
            "model": body.get("model", "fake"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content, "refusal": refusal},
                    "finish_reason": finish_reason,
                    "logprobs": None,
                }
            ],
        }
        if self.usage is not None:
            answer["usage"] = {**self.usage, "total_tokens": sum(self.usage.values())}
        return answer
