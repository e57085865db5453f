#!/bin/sh
# Crash safety of voucher issuance: masad is killed with SIGKILL at a random
# point (CRASH_MIN_MS..CRASH_MAX_MS after the first answer) while 8 clients
# send registrar voucher-requests for distinct pledges, then restarted, for
# CRASH_ITERATIONS rounds (default 20; 10 in the sanitizer build). Afterwards nothing may be lost: every
# voucher a client received has its request-log row (by X-Request-Id) with
# disposition accepted, every accepted row has its audit event (per serial,
# audit events >= accepted rows), and the restarted daemon answers.
. "$top_srcdir/tests/lib/daemon.sh"
. "$top_srcdir/tests/lib/robust.sh"

[ $ROBUST_SANITIZED = 1 ] && ITER=${CRASH_ITERATIONS:-10} || ITER=${CRASH_ITERATIONS:-20}
MIN_MS=${CRASH_MIN_MS:-20}
MAX_MS=${CRASH_MAX_MS:-600}
NPLEDGES=8

robust_pki $NPLEDGES
DAEMON_CACERT=$TLS_CA
start_daemon masa "$MASAD" "$D/masad.conf" || fail "masad did not start"
robust_owner_devices est-domain $NPLEDGES

# One registrar voucher-request per pledge, replayed round robin (the MASA
# answers every valid copy: the nonce is the pledge's, not a one-time
# token of ours).
: >"$TEST_TMP/jobs"
i=1
while [ $i -le $NPLEDGES ]; do
	s=$(printf 'pledge-%04d' $i)
	robust_rvr "$s" "$TEST_TMP/rvr-$s.cms" || fail "building the voucher-request of $s"
	echo "$MASA_BRSKI/.well-known/brski/requestvoucher application/voucher-cms+json $TEST_TMP/rvr-$s.cms" >>"$TEST_TMP/jobs"
	i=$((i + 1))
done
robust_load --jobs "$TEST_TMP/jobs" --cacert "$TLS_CA" --threads 1 --count $NPLEDGES \
	--out "$TEST_TMP/warmup.log" || fail "load driver"
[ "$(awk '$3 == 200' "$TEST_TMP/warmup.log" | wc -l)" = $NPLEDGES ] ||
	fail "a voucher-request was refused before any crash: $(cat "$TEST_TMP/warmup.log")"

n=1
while [ $n -le $ITER ]; do
	rm -f "$TEST_TMP/stop" "$TEST_TMP/started"
	robust_load --jobs "$TEST_TMP/jobs" --cacert "$TLS_CA" --threads 8 --duration 60 \
		--until-file "$TEST_TMP/stop" --started-file "$TEST_TMP/started" \
		--out "$TEST_TMP/load-$n.log" &
	lp=$!
	tries=0
	while [ ! -f "$TEST_TMP/started" ]; do
		kill -0 $lp 2>/dev/null || fail "round $n: the load driver ended before any answer"
		tries=$((tries + 1))
		[ $tries -lt 300 ] || fail "round $n: no answer from masad"
		sleep 0.05
	done
	ms=$(robust_rand_ms "$MIN_MS" "$MAX_MS")
	robust_sleep_ms "$ms"
	robust_kill masa
	touch "$TEST_TMP/stop"
	wait $lp || fail "round $n: load driver failed"
	echo "round $n: killed after $ms ms: $(awk '$3 == 200' "$TEST_TMP/load-$n.log" | wc -l) vouchers, $(awk '$3 == 0' "$TEST_TMP/load-$n.log" | wc -l) without answer"
	awk '$3 != 200 && $3 != 0 { bad = 1 } END { exit bad }' "$TEST_TMP/load-$n.log" ||
		fail "round $n: an answered request was not a voucher: $(awk '$3 != 200 && $3 != 0' "$TEST_TMP/load-$n.log" | head -3)"
	start_daemon masa "$MASAD" "$D/masad.conf" || fail "round $n: masad did not restart after kill -9"
	n=$((n + 1))
done

# After the last restart the daemon issues again.
robust_load --jobs "$TEST_TMP/jobs" --cacert "$TLS_CA" --threads 4 --count $NPLEDGES \
	--out "$TEST_TMP/after.log" || fail "load driver"
[ "$(awk '$3 == 200' "$TEST_TMP/after.log" | wc -l)" = $NPLEDGES ] ||
	fail "after the last restart: $(cat "$TEST_TMP/after.log")"

# Nothing lost: request log and audit log against what the clients got.
robust_admin_get "/requests?limit=1000" "$TEST_TMP/requests.json" || fail "reading the request log"
i=1
: >"$TEST_TMP/audit-counts"
while [ $i -le $NPLEDGES ]; do
	s=$(printf 'pledge-%04d' $i)
	robust_admin_get "/devices/$s/audit?limit=1000" "$TEST_TMP/audit-$s.json" || fail "reading the audit log of $s"
	echo "$s $TEST_TMP/audit-$s.json" >>"$TEST_TMP/audit-counts"
	i=$((i + 1))
done
cat "$TEST_TMP"/warmup.log "$TEST_TMP"/load-*.log "$TEST_TMP"/after.log >"$TEST_TMP/all.log"
"$PYTHON3" - "$TEST_TMP/all.log" "$TEST_TMP/requests.json" "$TEST_TMP/audit-counts" <<'PY' || fail "crash lost data (see above)"
import collections, json, sys
log, reqs, audits = sys.argv[1:]
rows = {r["request_id"]: r for r in json.load(open(reqs))}
got = [l.split() for l in open(log) if l.split()[2] == "200"]
bad = 0
for t, job, st, rid, digest in got:
    r = rows.get(rid)
    if r is None:
        print("voucher received for request %s, which has no request-log row" % rid)
        bad += 1
    elif r["disposition"] != "accepted" or r["status"] != 200:
        print("request %s: voucher received, request log says %s/%s" % (rid, r["disposition"], r["status"]))
        bad += 1
accepted = collections.Counter(r["serial"] for r in rows.values() if r["disposition"] == "accepted")
for line in open(audits):
    serial, path = line.split()
    n = len(json.load(open(path)))
    if n < accepted[serial]:
        print("%s: %d accepted requests but %d audit events" % (serial, accepted[serial], n))
        bad += 1
print("%d vouchers received, %d request-log rows, %d accepted" % (len(got), len(rows), sum(accepted.values())))
sys.exit(1 if bad else 0)
PY
exit 0
