#!/usr/bin/env bash
# Install everything the tests need, make sure PostgreSQL and Redis are up, run the tests.
# Usage: bash scripts/test.sh [pytest arguments]   (e.g. -m slow for the long suites)
set -euo pipefail
cd "$(dirname "$0")/.."

# System packages the test suites use (speech, SIP peers, browser), when not yet present.
need=()
for pkg in espeak-ng sip-tester baresip chromium sox; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ] && [ "$(id -u)" = 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

python3 -m pip install -q -e '.[dev,cluster]'

# PostgreSQL and Redis: start them if they are down (the tests start them too).
if ! (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null && command -v pg_ctlcluster >/dev/null; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
fi
if ! (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null && command -v redis-server >/dev/null; then
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no || true
fi

exec python3 -m pytest "$@"
