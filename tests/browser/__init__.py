"""Browser tests of the console: Playwright driving Debian's Chromium against real servers."""
