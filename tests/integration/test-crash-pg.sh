#!/bin/sh
# masad survives a PostgreSQL restart by reconnecting: masad on a private
# PostgreSQL (tests/lib/pg.sh), vouchers issued, the server restarted
# (pg_ctl restart -m fast) under the running daemon PG_RESTARTS times
# (default 3), and after each restart the very next voucher-requests
# succeed, with their request-log rows and audit events written (nothing
# is lost to a dead connection).
. "$top_srcdir/tests/lib/daemon.sh"
. "$top_srcdir/tests/lib/robust.sh"
. "$top_srcdir/tests/lib/pg.sh"

ROUNDS=${PG_RESTARTS:-3}
NPLEDGES=4

pg_start || exit 99
trap 'rc=$?; pg_stop; (exit $rc); daemon_cleanup' EXIT
robust_pki $NPLEDGES
sed -i "s|^database = .*|database = $PG_URI|" "$D/masad.conf"
grep -q '^database = postgresql://' "$D/masad.conf" || fail "fixture: database not replaced"
DAEMON_CACERT=$TLS_CA
start_daemon masa "$MASAD" "$D/masad.conf" || fail "masad did not start"
robust_owner_devices est-domain $NPLEDGES

: >"$TEST_TMP/jobs"
i=1
while [ $i -le $NPLEDGES ]; do
	s=$(printf 'pledge-%04d' $i)
	robust_rvr "$s" "$TEST_TMP/rvr-$s.cms" || fail "building the voucher-request of $s"
	echo "$MASA_BRSKI/.well-known/brski/requestvoucher application/voucher-cms+json $TEST_TMP/rvr-$s.cms" >>"$TEST_TMP/jobs"
	i=$((i + 1))
done

# issue N OUT: N requests, one client; every one must be a voucher
issue() {
	robust_load --jobs "$TEST_TMP/jobs" --cacert "$TLS_CA" --threads 1 --count "$1" --out "$2" ||
		fail "load driver"
	[ "$(awk '$3 == 200' "$2" | wc -l)" = "$1" ] || fail "$3: $(awk '{print $3}' "$2" | sort | uniq -c)"
}
issue $NPLEDGES "$TEST_TMP/before.log" "before any restart"
r=1
while [ $r -le $ROUNDS ]; do
	pg_restart || fail "PostgreSQL did not restart"
	issue $NPLEDGES "$TEST_TMP/after-$r.log" "right after PostgreSQL restart $r"
	code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$TLS_CA" "$MASA_ADMIN/healthz")
	[ "$code" = 200 ] || fail "healthz after PostgreSQL restart $r: $code"
	r=$((r + 1))
done

robust_admin_get "/requests?limit=1000" "$TEST_TMP/requests.json" || fail "reading the request log"
cat "$TEST_TMP"/before.log "$TEST_TMP"/after-*.log >"$TEST_TMP/all.log"
"$PYTHON3" - "$TEST_TMP/all.log" "$TEST_TMP/requests.json" <<'PY' || fail "request-log rows missing"
import json, sys
rows = {r["request_id"]: r for r in json.load(open(sys.argv[2]))}
bad = 0
for l in open(sys.argv[1]):
    rid = l.split()[3]
    r = rows.get(rid)
    if r is None or r["disposition"] != "accepted":
        print("voucher for request %s: request-log row %s" % (rid, r))
        bad += 1
sys.exit(1 if bad else 0)
PY
n=0
i=1
while [ $i -le $NPLEDGES ]; do
	s=$(printf 'pledge-%04d' $i)
	robust_admin_get "/devices/$s/audit?limit=1000" "$TEST_TMP/audit.json" || fail "audit of $s"
	n=$((n + $("$PYTHON3" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$TEST_TMP/audit.json")))
	i=$((i + 1))
done
want=$((NPLEDGES * (ROUNDS + 1)))
[ "$n" -ge "$want" ] || fail "$n audit events for $want vouchers"
exit 0
