"""Unit tests of the console's pieces that need no browser."""
