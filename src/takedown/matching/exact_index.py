"""ExactIndex: which stored ids have exactly this MD5 or SHA-256, with incremental updates."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Sequence
from typing import Literal

import numpy as np

from takedown.errors import InputError

__all__ = ["ExactIndex"]

_HEX_LENGTH = {"md5": 32, "sha256": 64}


class ExactIndex:
    """Stored digests of one algorithm, each under an int id; `search` finds equal ones.

    As in PdqRangeIndex, an id holds one digest: adding an id that is present replaces it,
    removing an id that is absent does nothing. About 200 bytes per stored digest (Python
    dicts keyed by the raw digest bytes). Safe to share between threads.
    """

    def __init__(self, algorithm: Literal["md5", "sha256"]) -> None:
        if algorithm not in _HEX_LENGTH:
            raise ValueError(f"algorithm must be 'md5' or 'sha256', got {algorithm!r}")
        self.algorithm = algorithm
        self._pattern = re.compile(f"[0-9a-f]{{{_HEX_LENGTH[algorithm]}}}")
        self._lock = threading.Lock()
        # One id per digest is the common case: stored as an int, a set only on a collision.
        self._ids_of: dict[bytes, int | set[int]] = {}
        self._digest_of: dict[int, bytes] = {}

    def __len__(self) -> int:
        return len(self._digest_of)

    def __contains__(self, id_: object) -> bool:
        return id_ in self._digest_of

    def add(self, ids: Iterable[int], hexes: Sequence[str]) -> None:
        """Store each digest (lowercase hex) under the id at the same position; the last of
        repeated ids wins."""
        if isinstance(hexes, str):
            raise InputError("expected a sequence of digests, got one string")
        id_list = _ids(ids)
        if len(id_list) != len(hexes):
            raise InputError(f"got {len(id_list)} ids for {len(hexes)} digests")
        pairs = list(zip(id_list, [self._digest(h) for h in hexes], strict=True))
        with self._lock:
            for id_, digest in pairs:
                self._discard(id_)
                self._digest_of[id_] = digest
                held = self._ids_of.get(digest)
                if held is None:
                    self._ids_of[digest] = id_
                elif isinstance(held, set):
                    held.add(id_)
                else:
                    self._ids_of[digest] = {held, id_}

    def remove(self, ids: Iterable[int]) -> None:
        """Remove the digests stored under `ids`; ids not stored are ignored."""
        checked = _ids(ids)
        with self._lock:
            for id_ in checked:
                self._discard(id_)

    def search(self, hexes: Sequence[str]) -> list[list[int]]:
        """For each digest, the ids that hold it, in increasing order."""
        if isinstance(hexes, str):
            raise InputError("expected a sequence of digests, got one string")
        digests = [self._digest(h) for h in hexes]
        with self._lock:
            found = [self._ids_of.get(d) for d in digests]
        return [
            [] if held is None else sorted(held) if isinstance(held, set) else [held]
            for held in found
        ]

    def _digest(self, value: object) -> bytes:
        if not isinstance(value, str) or not self._pattern.fullmatch(value):
            shown = repr(value)[:80]
            raise InputError(
                f"a {self.algorithm} digest is {_HEX_LENGTH[self.algorithm]} lowercase hex "
                f"characters, got {shown}"
            )
        return bytes.fromhex(value)

    def _discard(self, id_: int) -> None:
        digest = self._digest_of.pop(id_, None)
        if digest is None:
            return
        held = self._ids_of[digest]
        if isinstance(held, set):
            held.discard(id_)
            if len(held) == 1:
                self._ids_of[digest] = held.pop()
        else:
            del self._ids_of[digest]


def _ids(ids: Iterable[int]) -> list[int]:
    """Python ints from ints or numpy integers (not bools, floats or strings)."""
    checked = []
    for id_ in ids:
        if isinstance(id_, bool | np.bool_) or not isinstance(id_, int | np.integer):
            raise InputError(f"ids must be integers, got {id_!r}")
        checked.append(int(id_))
    return checked
