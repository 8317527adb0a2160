#!/usr/bin/env bash
# The default test suite at every clock it must pass at (scripts/clocks.py: the bank closed
# on a Saturday night, Friday after closing, either side of Sunday's opening, the end of the
# center's day, both daylight-saving changes, New Year in UTC), then at the real time.
# Each run takes as long as `bash scripts/test.sh` (about ten minutes); every clock runs,
# and the script ends with a line per clock and exits 1 if any failed.
# Usage: bash scripts/test-clocks.sh [pytest arguments]
set -uo pipefail
cd "$(dirname "$0")/.."
results=()
failed=0
for clock in $(python3 scripts/clocks.py | cut -d' ' -f1) now; do
  if [ "$clock" = now ]; then
    echo "== the real time: $(date -u)"
    bash scripts/test.sh "$@"
  else
    echo "== $clock: $(python3 scripts/clocks.py | grep "^$clock " | cut -d' ' -f3-)"
    CALLCENTER_TEST_CLOCK="$clock" bash scripts/test.sh "$@"
  fi
  rc=$?
  results+=("$clock: $([ $rc = 0 ] && echo passed || echo "FAILED (exit $rc)")")
  [ $rc = 0 ] || failed=1
done
printf '%s\n' "${results[@]}"
exit $failed
