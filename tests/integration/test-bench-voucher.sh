#!/bin/sh
# brski bench voucher runs for a second and reports a ratio. The number is
# a report, never a verdict: only that it measured is checked here.
set -u
: "${top_builddir:?}"
out=$("$top_builddir/tools/brski" bench voucher --seconds 1 2>&1)
rc=$?
echo "$out"
[ "$rc" -eq 0 ] || { echo "FAIL: exit $rc"; exit 1; }
last=$(echo "$out" | tail -n 1)
echo "$last" | grep -Eq '^ratio=[0-9]+\.[0-9]+$' || { echo "FAIL: last line '$last'"; exit 1; }
echo "$out" | grep -Eq '^chain cache: hits=[1-9][0-9]* misses=1 ' ||
	{ echo "FAIL: the chain cache was not reused"; exit 1; }
"$top_builddir/tools/brski" bench voucher --seconds 0 >/dev/null 2>&1
[ $? -eq 2 ] || { echo "FAIL: --seconds 0 not a usage error"; exit 1; }
echo "1 passed, 0 failed"
