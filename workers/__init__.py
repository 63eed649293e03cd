"""Dramatiq actors (thin) and the services they call: poll, send, housekeeping."""
