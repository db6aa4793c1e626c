"""Persistence for the registry: tables, engines, transactions and Alembic migrations."""
