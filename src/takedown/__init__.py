"""takedown: get intimate images removed from platforms; only hashes leave the device."""

__version__ = "0.1.0"
