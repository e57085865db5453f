#!/bin/sh
# /healthz follows the store: masad on a private PostgreSQL cluster answers
# 503 with the reason while the database is down (and counts a store
# error), and 200 again once it is back, without a restart of masad.
. "$top_srcdir/tests/lib/daemon.sh"
. "$top_srcdir/tests/lib/pg.sh"
pg_start || exit 99
# pg_start replaced the EXIT trap: stop both the daemons and the cluster.
trap 'rc=$?; pg_stop; (exit $rc); daemon_cleanup' EXIT

pg_as_user() {
	if [ "$(id -u)" = 0 ]; then runuser -u "$PG_USER" -- "$@"; else "$@"; fi
}

pki=$TEST_TMP/pki
"$BRSKI" pki init "$pki" >"$TEST_TMP/pki.out" 2>&1 || { cat "$TEST_TMP/pki.out"; fail "brski pki init"; }
DAEMON_CACERT=$pki/tls-ca.crt
conf=$TEST_TMP/masad.conf
sed "s|^database = .*|database = $PG_URI|" "$pki/masad.conf" >"$conf"
grep -q "^database = postgresql://" "$conf" || fail "fixture: no database line to replace"
start_daemon masad "$MASAD" "$conf" || fail "masad on PostgreSQL did not start"
admin=$(admin_origin "$conf")

health() {
	curl -sS -o "$TEST_TMP/health.body" -w '%{http_code}' --cacert "$DAEMON_CACERT" "$admin/healthz"
}
store_errors() {
	curl -sS --cacert "$DAEMON_CACERT" "$admin/metrics" | awk '/^brski_store_errors_total/ { print $2 }'
}

[ "$(health)" = 200 ] || fail "healthz with the database up: $(cat "$TEST_TMP/health.body")"
errors_before=$(store_errors)

pg_as_user "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null || fail "pg_ctl stop"
code=$(health)
[ "$code" = 503 ] || fail "healthz with the database down answered $code"
grep -q 'store not reachable' "$TEST_TMP/health.body" || { cat "$TEST_TMP/health.body"; fail "503 without a reason"; }
[ "$(store_errors)" -gt "$errors_before" ] || fail "the failed ping was not counted as a store error"

pg_as_user "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -W \
	-o "-h 127.0.0.1 -p $PG_PORT -k $PG_DIR -c fsync=off -c max_connections=200" start >/dev/null ||
	fail "pg_ctl start"
pg_wait_ready || fail "PostgreSQL did not come back"
tries=0
code=$(health)
while [ "$code" != 200 ] && [ "$tries" -lt 50 ]; do
	tries=$((tries + 1))
	sleep 0.1
	code=$(health)
done
[ "$code" = 200 ] || fail "healthz after the database came back: $code $(cat "$TEST_TMP/health.body")"
stop_daemon masad || fail "masad exited $? after SIGTERM"
echo "test-daemons-pg: all checks passed"
exit 0
