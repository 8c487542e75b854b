"""account send pause

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 08:38:52.276450
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.models.base

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.add_column(
        "accounts",
        sa.Column("sends_paused_until", app.models.base.UTCDateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:

    op.drop_column("accounts", "sends_paused_until")
