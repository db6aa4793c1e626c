"""The registry's HTTP API (FastAPI): reporter, platform and public endpoints under /v1.

`create_app(settings)` builds the application; `server.serve` runs it with uvicorn.
"""

from takedown.api.app import create_app

__all__ = ["create_app"]
