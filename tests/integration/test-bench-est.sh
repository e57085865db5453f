#!/bin/sh
# brski bench est, both ways, for a second each: the bench starting its own
# cloudregd (owner registrar, local CA), and the bench given a running
# daemon by URL (--url, --pki, --admin-url/--admin-token for the cache
# counters, --pid for its CPU time). A report, never a verdict: checked
# are only that every re-enrollment was answered, that the answers came
# from the certificate cache (the daemon's counters), and that the last
# line is ratio=R.
. "$top_srcdir/tests/lib/daemon.sh"

check_run() { # NAME OUTPUT-FILE
	tail -n 1 "$2" | grep -Eq '^ratio=[0-9]+\.[0-9]+$' || fail "$1: the last line is not ratio=R"
	grep -Eq '^est: [1-9][0-9]* re-enrollments \(0 failed\)' "$2" ||
		fail "$1: a re-enrollment failed or none was answered"
	hits=$(sed -n 's/^daemon cache: brski_est_cert_cache_hits_total \([0-9]*\)$/\1/p' "$2")
	[ "${hits:-0}" -gt 0 ] || fail "$1: no answer counted as a certificate cache hit"
}

"$BRSKI" bench est --seconds 1 --pledges 4 --connections 2 >"$TEST_TMP/local.out" 2>&1
rc=$?
cat "$TEST_TMP/local.out"
[ "$rc" -eq 0 ] || fail "bench est (own daemon): exit $rc"
check_run "bench est" "$TEST_TMP/local.out"
grep -q '^ratio basis: re-enrollments per daemon CPU-second' "$TEST_TMP/local.out" ||
	fail "bench est with its own daemon does not use the daemon's CPU time"

# By URL: a cloudregd of our own, which the bench must not start or stop.
D=$TEST_TMP/pki
"$BRSKI" pki init "$D" >"$TEST_TMP/pki.out" || exit 99
C=$D/cloudregd-owner.conf
DAEMON_CACERT=$D/owner-domain-ca.crt
start_daemon owner "$CLOUDREGD" "$C" || fail "cloudregd did not start"
EST="https://$(ini_get "$C" est listen)"
ADMIN="https://$(ini_get "$C" admin listen)"
"$BRSKI" bench est --url "$EST" --pki "$D" --subdomain "$(ini_get "$C" ca subdomain)" \
	--admin-url "$ADMIN" --admin-token "$(cat "$D/admin-token")" --pid "$(daemon_pid owner)" \
	--seconds 1 --pledges 4 --connections 2 >"$TEST_TMP/url.out" 2>&1
rc=$?
cat "$TEST_TMP/url.out"
[ "$rc" -eq 0 ] || fail "bench est --url: exit $rc"
check_run "bench est --url" "$TEST_TMP/url.out"
grep -q "^daemon: given by URL $EST" "$TEST_TMP/url.out" || fail "bench est --url started a daemon"
kill -0 "$(daemon_pid owner)" || fail "the daemon given by URL is gone"

# Without --pid the ratio is wall-clock based, and says so.
"$BRSKI" bench est --url "$EST" --pki "$D" --subdomain "$(ini_get "$C" ca subdomain)" \
	--seconds 1 --pledges 2 --connections 1 >"$TEST_TMP/wall.out" 2>&1 ||
	fail "bench est --url without --pid: exit $?"
cat "$TEST_TMP/wall.out"
grep -q '^ratio basis: wall clock' "$TEST_TMP/wall.out" || fail "no wall-clock ratio basis"
tail -n 1 "$TEST_TMP/wall.out" | grep -Eq '^ratio=[0-9]+\.[0-9]+$' || fail "no ratio without --pid"

# Usage errors: --url without --pki, --pki without --url.
"$BRSKI" bench est --url "$EST" >/dev/null 2>&1
[ $? -eq 2 ] || fail "--url without --pki is not a usage error"
"$BRSKI" bench est --pki "$D" >/dev/null 2>&1
[ $? -eq 2 ] || fail "--pki without --url is not a usage error"
stop_daemon owner || fail "cloudregd did not stop cleanly"
echo "bench est: own daemon and by URL passed"
