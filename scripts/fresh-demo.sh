#!/usr/bin/env bash
# The README's first command as a new user runs it: a clean virtual environment, no extras,
# `pip install -e . && callcenter serve` from the checkout. Checks that /healthz says ok and
# that the chat, desk and wallboard pages load, and that a configuration needing a missing
# extra names the install line. The server is left running (its PID in FILE) so the test
# suite can run beside it; `bash scripts/fresh-demo.sh stop FILE` stops it (SIGTERM, exit 0).
# Usage: bash scripts/fresh-demo.sh start FILE | stop FILE
set -euo pipefail
cd "$(dirname "$0")/.."
action=${1:?start or stop}
pidfile=${2:?a file for the server PID}

if [ "$action" = stop ]; then
  pid=$(cat "$pidfile")
  kill -TERM "$pid"
  for _ in $(seq 150); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "fresh demo: the server did not stop within 15 s of SIGTERM" >&2
    kill -KILL "$pid"
    exit 1
  fi
  wait "$pid" 2>/dev/null || true
  echo "fresh demo: stopped"
  exit 0
fi

venv=$(mktemp -d)/venv
python3 -m venv "$venv"
# shellcheck disable=SC1091
. "$venv/bin/activate"
install_log=$(mktemp)
if ! { pip install -q --upgrade pip && pip install -q -e .; } >"$install_log" 2>&1; then
  echo "fresh demo: pip install -e . failed:" >&2
  cat "$install_log" >&2
  exit 1
fi
for module in redis asyncpg; do  # the cluster extra is not installed
  if python -c "import $module" 2>/dev/null; then
    echo "fresh demo: $module is importable in a venv without extras" >&2
    exit 1
  fi
done

# A configuration that needs the missing extra names the install line.
extra_cfg=$(mktemp -d)/callcenter.yaml
printf 'bus:\n  kind: redis\n' >"$extra_cfg"
if out=$(callcenter check-config --config "$extra_cfg" 2>&1); then
  echo "fresh demo: a Redis bus without the redis package passed check-config" >&2
  exit 1
fi
grep -q "pip install 'callcenter\[cluster\]'" <<<"$out" || {
  echo "fresh demo: check-config did not name the install line: $out" >&2
  exit 1
}

log=$(mktemp)
callcenter serve >"$log" 2>&1 &
echo $! >"$pidfile"
deactivate
get() {  # GET a path of the demo (redirects followed): prints the status, then the body
  python3 - "$1" <<'PY'
import sys, urllib.error, urllib.request
try:
    with urllib.request.urlopen("http://127.0.0.1:8080" + sys.argv[1], timeout=5) as res:
        print(res.status); print(res.read().decode("utf-8", "replace"))
except urllib.error.HTTPError as exc:
    print(exc.code)
except OSError:
    print(0)
PY
}
ok=""
for _ in $(seq 120); do
  body=$(get /healthz)
  if grep -q '"status": *"ok"' <<<"$body"; then
    ok=1
    break
  fi
  kill -0 "$(cat "$pidfile")" 2>/dev/null || break
  sleep 0.5
done
if [ -z "$ok" ]; then
  echo "fresh demo: /healthz never said ok; the server said:" >&2
  cat "$log" >&2
  exit 1
fi
for page in / /chat /desk /wallboard; do
  response=$(get "$page")
  code=${response%%$'\n'*}
  if [ "$code" != 200 ]; then
    echo "fresh demo: GET $page answered $code" >&2
    exit 1
  fi
done
echo "fresh demo: running as PID $(cat "$pidfile"): /healthz ok; /, /chat, /desk, /wallboard load"
