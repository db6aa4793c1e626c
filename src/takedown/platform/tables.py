"""The platform agent's local store (SQLAlchemy Core): synced signals, sync state, review
queue, feedback and webhook outboxes, and the platform's own content hashes.

One database per agent, SQLite under `--state DIR` by default (`DIR/agent.db`), PostgreSQL by
URL. Tables are created with `metadata.create_all` by `takedown.platform.store.open_store`;
`agent_meta` holds the schema version so a later release can migrate (and the outbox
senders' leases, `takedown.platform.outbox`).

Privacy: these are the platform's own records. Signals are hashes of intimate images and are
treated as sensitive: the store holds only what matching, review and feedback need.
"""

from __future__ import annotations

import sqlalchemy as sa

__all__ = [
    "SCHEMA_VERSION",
    "agent_meta",
    "bad_event",
    "content",
    "content_signal",
    "feedback_outbox",
    "metadata",
    "review_item",
    "signal",
    "sync_state",
    "webhook_outbox",
]

SCHEMA_VERSION = 1

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

agent_meta = sa.Table(
    "agent_meta",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

signal = sa.Table(
    "signal",
    metadata,
    # One row per live (list, type, value) from the registry's feed. A `remove` event deletes
    # the row; `added_seq` is the feed seq of the `add` (the snapshot cursor for snapshot rows),
    # so backfill can ask for "signals added after seq N".
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("list", sa.String(8), nullable=False),
    sa.Column("type", sa.String(8), nullable=False),
    sa.Column("value", sa.String(64), nullable=False),
    sa.Column("quality", sa.Integer, nullable=False),
    sa.Column("variant", sa.String(16), nullable=False),
    sa.Column("added_seq", sa.BigInteger, nullable=False, index=True),
    sa.UniqueConstraint("list", "type", "value"),
)

sync_state = sa.Table(
    "sync_state",
    metadata,
    # One row per registry the agent syncs from (normally one).
    sa.Column("server", sa.String(400), primary_key=True),
    sa.Column("cursor", sa.BigInteger, nullable=False),
    sa.Column("snapshot_done", sa.Boolean, nullable=False),
    sa.Column("synced_at", sa.DateTime(timezone=True), nullable=True),
)

bad_event = sa.Table(
    "bad_event",
    metadata,
    # A malformed feed event, kept aside (never applied) and reported.
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("server", sa.String(400), nullable=False),
    sa.Column("seq", sa.BigInteger, nullable=True),
    sa.Column("raw", sa.Text, nullable=False),
    sa.Column("error", sa.Text, nullable=False),
    sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
)

content = sa.Table(
    "content",
    metadata,
    # The platform's own media, by its own reference (a path or a media id).
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("ref", sa.String(1000), nullable=False, unique=True),
    sa.Column("kind", sa.String(8), nullable=False),
    sa.Column("md5", sa.String(32), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("indexed_at", sa.DateTime(timezone=True), nullable=False),
    # The backfill watermark at which this content was first matched against every live
    # signal; NULL until then. A re-indexed file gets a new row (ids are never reused, hence
    # AUTOINCREMENT on SQLite), so backfill can tell content that changed while it ran.
    sa.Column("backfilled_seq", sa.BigInteger, nullable=True, index=True),
    sqlite_autoincrement=True,
)

content_signal = sa.Table(
    "content_signal",
    metadata,
    # The hashes of one content item: its PDQ signals (images: the query set; videos: one
    # `frame` row per vPDQ frame) and one `md5` row of the file. `id` orders backfill reads.
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "content_id",
        sa.Integer,
        sa.ForeignKey("content.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("type", sa.String(8), nullable=False),
    sa.Column("variant", sa.String(16), nullable=False),
    sa.Column("value", sa.String(64), nullable=False),
    sa.Column("quality", sa.Integer, nullable=False),
)

review_item = sa.Table(
    "review_item",
    metadata,
    # One per (platform media, listed signal) match; pending -> confirmed | rejected.
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("ref", sa.String(1000), nullable=False),
    sa.Column("list", sa.String(8), nullable=False),
    sa.Column("type", sa.String(8), nullable=False),
    sa.Column("value", sa.String(64), nullable=False),
    sa.Column("query_variant", sa.String(16), nullable=False),
    sa.Column("listed_variant", sa.String(16), nullable=False),
    sa.Column("distance", sa.Integer, nullable=False),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("decided_by", sa.String(100), nullable=True),
    sa.Column("note", sa.Text, nullable=True),
    sa.UniqueConstraint("ref", "list", "type", "value"),
    sa.CheckConstraint("status IN ('pending', 'confirmed', 'rejected')", name="status"),
    # The queue is read by status in id order; a decision looks up the signal's other items.
    sa.Index(None, "status", "id"),
    sa.Index(None, "type", "value"),
)

feedback_outbox = sa.Table(
    "feedback_outbox",
    metadata,
    # Feedback waiting for the registry's acknowledgement; retried until `sent_at` is set.
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("type", sa.String(8), nullable=False),
    sa.Column("value", sa.String(64), nullable=False),
    sa.Column("verdict", sa.String(16), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True, index=True),
    # Set when the registry refused the row for good (a 4xx other than 429): not retried.
    sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("verdict IN ('pending_review', 'blocked', 'not_blocked')", name="verdict"),
)

webhook_outbox = sa.Table(
    "webhook_outbox",
    metadata,
    # Confirmation webhook calls (`takedown.platform.webhook`), retried until acknowledged.
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("url", sa.String(2000), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True, index=True),
    sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True),
)
