#!/bin/sh
# mailpoll on one machine with embedded defaults: installs itself, then `mailpoll run`.
# State lives in ./mailpoll-data (or MAILPOLL_DATA_DIR); extra arguments go to `mailpoll run`.
set -eu
here="$(cd "$(dirname "$0")/.." && pwd)"
"$here/scripts/bootstrap.sh"
exec "$here/.venv/bin/mailpoll" run "$@"
