"""The registry's tables (SQLAlchemy Core). Migrations in `store/migrations` create exactly these.

Privacy: no table has a column for an IP address, user agent, referrer or time of day; dates
are days. Reporters have no identity here at all: a case is a number and a PIN hash.
"""

from __future__ import annotations

import sqlalchemy as sa

__all__ = [
    "api_key",
    "audit",
    "case",
    "feed_day",
    "feed_event",
    "feedback",
    "listing",
    "media",
    "media_signal",
    "metadata",
    "platform",
    "quarantine",
    "signal",
]

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

case = sa.Table(
    "case",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("number", sa.String(12), nullable=False, unique=True),
    sa.Column("pin_hash", sa.String(200), nullable=False),
    sa.Column("age_group", sa.String(8), nullable=False),
    sa.Column("language", sa.String(16), nullable=False),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("created_day", sa.Date, nullable=False),
    sa.Column("updated_day", sa.Date, nullable=False),
    sa.Column("failed_pin_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("age_group IN ('minor', 'adult')", name="age_group"),
    sa.CheckConstraint("status IN ('active', 'withdrawn')", name="status"),
)

media = sa.Table(
    "media",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("public_id", sa.String(16), nullable=False, unique=True),
    sa.Column("case_id", sa.Integer, sa.ForeignKey("case.id", ondelete="CASCADE"), nullable=False),
    sa.Column("kind", sa.String(8), nullable=False),
    sa.Column("md5", sa.String(32), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("created_day", sa.Date, nullable=False),
    sa.Column("vpdq", sa.JSON, nullable=True),
    sa.CheckConstraint("kind IN ('image', 'video')", name="kind"),
    sa.CheckConstraint("status IN ('active', 'withdrawn')", name="status"),
    sa.Index(None, "case_id"),
)

signal = sa.Table(
    "signal",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("type", sa.String(8), nullable=False),
    sa.Column("value", sa.String(64), nullable=False),
    sa.Column("quality", sa.Integer, nullable=False),
    sa.Column("usable", sa.Boolean, nullable=False),
    sa.Column("variant", sa.String(16), nullable=False),
    sa.UniqueConstraint("type", "value"),
    sa.CheckConstraint("type IN ('pdq', 'md5')", name="type"),
    sa.CheckConstraint("quality BETWEEN 0 AND 100", name="quality"),
)

media_signal = sa.Table(
    "media_signal",
    metadata,
    sa.Column("media_id", sa.Integer, primary_key=True),
    sa.Column("signal_id", sa.Integer, primary_key=True),
    sa.Index(None, "signal_id"),
    sqlite_with_rowid=False,
)
"""Which media item holds which signal: 80 rows for a case of 10 photos. Like `listing` and
`feed_event`, it references `media` and `signal` without a foreign key constraint: only the
case writer (`registry.casewriter`) inserts here, with ids it has just inserted or read under
the write lock, and no media or signal row is ever deleted. On PostgreSQL the checks (a
locking lookup of the referenced row per inserted row) cost about as much database time as
all the rest of writing a case (docs/registry.md)."""

listing = sa.Table(
    "listing",
    metadata,
    sa.Column("signal_id", sa.Integer, primary_key=True),
    sa.Column("list", sa.String(8), primary_key=True),
    sa.CheckConstraint("list IN ('minor', 'adult')", name="list"),
    sqlite_with_rowid=False,
)
"""One row per (signal, list) that is live now: the feed's state, in which every `add` event
without a later `remove` has a row. Snapshots and the hosted match read it. Keyed by signal
first: the writer looks rows up by signal, and new signals append at the end of the key.
No foreign key constraint: see `media_signal`."""

FEED_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
"""64-bit; on SQLite `INTEGER PRIMARY KEY`, which is the row id (no second index)."""

feed_event = sa.Table(
    "feed_event",
    metadata,
    sa.Column("seq", FEED_SEQ, primary_key=True, autoincrement=False),
    sa.Column("op", sa.String(8), nullable=False),
    sa.Column("list", sa.String(8), nullable=False),
    sa.Column("signal_id", sa.Integer, nullable=False),
    sa.Column("created_day", sa.Date, nullable=False),
    sa.CheckConstraint("op IN ('add', 'remove')", name="op"),
    sa.CheckConstraint("list IN ('minor', 'adult')", name="list"),
    sa.Index(None, "list", "seq"),
    sa.Index(None, "signal_id", "seq"),
)
"""Append-only. `seq` is assigned by the writer holding the feed lock (max + 1), so it has no
gaps and commits in order. An event names its signal by id; readers join `signal` for its
type, value, quality and variant (a signal row never changes those and is never deleted; no
foreign key constraint, see `media_signal`). The (signal_id, seq) index serves the
StopNCII-compatible API: a hash's latest event."""

feed_day = sa.Table(
    "feed_day",
    metadata,
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("first_seq", FEED_SEQ, nullable=False),
)
"""The first feed event of each day (days never decrease along seq): where "changes since a
day" starts for the StopNCII-compatible API. One row per day, written with that event."""

quarantine = sa.Table(
    "quarantine",
    metadata,
    sa.Column(
        "signal_id",
        sa.Integer,
        sa.ForeignKey("signal.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("state", sa.String(12), nullable=False),
    sa.Column("day", sa.Date, nullable=False),
    sa.Column("restored_after_feedback", sa.Integer, nullable=True),
    sa.CheckConstraint("state IN ('quarantined', 'confirmed', 'restored')", name="state"),
)
"""A signal without a row has never been quarantined (state `none`). After a restore, only
`not_blocked` verdicts with a feedback id above `restored_after_feedback` count again."""

platform = sa.Table(
    "platform",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(64), nullable=False, unique=True),
    sa.Column("contact", sa.String(200), nullable=True),
    sa.Column("lists", sa.String(20), nullable=False),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("created_day", sa.Date, nullable=False),
    sa.CheckConstraint("status IN ('active', 'revoked')", name="status"),
)
"""`lists` is a comma-separated subset of `minor,adult`."""

api_key = sa.Table(
    "api_key",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "platform_id",
        sa.Integer,
        sa.ForeignKey("platform.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("lookup", sa.String(16), nullable=False),
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("created_day", sa.Date, nullable=False),
    sa.CheckConstraint("status IN ('active', 'revoked')", name="status"),
    sa.Index(None, "lookup"),
    sa.Index(None, "platform_id"),
)
"""`key_hash` is the SHA-256 of the key (keys are 256 random bits); `lookup` its first 16 hex
digits, the index a request is found by before the constant-time comparison."""

feedback = sa.Table(
    "feedback",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "platform_id",
        sa.Integer,
        sa.ForeignKey("platform.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column(
        "signal_id", sa.Integer, sa.ForeignKey("signal.id", ondelete="CASCADE"), nullable=True
    ),
    sa.Column("media_id", sa.Integer, sa.ForeignKey("media.id", ondelete="CASCADE"), nullable=True),
    sa.Column("verdict", sa.String(16), nullable=False),
    sa.Column("day", sa.Date, nullable=False),
    sa.CheckConstraint("verdict IN ('pending_review', 'blocked', 'not_blocked')", name="verdict"),
    sa.CheckConstraint("(signal_id IS NULL) <> (media_id IS NULL)", name="target"),
    sa.Index(None, "signal_id", "platform_id"),
    sa.Index(None, "media_id", "platform_id"),
)
"""History of verdicts; the latest (highest id) per (platform, signal or media) counts."""

audit = sa.Table(
    "audit",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("day", sa.Date, nullable=False),
    sa.Column("actor", sa.String(64), nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("object", sa.String(100), nullable=False),
)
"""Operator and platform actions; `actor` is a platform name or `operator`, never a reporter."""
