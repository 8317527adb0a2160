#!/usr/bin/env bash
# The default test suite at every clock it must pass at (scripts/clocks.py: the bank closed
# on a Saturday night, Friday after closing, either side of Sunday's opening, the end of the
# center's day, both daylight-saving changes, New Year in UTC), then at the real time.
# Each run takes as long as `bash scripts/test.sh`; the script stops at the first failure.
# Usage: bash scripts/test-clocks.sh [pytest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
for clock in $(python3 scripts/clocks.py | cut -d' ' -f1); do
  echo "== $clock: $(python3 scripts/clocks.py | grep "^$clock " | cut -d' ' -f3-)"
  CALLCENTER_TEST_CLOCK="$clock" bash scripts/test.sh "$@"
done
echo "== the real time: $(date -u)"
bash scripts/test.sh "$@"
