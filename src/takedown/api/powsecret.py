"""The secret that signs proof-of-work challenges, shared by every server process.

A challenge issued by one `takedown serve` worker process must verify in another, so the key
cannot be per process: it comes from `TAKEDOWN_POW_SECRET` (any text, hashed to 32 bytes) or
from the file `pow_secret` in the data directory, created with mode 0600 and 32 random bytes
the first time it is needed. It signs challenges only: losing it lets someone mint challenges,
which still have to be solved; replacing it invalidates the challenges in flight.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import time
from collections.abc import Mapping
from pathlib import Path

from takedown.errors import ConfigError
from takedown.registry.settings import Settings

__all__ = ["ENV_VARIABLE", "FILE_NAME", "pow_secret"]

ENV_VARIABLE = "TAKEDOWN_POW_SECRET"
FILE_NAME = "pow_secret"
_BYTES = 32


def pow_secret(settings: Settings, environ: Mapping[str, str] | None = None) -> bytes:
    """The shared challenge key: from the environment, else from (or into) the data dir."""
    env = os.environ if environ is None else environ
    given = env.get(ENV_VARIABLE, "").strip()
    if given:
        return hashlib.sha256(given.encode("utf-8")).digest()
    path = Path(settings.data_dir) / FILE_NAME
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another worker process made it first
        return _read(path)
    except OSError as exc:
        raise ConfigError(f"cannot create {path}: {exc.strerror}") from None
    key = secrets.token_bytes(_BYTES)
    with os.fdopen(fd, "wb") as out:
        out.write(key)
        out.flush()
        os.fsync(out.fileno())
    return key


def _read(path: Path) -> bytes:
    for _ in range(100):  # a file another process has just created may still be empty
        try:
            key = path.read_bytes()
        except OSError as exc:
            if isinstance(exc, FileNotFoundError):
                raise
            raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
        if len(key) >= _BYTES:
            return key[:_BYTES]
        time.sleep(0.01)
    raise ConfigError(f"{path} holds no usable key; delete it to make a new one")
