"""A python-threatexchange extension: a takedown registry's `/v1/feed` as a SignalExchangeAPI,
so Meta's HMA and the `threatexchange` command line can fetch our lists.

    threatexchange config extensions add takedown.platform.txextension
    threatexchange config collab edit takedown my-registry --create \\
        --server https://registry.example --list adult
    printf '%s' tdk_... > ~/.tx_takedown_key     # or: export TX_TAKEDOWN_KEY=tdk_...
    threatexchange fetch && threatexchange match photo upload.jpg

One collaboration reads one list (`adult` or `minor`) with the platform's API key. The first
fetch reads the snapshot, later ones the feed from the saved cursor; a `remove` event (a
withdrawal, or a hash held for review) deletes the hash from the fetched state at once.

Only python-threatexchange imports this module (it needs threatexchange installed); nothing
in the takedown package imports it, so takedown itself does not depend on threatexchange.
No `from __future__ import annotations` here: threatexchange's CLI reads the collaboration
config's field types at run time to build its command-line options.
"""

import logging
import re
import time
import typing as t
from collections.abc import Iterator
from dataclasses import dataclass, field

from threatexchange.exchanges import auth
from threatexchange.exchanges import fetch_state as state
from threatexchange.exchanges.collab_config import CollaborationConfigWithDefaults
from threatexchange.exchanges.signal_exchange_api import SignalExchangeAPIWithSimpleUpdates
from threatexchange.extensions.manifest import ThreatExchangeExtensionManifest
from threatexchange.signal_type.md5 import VideoMD5Signal
from threatexchange.signal_type.pdq.signal import PdqSignal
from threatexchange.signal_type.signal_base import SignalType

from takedown.errors import InputError
from takedown.platform.events import (
    LISTS,
    FeedEvent,
    parse_event,
    parse_snapshot_line,
)
from takedown.platform.feed_client import FeedClient, normalise_server

__all__ = [
    "API_NAME",
    "TX_MANIFEST",
    "TakedownCheckpoint",
    "TakedownCollabConfig",
    "TakedownCredentials",
    "TakedownSignalExchangeAPI",
    "TakedownSignalMetadata",
]

API_NAME = "takedown"
PAGE_SIZE = 1000
"""Feed events per request, and snapshot lines per delta."""

_log = logging.getLogger(__name__)
_KEY = re.compile(r"[\x21-\x7e]{8,512}")
_TYPE_NAMES = {"pdq": PdqSignal.get_name(), "md5": VideoMD5Signal.get_name()}
"""Our feed's signal types as python-threatexchange names them (`md5` is a video's MD5)."""

Key = tuple[str, str]
"""(threatexchange signal type name, value): one hash of the collaboration's list."""


@dataclass
class _TakedownCollabRequired:
    server: str = field(
        metadata={
            "help": "The takedown registry's base URL, e.g. https://registry.example",
            "metavar": "URL",
        }
    )
    list: str = field(
        metadata={"help": "The list this collaboration reads: adult or minor", "metavar": "LIST"}
    )


@dataclass
class TakedownCollabConfig(CollaborationConfigWithDefaults, _TakedownCollabRequired):
    """One list of one takedown registry."""

    api: str = field(init=False, default=API_NAME)


@dataclass
class TakedownCredentials(auth.CredentialHelper):
    """The platform's API key (`takedown admin platform add` printed it): from the variable
    TX_TAKEDOWN_KEY, else the file ~/.tx_takedown_key (keep it `chmod 400`)."""

    ENV_VARIABLE: t.ClassVar[str] = "TX_TAKEDOWN_KEY"
    FILE_NAME: t.ClassVar[str] = "~/.tx_takedown_key"

    api_key: str = field(metadata={"help": "The platform's API key (tdk_...)"})

    @classmethod
    def _from_str(cls, s: str) -> "TakedownCredentials":
        return cls(s.strip())

    def _are_valid(self) -> bool:
        return bool(_KEY.fullmatch(self.api_key))


@dataclass
class TakedownCheckpoint(state.FetchCheckpointBase):
    """Where the next fetch starts: the feed seq after the last event fetched."""

    cursor: int
    snapshot_done: bool = True
    """False while a first fetch is still inside the snapshot: such a checkpoint cannot be
    resumed (the rest of the snapshot would be lost), so it reports itself stale and the
    next fetch starts again from scratch."""
    fetched_at: int = field(default_factory=lambda: int(time.time()))

    def is_stale(self) -> bool:
        return not self.snapshot_done


@dataclass
class TakedownSignalMetadata(state.FetchedSignalMetadata):
    """What the feed says about one listed hash. Every hash on our lists was reported by the
    person pictured; a platform reviews matches before acting, hence investigation seed."""

    list: str
    quality: int
    variant: str
    seq: int

    def get_as_opinions(self) -> t.Sequence[state.SignalOpinion]:
        return [
            state.SignalOpinion(False, state.SignalOpinionCategory.INVESTIGATION_SEED, {self.list})
        ]

    def __str__(self) -> str:
        return f"{self.list} quality={self.quality} variant={self.variant}"


class TakedownSignalExchangeAPI(
    auth.SignalExchangeWithAuth[TakedownCollabConfig, TakedownCredentials],
    SignalExchangeAPIWithSimpleUpdates[
        TakedownCollabConfig, TakedownCheckpoint, TakedownSignalMetadata
    ],
):
    """Fetches one list of a takedown registry: snapshot first, then the feed by cursor."""

    def __init__(self, collab: TakedownCollabConfig, client: FeedClient) -> None:
        super().__init__()
        self.collab = collab
        self.client = client

    @classmethod
    def get_name(cls) -> str:
        return API_NAME

    @staticmethod
    def get_config_cls() -> type[TakedownCollabConfig]:
        return TakedownCollabConfig

    @staticmethod
    def get_checkpoint_cls() -> type[TakedownCheckpoint]:
        return TakedownCheckpoint

    @staticmethod
    def get_record_cls() -> type[TakedownSignalMetadata]:
        return TakedownSignalMetadata

    @staticmethod
    def get_credential_cls() -> type[TakedownCredentials]:
        return TakedownCredentials

    @classmethod
    def for_collab(
        cls,
        collab: TakedownCollabConfig,
        credentials: TakedownCredentials | None = None,
    ) -> "TakedownSignalExchangeAPI":
        credentials = credentials or TakedownCredentials.get(cls)
        if collab.list not in LISTS:
            raise ValueError(
                f"collaboration {collab.name!r}: list must be one of "
                f"{', '.join(sorted(LISTS))}, not {collab.list!r}"
            )
        normalise_server(collab.server)  # a bad URL is a ConfigError naming it
        return cls(collab, FeedClient(collab.server, credentials.api_key))

    def fetch_iter(
        self,
        supported_signal_types: t.Sequence[type[SignalType]],
        checkpoint: TakedownCheckpoint | None,
    ) -> Iterator[state.FetchDelta[Key, TakedownSignalMetadata, TakedownCheckpoint]]:
        wanted = {s.get_name() for s in supported_signal_types}
        cursor = 0
        if checkpoint is None or not checkpoint.snapshot_done:
            cursor = yield from self._snapshot(wanted)
        else:
            cursor = checkpoint.cursor
        while True:
            page = self.client.feed_page(cursor, PAGE_SIZE)
            updates: dict[Key, TakedownSignalMetadata | None] = {}
            for raw in page.events:
                try:
                    event = parse_event(raw, cursor)
                except InputError as exc:
                    # Never stall the fetch on one bad event: skip it, say so.
                    _log.warning("takedown feed: skipped a malformed event: %s", exc.message)
                    continue
                cursor = event.seq
                key = self._key(event, wanted)
                if key is not None:
                    updates[key] = None if event.op == "remove" else _metadata(event)
            cursor = max(cursor, page.next)
            yield state.FetchDelta(updates, TakedownCheckpoint(cursor))
            if not page.has_more:
                return

    def _snapshot(
        self, wanted: set[str]
    ) -> t.Generator[state.FetchDelta[Key, TakedownSignalMetadata, TakedownCheckpoint], None, int]:
        """Every live hash of the list, in deltas; returns the snapshot's cursor."""
        with self.client.snapshot() as snapshot:
            updates: dict[Key, TakedownSignalMetadata | None] = {}
            for line in snapshot.lines:
                try:
                    event = parse_snapshot_line(line, snapshot.cursor)
                except InputError as exc:
                    _log.warning("takedown snapshot: skipped a malformed line: %s", exc.message)
                    continue
                key = self._key(event, wanted)
                if key is not None:
                    updates[key] = _metadata(event)
                if len(updates) >= PAGE_SIZE:
                    yield state.FetchDelta(
                        updates, TakedownCheckpoint(snapshot.cursor, snapshot_done=False)
                    )
                    updates = {}
            yield state.FetchDelta(updates, TakedownCheckpoint(snapshot.cursor))
            return snapshot.cursor

    def _key(self, event: FeedEvent, wanted: set[str]) -> Key | None:
        name = _TYPE_NAMES[event.type]
        if event.list != self.collab.list or name not in wanted:
            return None
        return (name, event.value)


def _metadata(event: FeedEvent) -> TakedownSignalMetadata:
    return TakedownSignalMetadata(event.list, event.quality, event.variant, event.seq)


TX_MANIFEST = ThreatExchangeExtensionManifest(apis=(TakedownSignalExchangeAPI,))
