"""The PIN lockout rule: after `pin_max_failures` wrong PINs in a row a case is locked for
`pin_lock_seconds`, each further wrong PIN doubles the lock, up to `pin_lock_max_seconds`.

Ten-digit PINs give 10^10 guesses; with this rule a guesser gets about 20 tries a day.
A correct PIN resets the count.
"""

from __future__ import annotations

from takedown.registry.settings import Settings

__all__ = ["lock_seconds"]


def lock_seconds(failures: int, settings: Settings) -> int | None:
    """How long to lock a case after its `failures`-th wrong PIN in a row (None: no lock)."""
    if failures < settings.pin_max_failures:
        return None
    doublings = min(failures - settings.pin_max_failures, 40)
    seconds: int = settings.pin_lock_seconds * 2**doublings
    return min(seconds, settings.pin_lock_max_seconds)
