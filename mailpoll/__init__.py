"""The composition root: the `mailpoll` command line that wires shared, scheduler and workers."""
