"""The audit log: every automatic send and every human decision, with who and when."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.models import AuditEntry, User


async def record(
    session: AsyncSession,
    *,
    action: str,
    user: User | None = None,
    actor: str | None = None,
    account_id: int | None = None,
    entity: Any = None,
    details: dict[str, Any] | None = None,
) -> None:
    session.add(
        AuditEntry(
            actor=actor or ("user" if user is not None else "system"),
            user_id=None if user is None else user.id,
            account_id=account_id,
            action=action,
            entity_type=None if entity is None else type(entity).__tablename__,
            entity_id=None if entity is None else entity.id,
            details=details or {},
        )
    )
