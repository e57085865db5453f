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
# The same with the voucher signer of a `brski pki init` PKI.
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench-voucher.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
"$top_builddir/tools/brski" pki init "$tmp/pki" >/dev/null || { echo "ERROR: brski pki init"; exit 99; }
out=$("$top_builddir/tools/brski" bench voucher --seconds 1 --pki "$tmp/pki" 2>&1)
rc=$?
echo "$out"
[ "$rc" -eq 0 ] || { echo "FAIL: --pki: exit $rc"; exit 1; }
echo "$out" | tail -n 1 | grep -Eq '^ratio=[0-9]+\.[0-9]+$' || { echo "FAIL: --pki: no ratio"; exit 1; }
"$top_builddir/tools/brski" bench voucher --pki "$tmp/nonexistent" --seconds 1 >/dev/null 2>&1
[ $? -eq 3 ] || { echo "FAIL: a missing --pki DIR is not exit 3"; exit 1; }
echo "2 passed, 0 failed"
