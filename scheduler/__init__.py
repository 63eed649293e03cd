"""The scheduler: decides which inbound accounts are due and enqueues their polls."""
