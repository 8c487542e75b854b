"""Every operation of the OpenAPI schema, fuzzed with schemathesis.

Requests are generated from /openapi.json (valid ones, and ones that break the schema) and
sent with an admin's API token to the app in-process, on SQLite and PostgreSQL, over data
seeded with the builders: rows 1 and 2 of each kind exist, so generated ids often hit.
For /api/v1: never a 5xx, every answer matches its documented status, schema and media
type, and a user's mistake gets a 4xx with {"detail": ...}. For the rest (Meta's callbacks,
the deletion status page, health and metrics): never a 5xx.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import respx
import schemathesis
from hypothesis import given, settings
from hypothesis import strategies as st
from schemathesis.checks import CheckFunction, not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.generation import GenerationMode
from schemathesis.python.asgi import shutdown_lifespans
from schemathesis.schemas import APIOperation, BaseSchema
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.config import Settings
from app.core.clock import utc_now
from app.core.db import create_engine, create_sessionmaker, unit_of_work
from app.main import create_app
from app.models import Draft, Message
from app.users import service as users
from tests import builders
from tests.fakes.graph import FakeGraphAPI
from tests.harness import FACEBOOK_URL, INSTAGRAM_URL, make_settings

CHECKS: list[CheckFunction] = [
    not_a_server_error,
    status_code_conformance,
    response_schema_conformance,
    content_type_conformance,
]
# Examples per operation: about a minute for the 32 operations on both databases.
# HOSTILE_FUZZ_EXAMPLES=200 digs deeper (locally; with HYPOTHESIS_PROFILE=explore, new seeds).
_POSITIVE = int(os.environ.get("HOSTILE_FUZZ_EXAMPLES", "20"))
EXAMPLES = {GenerationMode.POSITIVE: _POSITIVE, GenerationMode.NEGATIVE: max(1, _POSITIVE // 2)}
SEEDED = 2  # rows 1..SEEDED of every kind exist when the run starts
PATH_IDS = (
    "account_id",
    "product_id",
    "cooperation_id",
    "draft_id",
    "conversation_id",
    "contact_id",
)


async def _seed(settings: Settings) -> str:
    """Two accounts with a cooperation, a product, a follower, a conversation, a message and
    a pending draft each; an admin; returns the admin's API token."""
    engine = create_engine(settings.DATABASE_URL)
    try:
        async with unit_of_work(create_sessionmaker(engine)) as session:
            for n in range(1, SEEDED + 1):
                account = await builders.create_account(session, external_id=f"1784140000000000{n}")
                cooperation = await builders.create_cooperation(session, account)
                await builders.create_product(session, cooperation)
                contact = await builders.create_contact(session, account, external_id=f"IGSID-{n}")
                conversation = await builders.create_conversation(session, account, contact)
                message = Message(
                    account_id=account.id,
                    conversation_id=conversation.id,
                    mid=f"m_seed_{n}",
                    direction="in",
                    author="follower",
                    kind="text",
                    text="Is there a code for the serum?",
                    payload={},
                    sent_at=utc_now(),
                )
                session.add(message)
                await session.flush()
                session.add(
                    Draft(
                        account_id=account.id,
                        conversation_id=conversation.id,
                        reply_to_message_id=message.id,
                        status="pending",
                        decision="review",
                        reasons=["confidence 0.42 below 0.80"],
                        text="Yes: LENA15 gives 15% off.",
                        intent="discount_code",
                        confidence=0.42,
                        product_ids=[1],
                        drafter="offline",
                    )
                )
            await users.create_user(
                session, email="fuzz@test.example", role="admin", password="correct horse"
            )
            return await users.create_token(session, email="fuzz@test.example")
    finally:
        await engine.dispose()


@pytest.fixture
def api_token(database_url: str, tmp_path: Path) -> str:
    token: str = asyncio.run(_seed(make_settings(database_url, str(tmp_path))))
    return token


@pytest.fixture
def api_schema(database_url: str, tmp_path: Path, api_token: str) -> Iterator[BaseSchema]:
    settings_ = make_settings(database_url, str(tmp_path))
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        FakeGraphAPI(router, facebook_url=FACEBOOK_URL, instagram_url=INSTAGRAM_URL)
        app = create_app(settings_)
        # Loading the schema starts the app's lifespan on schemathesis's event-loop thread;
        # every request of the run is served there.
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        try:
            yield schema
        finally:
            shutdown_lifespans()


def _prefer_seeded_ids(schema: BaseSchema) -> None:
    @schema.hook
    def flatmap_path_parameters(
        context: Any, path_parameters: dict[str, Any] | None
    ) -> st.SearchStrategy[dict[str, Any] | None]:
        if not path_parameters:
            return st.just(path_parameters)
        # Half the time, ids of rows that exist: the handlers' code past the 404 gets fuzzed.
        seeded = {
            name: st.integers(1, SEEDED) if name in PATH_IDS else st.just(value)
            for name, value in path_parameters.items()
        }
        return st.one_of(st.just(path_parameters), st.fixed_dictionaries(seeded))


def _fuzz(
    operation: APIOperation[Any, Any, Any, Any], mode: GenerationMode, headers: dict[str, str]
) -> None:
    api = operation.path.startswith("/api/v1/")
    checks: list[CheckFunction] = CHECKS if api else [not_a_server_error]

    # `schemathesis.pytest.from_fixture` would do this, but breaks on pytest 9.2's node ids.
    @given(case=operation.as_strategy(mode, hooks=operation.schema.hooks))
    @settings(max_examples=EXAMPLES[mode])
    def run(case: schemathesis.Case[Any]) -> None:
        response = case.call_and_validate(headers=headers, checks=checks)
        if api and response.status_code >= 400:
            body = response.json()
            assert isinstance(body, dict), response.text
            assert "detail" in body, response.text

    run()


def test_api_never_answers_5xx(
    api_schema: BaseSchema, api_token: str, subtests: pytest.Subtests
) -> None:
    _prefer_seeded_ids(api_schema)
    headers = {"Authorization": f"Bearer {api_token}"}
    operations = []
    for result in api_schema.get_all_operations():
        assert isinstance(result, Ok), result.err()
        operations.append(result.ok())
    # Deletions last: the seeded rows should outlive the reads and edits that need them.
    operations.sort(key=lambda operation: operation.method.upper() == "DELETE")
    assert len([o for o in operations if o.path.startswith("/api/v1/")]) >= 30
    for operation in operations:
        # Outside the API there is little to break the schema of (no body, a string at most).
        modes = EXAMPLES if operation.path.startswith("/api/v1/") else [GenerationMode.POSITIVE]
        for mode in modes:
            with subtests.test(msg=f"{operation.label} {mode.value}"):
                _fuzz(operation, mode, headers)
