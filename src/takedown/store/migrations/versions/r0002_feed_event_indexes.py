"""Indexes for the StopNCII-compatible API: a hash's latest feed event, and changes since a day.

Revision ID: 0002
Revises: 0001
Create Date: day precision only, like everything else here
"""

from __future__ import annotations

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_index("ix_feed_event_type_value_seq", "feed_event", ["type", "value", "seq"])
    op.create_index("ix_feed_event_created_day_seq", "feed_event", ["created_day", "seq"])


def downgrade() -> None:
    op.drop_index("ix_feed_event_created_day_seq", table_name="feed_event")
    op.drop_index("ix_feed_event_type_value_seq", table_name="feed_event")
