"""The API's routers, one resource per module."""
