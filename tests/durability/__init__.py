"""Durability: the real server process, killed and restarted, on SQLite and PostgreSQL."""
