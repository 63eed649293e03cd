"""Helpers that run real servers (Dovecot, Redis, PostgreSQL) for the integration tests."""
