"""Pure hashing library: decoding, PDQ and its variants, video, exact hashes.

Imports nothing of takedown except the leaf module `takedown.errors`.
"""

from takedown.hashing.canonical import CanonicalImage, canonical_image
from takedown.hashing.fingerprint import MediaFingerprint, Signal, fingerprint_file
from takedown.hashing.pdq import (
    DIHEDRAL_VARIANTS,
    PdqHash,
    hamming,
    pdq_dihedral_from_rgb,
    pdq_from_canonical,
    pdq_from_rgb,
)

__all__ = [
    "DIHEDRAL_VARIANTS",
    "CanonicalImage",
    "MediaFingerprint",
    "PdqHash",
    "Signal",
    "canonical_image",
    "fingerprint_file",
    "hamming",
    "pdq_dihedral_from_rgb",
    "pdq_from_canonical",
    "pdq_from_rgb",
]
