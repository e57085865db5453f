#!/bin/sh
# brski bench crypto, masa, cloudreg and store run for a second each (the
# daemons started by the bench itself) and report a ratio. The numbers are a
# report, never a verdict: only that every request was answered with a
# voucher and that the last line is ratio=R is checked here.
set -u
: "${top_builddir:?}"
BRSKI=$top_builddir/tools/brski
out=$("$BRSKI" bench crypto --seconds 1 2>&1)
rc=$?
echo "$out"
[ "$rc" -eq 0 ] || { echo "FAIL: bench crypto: exit $rc"; exit 1; }
echo "$out" | tail -n 1 | grep -Eq '^ratio=[0-9]+\.[0-9]+$' || { echo "FAIL: bench crypto: no ratio"; exit 1; }

out=$("$BRSKI" bench masa --seconds 1 --requests 40 --connections 2 2>&1)
rc=$?
echo "$out"
[ "$rc" -eq 0 ] || { echo "FAIL: bench masa: exit $rc"; exit 1; }
echo "$out" | tail -n 1 | grep -Eq '^ratio=[0-9]+\.[0-9]+$' || { echo "FAIL: bench masa: no ratio"; exit 1; }
echo "$out" | grep -Eq '^masad peak: [1-9][0-9]* vouchers \(0 refused\)' ||
	{ echo "FAIL: bench masa: a request was refused or none answered"; exit 1; }
echo "$out" | grep -Eq '^daemon cache: ' || { echo "FAIL: bench masa: no cache counters"; exit 1; }
"$BRSKI" bench masa --connections 0 >/dev/null 2>&1
[ $? -eq 2 ] || { echo "FAIL: --connections 0 is not a usage error"; exit 1; }

out=$("$BRSKI" bench cloudreg --seconds 1 --requests 20 --connections 2 2>&1)
rc=$?
echo "$out"
[ "$rc" -eq 0 ] || { echo "FAIL: bench cloudreg: exit $rc"; exit 1; }
echo "$out" | tail -n 1 | grep -Eq '^ratio=[0-9]+\.[0-9]+$' || { echo "FAIL: bench cloudreg: no ratio"; exit 1; }
echo "$out" | grep -Eq '^cloudregd: [1-9][0-9]* redirects \(0 failed\)' ||
	{ echo "FAIL: bench cloudreg: a pledge was not redirected"; exit 1; }

out=$("$BRSKI" bench store --devices 2000 --small 1000 --seconds 1 2>&1)
rc=$?
echo "$out"
[ "$rc" -eq 0 ] || { echo "FAIL: bench store: exit $rc"; exit 1; }
echo "$out" | tail -n 1 | grep -Eq '^ratio=[0-9]+\.[0-9]+$' || { echo "FAIL: bench store: no ratio"; exit 1; }
echo "4 passed, 0 failed"
