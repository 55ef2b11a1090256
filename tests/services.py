"""The service helpers now live in tests/backends.py; this name stays for tests written against it (on other
branches) and re-exports them. New tests import from ``backends``."""

from backends import PG_DSN, postgres_admin, unavailable

__all__ = ["PG_DSN", "postgres_admin", "unavailable"]
