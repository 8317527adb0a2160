#!/usr/bin/env bash
# Install everything the tests need, make sure PostgreSQL and Redis are up, run the tests.
# Usage: bash scripts/test.sh [pytest arguments]   (e.g. -m slow for the long suites)
# CALLCENTER_TEST_CLOCK=NAME runs the tests under libfaketime at one of the clocks of
# scripts/clocks.py (e.g. saturday-0300); scripts/test-clocks.sh runs them at every one.
set -euo pipefail
cd "$(dirname "$0")/.."

# System packages the test suites use (speech, SIP peers, browser), when not yet present.
need=()
for pkg in espeak-ng sip-tester baresip chromium sox faketime; do
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

if [ -n "${CALLCENTER_TEST_CLOCK:-}" ]; then
  # The wall clock moves to the chosen instant and runs on from there (the monotonic clock
  # moves by the same offset: with it left alone, libfaketime 0.9.10 breaks Python's
  # time.sleep). The offset is taken now, just before the run. A Redis server a test starts
  # keeps the machine's clock, as the shared one does (libfaketime and jemalloc clash).
  export FAKETIME_SKIP_CMDS=redis-server
  offset=$(python3 scripts/clocks.py --offset "$CALLCENTER_TEST_CLOCK")
  echo "tests at the clock $CALLCENTER_TEST_CLOCK (real time $offset s)" >&2
  exec faketime -f "$offset" python3 -m pytest "$@"
fi
exec python3 -m pytest "$@"
