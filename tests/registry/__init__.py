"""Tests of the registry use cases and its store, on SQLite and PostgreSQL."""
