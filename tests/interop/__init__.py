"""Interop proofs: unmodified clients of other projects against a real `takedown serve`."""
