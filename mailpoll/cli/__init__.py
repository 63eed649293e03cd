"""The `mailpoll` command line, one module per command group."""
