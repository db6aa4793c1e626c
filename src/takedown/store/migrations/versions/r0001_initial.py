"""The registry's first schema: cases, media, signals, the feed, platforms, feedback, audit.

Revision ID: 0001
Revises:
Create Date: day precision only, like everything else here
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

_ACTIVE_OR_WITHDRAWN = "status IN ('active', 'withdrawn')"
_LISTS = "list IN ('minor', 'adult')"


def upgrade() -> None:
    op.create_table(
        "case",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("number", sa.String(12), nullable=False),
        sa.Column("pin_hash", sa.String(200), nullable=False),
        sa.Column("age_group", sa.String(8), nullable=False),
        sa.Column("language", sa.String(16), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("created_day", sa.Date, nullable=False),
        sa.Column("updated_day", sa.Date, nullable=False),
        sa.Column("failed_pin_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("age_group IN ('minor', 'adult')", name="ck_case_age_group"),
        sa.CheckConstraint(_ACTIVE_OR_WITHDRAWN, name="ck_case_status"),
        sa.PrimaryKeyConstraint("id", name="pk_case"),
        sa.UniqueConstraint("number", name="uq_case_number"),
    )
    op.create_table(
        "media",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("public_id", sa.String(16), nullable=False),
        sa.Column("case_id", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("md5", sa.String(32), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("created_day", sa.Date, nullable=False),
        sa.Column("vpdq", sa.JSON, nullable=True),
        sa.CheckConstraint("kind IN ('image', 'video')", name="ck_media_kind"),
        sa.CheckConstraint(_ACTIVE_OR_WITHDRAWN, name="ck_media_status"),
        sa.ForeignKeyConstraint(
            ["case_id"], ["case.id"], name="fk_media_case_id_case", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_media"),
        sa.UniqueConstraint("public_id", name="uq_media_public_id"),
    )
    op.create_index("ix_media_case_id", "media", ["case_id"])
    op.create_table(
        "signal",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("type", sa.String(8), nullable=False),
        sa.Column("value", sa.String(64), nullable=False),
        sa.Column("quality", sa.Integer, nullable=False),
        sa.Column("usable", sa.Boolean, nullable=False),
        sa.Column("variant", sa.String(16), nullable=False),
        sa.CheckConstraint("type IN ('pdq', 'md5')", name="ck_signal_type"),
        sa.CheckConstraint("quality BETWEEN 0 AND 100", name="ck_signal_quality"),
        sa.PrimaryKeyConstraint("id", name="pk_signal"),
        sa.UniqueConstraint("type", "value", name="uq_signal_type_value"),
    )
    op.create_table(
        "media_signal",
        sa.Column("media_id", sa.Integer, nullable=False),
        sa.Column("signal_id", sa.Integer, nullable=False),
        sa.ForeignKeyConstraint(
            ["media_id"], ["media.id"], name="fk_media_signal_media_id_media", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["signal_id"],
            ["signal.id"],
            name="fk_media_signal_signal_id_signal",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("media_id", "signal_id", name="pk_media_signal"),
    )
    op.create_index("ix_media_signal_signal_id", "media_signal", ["signal_id"])
    op.create_table(
        "listing",
        sa.Column("list", sa.String(8), nullable=False),
        sa.Column("signal_id", sa.Integer, nullable=False),
        sa.CheckConstraint(_LISTS, name="ck_listing_list"),
        sa.ForeignKeyConstraint(
            ["signal_id"], ["signal.id"], name="fk_listing_signal_id_signal", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("list", "signal_id", name="pk_listing"),
    )
    op.create_index("ix_listing_signal_id", "listing", ["signal_id"])
    op.create_table(
        "feed_event",
        sa.Column("seq", sa.BigInteger, nullable=False, autoincrement=False),
        sa.Column("op", sa.String(8), nullable=False),
        sa.Column("list", sa.String(8), nullable=False),
        sa.Column("type", sa.String(8), nullable=False),
        sa.Column("value", sa.String(64), nullable=False),
        sa.Column("quality", sa.Integer, nullable=False),
        sa.Column("created_day", sa.Date, nullable=False),
        sa.CheckConstraint("op IN ('add', 'remove')", name="ck_feed_event_op"),
        sa.CheckConstraint(_LISTS, name="ck_feed_event_list"),
        sa.PrimaryKeyConstraint("seq", name="pk_feed_event"),
    )
    op.create_index("ix_feed_event_list_seq", "feed_event", ["list", "seq"])
    op.create_table(
        "quarantine",
        sa.Column("signal_id", sa.Integer, nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("restored_after_feedback", sa.Integer, nullable=True),
        sa.CheckConstraint(
            "state IN ('quarantined', 'confirmed', 'restored')", name="ck_quarantine_state"
        ),
        sa.ForeignKeyConstraint(
            ["signal_id"],
            ["signal.id"],
            name="fk_quarantine_signal_id_signal",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("signal_id", name="pk_quarantine"),
    )
    op.create_table(
        "platform",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("contact", sa.String(200), nullable=True),
        sa.Column("lists", sa.String(20), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("created_day", sa.Date, nullable=False),
        sa.CheckConstraint("status IN ('active', 'revoked')", name="ck_platform_status"),
        sa.PrimaryKeyConstraint("id", name="pk_platform"),
        sa.UniqueConstraint("name", name="uq_platform_name"),
    )
    op.create_table(
        "api_key",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("platform_id", sa.Integer, nullable=False),
        sa.Column("lookup", sa.String(16), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("created_day", sa.Date, nullable=False),
        sa.CheckConstraint("status IN ('active', 'revoked')", name="ck_api_key_status"),
        sa.ForeignKeyConstraint(
            ["platform_id"],
            ["platform.id"],
            name="fk_api_key_platform_id_platform",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_api_key"),
        sa.UniqueConstraint("key_hash", name="uq_api_key_key_hash"),
    )
    op.create_index("ix_api_key_lookup", "api_key", ["lookup"])
    op.create_index("ix_api_key_platform_id", "api_key", ["platform_id"])
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("platform_id", sa.Integer, nullable=False),
        sa.Column("signal_id", sa.Integer, nullable=True),
        sa.Column("media_id", sa.Integer, nullable=True),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.CheckConstraint(
            "verdict IN ('pending_review', 'blocked', 'not_blocked')", name="ck_feedback_verdict"
        ),
        sa.CheckConstraint("(signal_id IS NULL) <> (media_id IS NULL)", name="ck_feedback_target"),
        sa.ForeignKeyConstraint(
            ["platform_id"],
            ["platform.id"],
            name="fk_feedback_platform_id_platform",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["signal_id"],
            ["signal.id"],
            name="fk_feedback_signal_id_signal",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["media_id"], ["media.id"], name="fk_feedback_media_id_media", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_feedback"),
    )
    op.create_index("ix_feedback_signal_id_platform_id", "feedback", ["signal_id", "platform_id"])
    op.create_index("ix_feedback_media_id_platform_id", "feedback", ["media_id", "platform_id"])
    op.create_table(
        "audit",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("object", sa.String(100), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit"),
    )


def downgrade() -> None:
    for table in (
        "audit",
        "feedback",
        "api_key",
        "platform",
        "quarantine",
        "feed_event",
        "listing",
        "media_signal",
        "signal",
        "media",
        "case",
    ):
        op.drop_table(table)
