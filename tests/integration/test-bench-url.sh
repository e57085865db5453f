#!/bin/sh
# brski bench masa and cloudreg against daemons given by URL (issue 8: the
# daemon "started by bench from a fresh brski pki init, or given by URL"):
# masad and cloudregd are started here with tests/lib/daemon.sh; each bench
# runs for a second with --url, --admin-url/--admin-token (owner and
# devices through the admin API), --pki and --pid, must not start or stop
# a daemon, must have every request answered, and must end with ratio=R
# on the daemon's CPU time; without --pid the ratio is wall-clock based
# and says so. A report, never a verdict on the numbers.
. "$top_srcdir/tests/lib/daemon.sh"

D=$TEST_TMP/pki
"$BRSKI" pki init "$D" >"$TEST_TMP/pki.out" || exit 99
TOKEN=$(cat "$D/admin-token")
DAEMON_CACERT=$D/tls-ca.crt
M=$D/masad.conf
C=$D/cloudregd-cloud.conf
start_daemon masa "$MASAD" "$M" || fail "masad did not start"
start_daemon cloud "$CLOUDREGD" "$C" || fail "cloudregd did not start"

ratio_ok() { tail -n 1 "$1" | grep -Eq '^ratio=[0-9]+\.[0-9]+$'; }

"$BRSKI" bench masa --url "https://$(ini_get "$M" brski listen)" \
	--admin-url "https://$(ini_get "$M" admin listen)" --admin-token "$TOKEN" --pki "$D" \
	--pid "$(daemon_pid masa)" --seconds 1 --requests 30 --connections 2 >"$TEST_TMP/masa.out" 2>&1
rc=$?
cat "$TEST_TMP/masa.out"
[ "$rc" -eq 0 ] || fail "bench masa --url: exit $rc"
ratio_ok "$TEST_TMP/masa.out" || fail "bench masa --url: the last line is not ratio=R"
grep -Eq '^masad peak: [1-9][0-9]* vouchers \(0 refused\)' "$TEST_TMP/masa.out" ||
	fail "bench masa --url: a request was refused or none answered"
grep -q '^ratio basis: vouchers per daemon CPU-second' "$TEST_TMP/masa.out" ||
	fail "bench masa --url --pid: the ratio is not on the daemon's CPU time"
kill -0 "$(daemon_pid masa)" || fail "bench masa --url stopped the daemon"

# Again without --pid, at once: a second run on the same store (within the
# same second, too) registers an owner and serials of its own.
"$BRSKI" bench masa --url "https://$(ini_get "$M" brski listen)" \
	--admin-url "https://$(ini_get "$M" admin listen)" --admin-token "$TOKEN" --pki "$D" \
	--seconds 1 --requests 20 --connections 1 >"$TEST_TMP/masa2.out" 2>&1 ||
	{ cat "$TEST_TMP/masa2.out"; fail "bench masa --url without --pid: exit $?"; }
grep -q '^ratio basis: wall clock' "$TEST_TMP/masa2.out" ||
	{ cat "$TEST_TMP/masa2.out"; fail "bench masa --url without --pid: not a wall-clock ratio"; }
ratio_ok "$TEST_TMP/masa2.out" || fail "bench masa --url without --pid: no ratio"

"$BRSKI" bench cloudreg --url "https://$(ini_get "$C" brski listen)" \
	--admin-url "https://$(ini_get "$C" admin listen)" --admin-token "$TOKEN" --pki "$D" \
	--pid "$(daemon_pid cloud)" --seconds 1 --requests 20 --connections 2 >"$TEST_TMP/creg.out" 2>&1
rc=$?
cat "$TEST_TMP/creg.out"
[ "$rc" -eq 0 ] || fail "bench cloudreg --url: exit $rc"
ratio_ok "$TEST_TMP/creg.out" || fail "bench cloudreg --url: the last line is not ratio=R"
grep -Eq '^cloudregd: [1-9][0-9]* redirects \(0 failed\)' "$TEST_TMP/creg.out" ||
	fail "bench cloudreg --url: a pledge was not redirected"
kill -0 "$(daemon_pid cloud)" || fail "bench cloudreg --url stopped the daemon"

# --url without the admin API and the pki is a usage error.
"$BRSKI" bench masa --url "https://$(ini_get "$M" brski listen)" >/dev/null 2>&1
[ $? -eq 2 ] || fail "bench masa --url alone is not a usage error"
"$BRSKI" bench cloudreg --pid 1 >/dev/null 2>&1
[ $? -eq 2 ] || fail "bench cloudreg --pid without --url is not a usage error"
stop_daemon masa || fail "masad did not stop cleanly"
stop_daemon cloud || fail "cloudregd did not stop cleanly"
echo "bench masa and cloudreg by URL passed"
