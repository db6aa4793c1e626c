"""A leaner feed: fewer and smaller rows and indexes for each new hash.

- `feed_event` keeps `seq`, `op`, `list`, `created_day` and gains `signal_id`; its `type`,
  `value` and `quality` (copies of the signal's) go, and with them the (type, value, seq)
  index, replaced by (signal_id, seq). Readers join `signal`, which also gives the variant.
- The (created_day, seq) index of `feed_event` is replaced by `feed_day`: one row per day
  with the day's first seq.
- `listing` is keyed by (signal_id, list) instead of (list, signal_id) plus an index on
  signal_id.
- `media_signal` and `listing` lose their foreign key constraints (the writer alone inserts
  them, with ids it has just written or read under the write lock; rows of `media` and
  `signal` are never deleted): on PostgreSQL the checks cost as much as the rest of a case.
- On SQLite, `feed_event.seq` becomes the row id, and `listing` and `media_signal` are
  WITHOUT ROWID tables (their primary key is their only copy), so each row costs fewer b-tree
  writes.

Revision ID: 0003
Revises: 0002
Create Date: day precision only, like everything else here
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

_LISTS = "list IN ('minor', 'adult')"
_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_OPS = "op IN ('add', 'remove')"


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _upgrade_sqlite()
    else:
        _upgrade_postgresql()
    op.create_table(
        "feed_day",
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("first_seq", _SEQ, nullable=False),
        sa.PrimaryKeyConstraint("day", name="pk_feed_day"),
    )
    op.execute(
        "INSERT INTO feed_day (day, first_seq) "
        "SELECT created_day, MIN(seq) FROM feed_event GROUP BY created_day"
    )


def _upgrade_postgresql() -> None:
    op.add_column("feed_event", sa.Column("signal_id", sa.Integer, nullable=True))
    op.execute(
        "UPDATE feed_event SET signal_id = signal.id FROM signal "
        "WHERE signal.type = feed_event.type AND signal.value = feed_event.value"
    )
    op.alter_column("feed_event", "signal_id", nullable=False)
    op.drop_index("ix_feed_event_type_value_seq", table_name="feed_event")
    for column in ("type", "value", "quality"):
        op.drop_column("feed_event", column)
    op.create_index("ix_feed_event_signal_id_seq", "feed_event", ["signal_id", "seq"])
    op.drop_index("ix_feed_event_created_day_seq", table_name="feed_event")
    op.drop_index("ix_listing_signal_id", table_name="listing")
    op.drop_constraint("pk_listing", "listing", type_="primary")
    op.create_primary_key("pk_listing", "listing", ["signal_id", "list"])
    op.drop_constraint("fk_listing_signal_id_signal", "listing", type_="foreignkey")
    op.drop_constraint("fk_media_signal_media_id_media", "media_signal", type_="foreignkey")
    op.drop_constraint("fk_media_signal_signal_id_signal", "media_signal", type_="foreignkey")


def _upgrade_sqlite() -> None:
    # New tables with the final shape, filled from the old ones, then swapped in. A NOT NULL
    # signal_id makes the copy fail rather than drop an event whose signal is missing.
    op.create_table(
        "feed_event_new",
        sa.Column("seq", sa.Integer, nullable=False, autoincrement=False),
        sa.Column("op", sa.String(8), nullable=False),
        sa.Column("list", sa.String(8), nullable=False),
        sa.Column("signal_id", sa.Integer, nullable=False),
        sa.Column("created_day", sa.Date, nullable=False),
        sa.CheckConstraint(_OPS, name="ck_feed_event_op"),
        sa.CheckConstraint(_LISTS, name="ck_feed_event_list"),
        sa.PrimaryKeyConstraint("seq", name="pk_feed_event"),
    )
    op.execute(
        "INSERT INTO feed_event_new (seq, op, list, signal_id, created_day) "
        "SELECT e.seq, e.op, e.list, s.id, e.created_day FROM feed_event AS e "
        "LEFT JOIN signal AS s ON s.type = e.type AND s.value = e.value ORDER BY e.seq"
    )
    op.drop_table("feed_event")
    op.rename_table("feed_event_new", "feed_event")
    op.create_index("ix_feed_event_list_seq", "feed_event", ["list", "seq"])
    op.create_index("ix_feed_event_signal_id_seq", "feed_event", ["signal_id", "seq"])

    op.create_table(
        "listing_new",
        sa.Column("signal_id", sa.Integer, nullable=False),
        sa.Column("list", sa.String(8), nullable=False),
        sa.CheckConstraint(_LISTS, name="ck_listing_list"),
        sa.PrimaryKeyConstraint("signal_id", "list", name="pk_listing"),
        sqlite_with_rowid=False,
    )
    op.execute("INSERT INTO listing_new (signal_id, list) SELECT signal_id, list FROM listing")
    op.drop_table("listing")
    op.rename_table("listing_new", "listing")

    op.create_table(
        "media_signal_new",
        sa.Column("media_id", sa.Integer, nullable=False),
        sa.Column("signal_id", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("media_id", "signal_id", name="pk_media_signal"),
        sqlite_with_rowid=False,
    )
    op.execute(
        "INSERT INTO media_signal_new (media_id, signal_id) "
        "SELECT media_id, signal_id FROM media_signal"
    )
    op.drop_table("media_signal")
    op.rename_table("media_signal_new", "media_signal")
    op.create_index("ix_media_signal_signal_id", "media_signal", ["signal_id"])


def downgrade() -> None:
    op.drop_table("feed_day")
    if op.get_bind().dialect.name == "sqlite":
        _downgrade_sqlite()
        return
    op.create_index("ix_feed_event_created_day_seq", "feed_event", ["created_day", "seq"])
    op.create_foreign_key(
        "fk_media_signal_signal_id_signal",
        "media_signal",
        "signal",
        ["signal_id"],
        ["id"],
        ondelete="CASCADE",
    )
    op.create_foreign_key(
        "fk_media_signal_media_id_media",
        "media_signal",
        "media",
        ["media_id"],
        ["id"],
        ondelete="CASCADE",
    )
    op.create_foreign_key(
        "fk_listing_signal_id_signal",
        "listing",
        "signal",
        ["signal_id"],
        ["id"],
        ondelete="CASCADE",
    )
    op.drop_constraint("pk_listing", "listing", type_="primary")
    op.create_primary_key("pk_listing", "listing", ["list", "signal_id"])
    op.create_index("ix_listing_signal_id", "listing", ["signal_id"])
    op.drop_index("ix_feed_event_signal_id_seq", table_name="feed_event")
    for name, type_ in (("type", sa.String(8)), ("value", sa.String(64)), ("quality", sa.Integer)):
        op.add_column("feed_event", sa.Column(name, type_, nullable=True))
    op.execute(
        "UPDATE feed_event SET type = signal.type, value = signal.value, "
        "quality = signal.quality FROM signal WHERE signal.id = feed_event.signal_id"
    )
    for name in ("type", "value", "quality"):
        op.alter_column("feed_event", name, nullable=False)
    op.drop_column("feed_event", "signal_id")
    op.create_index("ix_feed_event_type_value_seq", "feed_event", ["type", "value", "seq"])


def _downgrade_sqlite() -> None:
    op.create_table(
        "feed_event_old",
        sa.Column("seq", sa.BigInteger, nullable=False, autoincrement=False),
        sa.Column("op", sa.String(8), nullable=False),
        sa.Column("list", sa.String(8), nullable=False),
        sa.Column("type", sa.String(8), nullable=False),
        sa.Column("value", sa.String(64), nullable=False),
        sa.Column("quality", sa.Integer, nullable=False),
        sa.Column("created_day", sa.Date, nullable=False),
        sa.CheckConstraint(_OPS, name="ck_feed_event_op"),
        sa.CheckConstraint(_LISTS, name="ck_feed_event_list"),
        sa.PrimaryKeyConstraint("seq", name="pk_feed_event"),
    )
    op.execute(
        "INSERT INTO feed_event_old (seq, op, list, type, value, quality, created_day) "
        "SELECT e.seq, e.op, e.list, s.type, s.value, s.quality, e.created_day "
        "FROM feed_event AS e LEFT JOIN signal AS s ON s.id = e.signal_id ORDER BY e.seq"
    )
    op.drop_table("feed_event")
    op.rename_table("feed_event_old", "feed_event")
    op.create_index("ix_feed_event_list_seq", "feed_event", ["list", "seq"])
    op.create_index("ix_feed_event_type_value_seq", "feed_event", ["type", "value", "seq"])
    op.create_index("ix_feed_event_created_day_seq", "feed_event", ["created_day", "seq"])

    op.create_table(
        "listing_old",
        sa.Column("list", sa.String(8), nullable=False),
        sa.Column("signal_id", sa.Integer, nullable=False),
        sa.CheckConstraint(_LISTS, name="ck_listing_list"),
        sa.ForeignKeyConstraint(
            ["signal_id"], ["signal.id"], name="fk_listing_signal_id_signal", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("list", "signal_id", name="pk_listing"),
    )
    op.execute("INSERT INTO listing_old (list, signal_id) SELECT list, signal_id FROM listing")
    op.drop_table("listing")
    op.rename_table("listing_old", "listing")
    op.create_index("ix_listing_signal_id", "listing", ["signal_id"])

    op.create_table(
        "media_signal_old",
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
    op.execute(
        "INSERT INTO media_signal_old (media_id, signal_id) "
        "SELECT media_id, signal_id FROM media_signal"
    )
    op.drop_table("media_signal")
    op.rename_table("media_signal_old", "media_signal")
    op.create_index("ix_media_signal_signal_id", "media_signal", ["signal_id"])
