"""What the HTTP layer talks to: the registry, the proof of work and the rate limiters."""

from __future__ import annotations

from dataclasses import dataclass

from takedown.registry.pow import ProofOfWork
from takedown.registry.ratelimit import Limits
from takedown.registry.service import Registry
from takedown.registry.settings import Settings

__all__ = ["Services"]


@dataclass(frozen=True)
class Services:
    settings: Settings
    registry: Registry
    proof_of_work: ProofOfWork
    limits: Limits
