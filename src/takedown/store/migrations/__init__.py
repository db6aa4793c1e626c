"""Alembic migrations of the registry database (run by `takedown.store.migrate`)."""
