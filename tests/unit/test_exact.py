"""Exact hashes of file bytes: known vectors, chunk boundaries, constant memory."""

from __future__ import annotations

import hashlib
import os
import tracemalloc
from pathlib import Path

import pytest

from takedown.errors import InputError
from takedown.hashing.exact import CHUNK_BYTES, exact_hashes


def test_known_vectors(tmp_path: Path) -> None:
    path = tmp_path / "abc"
    path.write_bytes(b"abc")
    result = exact_hashes(path)
    assert result.md5 == "900150983cd24fb0d6963f7d28e17f72"
    assert result.sha256 == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert result.size == 3


def test_an_empty_file_has_the_empty_digests(tmp_path: Path) -> None:
    path = tmp_path / "empty"
    path.write_bytes(b"")
    result = exact_hashes(path)
    assert result.md5 == "d41d8cd98f00b204e9800998ecf8427e"
    assert result.size == 0


def test_files_across_chunk_boundaries_match_hashlib(tmp_path: Path) -> None:
    data = os.urandom(CHUNK_BYTES * 3 + 12345)
    path = tmp_path / "data.bin"
    path.write_bytes(data)
    result = exact_hashes(path)
    assert result.md5 == hashlib.md5(data).hexdigest()
    assert result.sha256 == hashlib.sha256(data).hexdigest()


def test_a_4_gib_file_is_hashed_in_constant_memory(tmp_path: Path) -> None:
    path = tmp_path / "huge.bin"
    with path.open("wb") as f:  # sparse: no disk space used
        f.truncate(4 * 1024**3)
        f.seek(4 * 1024**3 - 5)
        f.write(b"tail!")
    tracemalloc.start()
    try:
        result = exact_hashes(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.size == 4 * 1024**3
    assert peak < 4 * CHUNK_BYTES


@pytest.mark.parametrize("kind", ["missing", "directory"])
def test_unreadable_paths_raise_a_clear_error(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "nothing" if kind == "missing" else tmp_path
    with pytest.raises(InputError, match=str(path.name)):
        exact_hashes(path)
