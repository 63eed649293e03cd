#!/usr/bin/env bash
# Shared by scripts/run.sh and scripts/test.sh: Debian packages, then a virtualenv with mailpoll.
# run.sh gets mailpoll's runtime dependencies only; test.sh (MAILPOLL_BOOTSTRAP_TEST_SERVERS=1)
# also the test servers and the test tools. Safe to run again: it installs only what is missing.
set -eu
cd "$(dirname "$0")/.."

# Debian packages: Python, and for the tests the real servers they start (Dovecot, Redis,
# RabbitMQ, PostgreSQL's binaries for a throwaway cluster when no server runs on 127.0.0.1:5432).
missing=""
command -v python3 >/dev/null 2>&1 || missing="$missing python3"
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || missing="$missing python3-venv python3-pip"
if [ "${MAILPOLL_BOOTSTRAP_TEST_SERVERS:-0}" = 1 ]; then
    command -v dovecot >/dev/null 2>&1 || missing="$missing dovecot-imapd dovecot-pop3d"
    command -v redis-server >/dev/null 2>&1 || missing="$missing redis-server"
    command -v openssl >/dev/null 2>&1 || missing="$missing openssl"
    command -v rabbitmq-server >/dev/null 2>&1 || missing="$missing rabbitmq-server"
    # The console's browser tests drive Debian's Chromium (Playwright's own browser download
    # is not used: never `playwright install`), with a font for its text.
    command -v chromium >/dev/null 2>&1 || missing="$missing chromium fonts-dejavu-core"
    # PostgreSQL's binaries make a throwaway cluster when no server answers on 5432 (and
    # the fixture's own test uses them); no system cluster is created or started.
    if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
        missing="$missing postgresql"
        if [ ! -e /etc/postgresql-common/createcluster.conf ]; then
            mkdir -p /etc/postgresql-common
            echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.conf
        fi
    fi
fi
if [ -n "$missing" ]; then
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        echo "error: please install:$missing (needs root and apt-get)" >&2
        exit 1
    fi
    echo "installing Debian packages:$missing" >&2
    export DEBIAN_FRONTEND=noninteractive
    # The packages' own services stay stopped (the tests start throwaway servers of their own).
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold $missing >/dev/null
fi

# The virtualenv, reinstalled when pyproject.toml changes. A stamp per kind of install: the
# test one (a superset) also does for run.sh; .installed-HASH is the test stamp of older copies.
hash=$(sha256sum pyproject.toml | cut -c1-16)
if [ "${MAILPOLL_BOOTSTRAP_TEST_SERVERS:-0}" = 1 ]; then
    kind=test target=".[test]"
else
    kind=runtime target="."
fi
if [ ! -e ".venv/.installed-$kind-$hash" ] && [ ! -e ".venv/.installed-test-$hash" ] \
    && [ ! -e ".venv/.installed-$hash" ]; then
    [ -x .venv/bin/python ] || python3 -m venv .venv
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e "$target"
    if [ "$kind" = test ]; then
        # The Dockerfile's `pip wheel`, with the network, once per pyproject.toml: tests/deploy
        # runs the Dockerfile's install steps offline from these wheels.
        rm -rf .venv/wheelhouse
        .venv/bin/python -m pip wheel -q --wheel-dir .venv/wheelhouse . "setuptools>=69"
        rm -f .venv/wheelhouse/mailpoll-*.whl
    fi
    find .venv -maxdepth 1 -name '.installed-*' ! -name "*-$hash" -delete
    touch ".venv/.installed-$kind-$hash"
fi
