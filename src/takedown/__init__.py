"""takedown: get intimate images removed from participating platforms; only hashes leave the device."""

__version__ = "0.1.0"
