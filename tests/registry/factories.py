"""Made-up fingerprints for registry tests: random PDQ values, images, videos."""

from __future__ import annotations

import random

from takedown.registry.models import MediaIn, SignalIn

VARIANTS = ("original", "rot90", "rot180", "rot270", "flip_h", "flip_v", "transpose")


def pdq(rng: random.Random) -> str:
    return f"{rng.getrandbits(256):064x}"


def md5(rng: random.Random) -> str:
    return f"{rng.getrandbits(128):032x}"


def sha256(rng: random.Random) -> str:
    return f"{rng.getrandbits(256):064x}"


def flip_bits(value: str, bits: int, rng: random.Random) -> str:
    """`value` with `bits` distinct bits flipped: at Hamming distance `bits`."""
    number = int(value, 16)
    for bit in rng.sample(range(256), bits):
        number ^= 1 << bit
    return f"{number:064x}"


def image(
    rng: random.Random, values: list[str] | None = None, *, quality: int = 90, count: int = 3
) -> MediaIn:
    chosen = values if values is not None else [pdq(rng) for _ in range(count)]
    signals = tuple(
        SignalIn("pdq", value, quality, VARIANTS[i % len(VARIANTS)])
        for i, value in enumerate(chosen)
    )
    return MediaIn("image", md5(rng), sha256(rng), signals)


def video(rng: random.Random, frames: list[tuple[str, int]], *, file_md5: str = "") -> MediaIn:
    lines = tuple(f"{value},{quality},{t:.3f}" for t, (value, quality) in enumerate(frames))
    return MediaIn("video", file_md5 or md5(rng), sha256(rng), (), lines)
