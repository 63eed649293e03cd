"""The admin HTTP API (and, on it, the console): an ASGI app on the same services as the CLI."""
