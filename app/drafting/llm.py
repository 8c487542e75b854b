"""The LLM drafter: one Chat Completions call with a strict JSON schema.

Also the one place that builds the OpenAI client and the one place that chooses a
drafter from settings.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any, cast

import httpx
import openai
from openai import AsyncOpenAI
from pydantic import BaseModel, ConfigDict, ValidationError

from app.config import Settings
from app.drafting.base import Drafter, DraftingError, DraftRequest, DraftResult, Usage
from app.drafting.offline import OfflineDrafter
from app.drafting.prompt import RESPONSE_SCHEMA, build_messages
from app.ops.metrics import LLM_REQUEST_SECONDS
from app.policy.schemas import INTENTS

SCHEMA_NAME = "draft_reply"
# OpenAI-compatible servers without authentication still need some key in the header.
NO_API_KEY = "not-needed"


class LLMReply(BaseModel):
    """The model's answer, as RESPONSE_SCHEMA describes it."""

    model_config = ConfigDict(extra="forbid")

    reply: str
    intent: str
    language: str
    confidence: float
    product_ids: list[int]
    needs_human: bool


class _Message(BaseModel):
    content: str | None = None
    refusal: str | None = None


class _Choice(BaseModel):
    message: _Message
    finish_reason: str | None = None


class _Usage(BaseModel):
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


class Completion(BaseModel):
    """The fields of a Chat Completions answer the drafter reads (the rest is ignored)."""

    choices: list[_Choice] = []
    usage: _Usage | None = None


# The request's `response_format`: the strict schema of LLMReply.
RESPONSE_FORMAT = {
    "type": "json_schema",
    "json_schema": {"name": SCHEMA_NAME, "strict": True, "schema": RESPONSE_SCHEMA},
}


def create_openai_client(settings: Settings, http_client: httpx.AsyncClient) -> AsyncOpenAI:
    """The one factory for the OpenAI client.

    `max_retries=0`: the worker owns retries. `http_client` is our httpx client for the LLM,
    so all egress goes through our clients (and one respx router in tests); openai >= 3
    would otherwise use its own httpx2 fork, which respx does not see.
    """
    api_key = settings.OPENAI_API_KEY
    return AsyncOpenAI(
        api_key=api_key.get_secret_value() if api_key is not None else NO_API_KEY,
        base_url=settings.OPENAI_BASE_URL,
        max_retries=0,
        timeout=settings.LLM_TIMEOUT_SECONDS,
        # Typed as httpx2.AsyncClient, but the SDK accepts a plain httpx client at runtime.
        http_client=cast(Any, http_client),
    )


class LLMDrafter:
    """Drafts with any OpenAI-compatible chat model; any failure is a DraftingError."""

    name = "llm"

    def __init__(self, client: AsyncOpenAI, model: str) -> None:
        self.client = client
        self.model = model

    async def draft(self, request: DraftRequest) -> DraftResult:
        started = time.perf_counter()
        outcome = "error"
        try:
            completion = await self._complete(request)
            usage = _usage(completion)
            try:
                answer = _parse(completion)
            except DraftingError as exc:
                outcome, exc.usage = "invalid_output", usage
                raise
            outcome = "ok"
            return replace(self._result(request, answer), usage=usage)
        except DraftingError as exc:
            if isinstance(exc.__cause__, openai.APITimeoutError):
                outcome = "timeout"
            raise
        finally:
            LLM_REQUEST_SECONDS.labels(outcome=outcome).observe(time.perf_counter() - started)

    async def _complete(self, request: DraftRequest) -> Completion:
        """One Chat Completions call through the SDK's plain `post` (its documented way to
        call an endpoint as raw HTTP): the SDK's auth, timeouts and errors, without its
        transformation of the request and its model of the answer, which cost more CPU
        than the rest of the call (about 1.3 against 0.5 ms, issue 15); the few fields
        the drafter reads are validated here."""
        body = {
            "model": self.model,
            "messages": build_messages(request),
            "response_format": RESPONSE_FORMAT,
        }
        try:
            response = await self.client.post(
                "/chat/completions", cast_to=cast(Any, httpx.Response), body=body
            )
        except openai.APITimeoutError as exc:
            raise DraftingError("LLM timed out") from exc
        except openai.APIStatusError as exc:
            raise DraftingError(f"LLM answered HTTP {exc.status_code}") from exc
        except openai.APIError as exc:
            raise DraftingError(f"LLM request failed: {type(exc).__name__}") from exc
        try:
            return Completion.model_validate_json(cast(httpx.Response, response).content)
        except ValidationError as exc:
            raise DraftingError("LLM answered something that is not a chat completion") from exc

    def _result(self, request: DraftRequest, answer: LLMReply) -> DraftResult:
        offered = {match.product.id for match in request.products}
        kept = tuple(dict.fromkeys(pid for pid in answer.product_ids if pid in offered))
        notes: list[str] = []
        dropped = sorted(set(answer.product_ids) - offered)
        if dropped:
            notes.append(f"LLM cited products not retrieved: {dropped}")
        intent = answer.intent.strip().lower()
        if intent not in INTENTS:
            notes.append(f"LLM intent {answer.intent!r} unknown, using 'other'")
            intent = "other"
        return DraftResult(
            reply=answer.reply.strip(),
            intent=intent,
            language=answer.language.strip().lower()[:2],
            confidence=min(1.0, max(0.0, answer.confidence)),
            product_ids=kept,
            needs_human=answer.needs_human,
            drafter=self.name,
            model=self.model,
            notes=tuple(notes),
        )


def _usage(completion: Completion) -> Usage | None:
    """The tokens the server says it used; some OpenAI-compatible servers leave it out."""
    usage = completion.usage
    if usage is None:
        return None
    return Usage(
        prompt_tokens=max(0, int(usage.prompt_tokens or 0)),
        completion_tokens=max(0, int(usage.completion_tokens or 0)),
    )


def _parse(completion: Completion) -> LLMReply:
    if not completion.choices:
        raise DraftingError("LLM returned no choices")
    choice = completion.choices[0]
    if choice.message.refusal:
        raise DraftingError("LLM refused to answer")
    if choice.finish_reason == "length":
        raise DraftingError("LLM answer was cut off")
    content = choice.message.content
    if not content:
        raise DraftingError("LLM returned an empty answer")
    try:
        answer = LLMReply.model_validate_json(content)
    except ValidationError as exc:
        raise DraftingError("LLM answer is not valid JSON for the schema") from exc
    if not answer.reply.strip():
        raise DraftingError("LLM returned an empty reply")
    return answer


def create_drafter(settings: Settings, http_client: httpx.AsyncClient) -> Drafter:
    """The one place that chooses: the LLM when OPENAI_API_KEY is set, else offline."""
    if settings.OPENAI_API_KEY is None:
        return OfflineDrafter()
    client = create_openai_client(settings, http_client)
    return LLMDrafter(client, settings.LLM_MODEL)
