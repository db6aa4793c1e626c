"""Pure hashing library: decoding, PDQ and its variants, video, exact hashes.

Imports nothing of takedown except `takedown.errors`.
"""

from takedown.hashing.pdq import PdqHash, hamming, pdq_from_rgb

__all__ = ["PdqHash", "hamming", "pdq_from_rgb"]
