#!/bin/sh
# Soak: 64 concurrent clients for SOAK_SECONDS against masad (registrar
# voucher-requests of distinct pledges, 200 expected) and the cloud
# registrar's cloudregd (pledge voucher-requests over mutual TLS with each
# pledge's IDevID, a redirect decision: 307 expected). Passes when
#   - no request fails (every answer is the expected status, none missing),
#   - neither daemon's RSS (VmRSS from /proc/PID/status, sampled every
#     second) grows in the second half of the run by more than
#     SOAK_RSS_GROWTH_KB (default 8192) over its value at the half-way
#     point (normal build only: ASan's quarantine grows by design),
#   - both daemons exit with status 0 on SIGTERM and their logs hold no
#     sanitizer report (in the sanitizer build: no LeakSanitizer leak).
# SOAK_SECONDS defaults to 60 (make check); the sanitizer build defaults to
# 20 s. The full soak of issue 9 is SOAK_SECONDS=600.
. "$top_srcdir/tests/lib/daemon.sh"
. "$top_srcdir/tests/lib/robust.sh"

SANITIZED=$ROBUST_SANITIZED
if [ $SANITIZED = 1 ]; then
	SECONDS_RUN=${SOAK_SECONDS:-20}
else
	SECONDS_RUN=${SOAK_SECONDS:-60}
fi
CLIENTS=${SOAK_CLIENTS:-64}
GROWTH_KB=${SOAK_RSS_GROWTH_KB:-8192}
NPLEDGES=32
HALF=$((NPLEDGES / 2))

robust_pki $NPLEDGES
DAEMON_CACERT=$TLS_CA
start_daemon masa "$MASAD" "$D/masad.conf" || fail "masad did not start"
start_daemon cloud "$CLOUDREGD" "$D/cloudregd-cloud.conf" || fail "cloudregd did not start"
robust_owner_devices est-domain $HALF
# the other half are redirect devices: the cloud registrar answers 307
"$PYTHON3" -c 'import json,sys
a, b = int(sys.argv[1]), int(sys.argv[2])
print(json.dumps({"devices": [{"serial": "pledge-%04d" % i, "owner": "acme-owner", "mode": "redirect"}
                              for i in range(a, b + 1)]}))' $((HALF + 1)) $NPLEDGES >"$TEST_TMP/redirect.json"
st=$(robust_api POST /devices/import "$TEST_TMP/redirect.json")
[ "$st" = 201 ] || fail "redirect devices not imported: $st $(cat "$TEST_TMP/api.out")"

: >"$TEST_TMP/jobs"
i=1
while [ $i -le $NPLEDGES ]; do
	s=$(printf 'pledge-%04d' $i)
	if [ $i -le $HALF ]; then
		robust_rvr "$s" "$TEST_TMP/rvr-$s.cms" || fail "building the voucher-request of $s"
		echo "$MASA_BRSKI/.well-known/brski/requestvoucher application/voucher-cms+json $TEST_TMP/rvr-$s.cms"
	else
		robust_pvr "$s" "$TEST_TMP/pvr-$s.cms" || fail "building the pledge voucher-request of $s"
		echo "$CLOUD/.well-known/brski/requestvoucher application/voucher-cms+json $TEST_TMP/pvr-$s.cms $D/pledges/$s.chain.pem $D/pledges/$s.key"
	fi
	i=$((i + 1))
done >"$TEST_TMP/jobs"

# RSS sampler: "seconds masad-kB cloudregd-kB" once a second until the
# load driver is done.
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
MP=$(daemon_pid masa) CP=$(daemon_pid cloud)
robust_load --jobs "$TEST_TMP/jobs" --cacert "$TLS_CA" --threads "$CLIENTS" --sticky \
	--duration "$SECONDS_RUN" --out "$TEST_TMP/load.log" &
lp=$!
t=0
: >"$TEST_TMP/rss"
while kill -0 $lp 2>/dev/null; do
	echo "$t $(rss "$MP") $(rss "$CP")" >>"$TEST_TMP/rss"
	sleep 1
	t=$((t + 1))
done
wait $lp || fail "load driver failed"

"$PYTHON3" - "$TEST_TMP/load.log" "$TEST_TMP/jobs" "$SECONDS_RUN" "$CLIENTS" <<'PY' || fail "soak: requests failed"
import collections, sys
log, jobs, secs, clients = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
want = {}
for i, l in enumerate(open(jobs)):
    want[i] = 307 if len(l.split()) == 5 else 200
n = collections.Counter()
bad = collections.Counter()
for l in open(log):
    t, job, st, rid, d = l.split()
    kind = "cloudregd" if want[int(job)] == 307 else "masad"
    n[kind] += 1
    if int(st) != want[int(job)]:
        bad[(kind, st)] += 1
print("soak: %s clients, %.0f s: masad %d vouchers (%.1f/s), cloudregd %d redirects (%.1f/s), errors %s"
      % (clients, secs, n["masad"], n["masad"] / secs, n["cloudregd"], n["cloudregd"] / secs,
         dict(bad) or 0))
sys.exit(1 if bad or not n["masad"] or not n["cloudregd"] else 0)
PY

"$PYTHON3" - "$TEST_TMP/rss" "$GROWTH_KB" "$SANITIZED" <<'PY' || fail "soak: memory grew in the second half"
import sys
rows = [list(map(int, l.split())) for l in open(sys.argv[1]) if l.strip()]
bound, sanitized = int(sys.argv[2]), sys.argv[3] == "1"
bad = 0
for col, name in ((1, "masad"), (2, "cloudregd")):
    s = [r[col] for r in rows if r[col] > 0]
    if len(s) < 4:
        print("rss: too few samples of %s: %s" % (name, s))
        bad += 1
        continue
    half = s[len(s) // 2:]
    growth = max(half) - half[0]
    print("rss %s: start %d kB, half-way %d kB, end %d kB, max %d kB; second-half growth %d kB (bound %d%s)"
          % (name, s[0], half[0], s[-1], max(s), growth, bound, ", not enforced under ASan" if sanitized else ""))
    if growth > bound and not sanitized:
        bad += 1
sys.exit(1 if bad else 0)
PY

# Clean exit on SIGTERM, no sanitizer report (LeakSanitizer runs at exit).
stop_daemon masa || fail "masad exited with status $? on SIGTERM after the soak"
stop_daemon cloud || fail "cloudregd exited with status $? on SIGTERM after the soak"
for n in masa cloud; do
	if grep -q 'LeakSanitizer\|AddressSanitizer\|runtime error:' "$TEST_TMP/$n.log"; then
		grep -A20 'LeakSanitizer\|AddressSanitizer\|runtime error:' "$TEST_TMP/$n.log" | head -40
		fail "$n: sanitizer report in its log"
	fi
done
[ $SANITIZED = 1 ] && echo "soak: both daemons exited cleanly under ASan/LSan with no leak report"
exit 0
