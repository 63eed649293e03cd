#!/bin/sh
# mailpoll on one machine with embedded defaults: installs itself (runtime dependencies only),
# then `mailpoll run`. State lives in ./mailpoll-data of the directory this is run from (or
# MAILPOLL_DATA_DIR); extra arguments go to `mailpoll run`.
set -eu
here="$(cd "$(dirname "$0")/.." && pwd)"
MAILPOLL_BOOTSTRAP_TEST_SERVERS=0 "$here/scripts/bootstrap.sh"
echo "mailpoll is $here/.venv/bin/mailpoll (\`. $here/.venv/bin/activate\` puts it on PATH)" >&2
exec "$here/.venv/bin/mailpoll" run "$@"
