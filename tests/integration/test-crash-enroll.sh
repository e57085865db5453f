#!/bin/sh
# Crash safety of enrollment: the owner registrar's cloudregd (EST, local
# CA, enrollment jobs; first_wait_ms = 0 so every new CSR becomes a job
# answered 202) is killed with SIGKILL at a random point while 4 pledges
# post fresh CSRs and poll them, then restarted, for CRASH_ITERATIONS rounds
# (default 10; 5 in the sanitizer build). After each restart every CSR of the round enrolls (each job
# completes) and a retry returns the same certificate as every earlier 200
# for that CSR, before and after the crash; every answer sent before the
# crash has its row in the request log; at the end no job is left
# pending, running or failed, and each CSR has one cached certificate.
. "$top_srcdir/tests/lib/daemon.sh"
. "$top_srcdir/tests/lib/robust.sh"

[ $ROBUST_SANITIZED = 1 ] && ITER=${CRASH_ITERATIONS:-5} || ITER=${CRASH_ITERATIONS:-10}
MIN_MS=${CRASH_MIN_MS:-20}
MAX_MS=${CRASH_MAX_MS:-800}
NPLEDGES=4

robust_pki $NPLEDGES
ODCA=$D/owner-domain-ca.crt
conf=$D/cloudregd-owner.conf
# Every first request is a job (202); retries after 1 s; a job held by a
# killed daemon is taken over after 2 s.
sed -i '/^\[est\]$/a first_wait_ms = 0\nretry_after = 1\njob_lease = 2' "$conf"
db=$(ini_get "$conf" daemon database)
DAEMON_CACERT=$TLS_CA
start_daemon masa "$MASAD" "$D/masad.conf" || fail "masad did not start"
DAEMON_CACERT=$ODCA
start_daemon owner "$CLOUDREGD" "$conf" || fail "owner registrar did not start"
DAEMON_CACERT=$TLS_CA
robust_owner_devices est-domain $NPLEDGES

csr() { # SERIAL OUT: a fresh key and CSR with the SAN the owner's EST asks for
	printf '[req]\ndistinguished_name = dn\nprompt = no\nreq_extensions = ext\n[dn]\nCN = %s\nserialNumber = %s\n[ext]\nsubjectAltName = DNS:%s.pledges.example.com\n' \
		"$1" "$1" "$1" >"$2.cnf"
	"$OPENSSL" req -new -config "$2.cnf" -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$2.key" -outform DER -out "$2.der" 2>/dev/null || fail "openssl req"
	base64 "$2.der" >"$2.b64"
}

# enroll JOBS OUT: every CSR of JOBS until 200 (honouring Retry-After, at
# most 60 tries each), then once more: one line "job status digest" per
# request to OUT (the digest is the SHA-256 of the first certificate).
enroll() {
	"$PYTHON3" - "$1" "$ODCA" "$2" <<'PY'
import base64, hashlib, http.client, ssl, subprocess, sys, threading, time, urllib.parse
jobs, ca, out = sys.argv[1:]
lines = []
lock = threading.Lock()
def first_cert(body):
    der = base64.b64decode(b"".join(body.split()))
    pem = subprocess.run(["openssl", "pkcs7", "-inform", "DER", "-print_certs"], input=der,
                         capture_output=True, check=True).stdout
    leaf = pem.split(b"-----END CERTIFICATE-----")[0]
    return hashlib.sha256(leaf).hexdigest()
def run(i, url, ctype, body, cert, key):
    u = urllib.parse.urlsplit(url)
    ctx = ssl.create_default_context(cafile=ca)
    ctx.load_cert_chain(cert, key)
    got = 0
    for attempt in range(60):
        c = http.client.HTTPSConnection(u.hostname, u.port, context=ctx, timeout=30)
        try:
            c.request("POST", u.path, body=body, headers={"Content-Type": ctype})
            r = c.getresponse()
            data = r.read()
        except OSError as e:
            with lock:
                lines.append("%d 0 -\n" % i)
            return
        finally:
            c.close()
        if r.status == 202:
            time.sleep(int(r.getheader("Retry-After")))
            continue
        with lock:
            lines.append("%d %d %s\n" % (i, r.status, first_cert(data) if r.status == 200 else "-"))
        if r.status != 200:
            return
        got += 1
        if got == 2:
            return
    with lock:
        lines.append("%d 202 still-pending\n" % i)
ts = []
for i, line in enumerate(open(jobs)):
    url, ctype, path, cert, key = line.split()
    ts.append(threading.Thread(target=run, args=(i, url, ctype, open(path, "rb").read(), cert, key)))
for t in ts:
    t.start()
for t in ts:
    t.join()
open(out, "w").writelines(lines)
PY
}

n=1
while [ $n -le $ITER ]; do
	: >"$TEST_TMP/jobs-$n"
	i=1
	while [ $i -le $NPLEDGES ]; do
		s=$(printf 'pledge-%04d' $i)
		csr "$s" "$TEST_TMP/csr-$n-$s"
		echo "$OWNER_EST/.well-known/est/simpleenroll application/pkcs10 $TEST_TMP/csr-$n-$s.b64 $D/pledges/$s.chain.pem $D/pledges/$s.key" >>"$TEST_TMP/jobs-$n"
		i=$((i + 1))
	done
	rm -f "$TEST_TMP/stop" "$TEST_TMP/started"
	robust_load --jobs "$TEST_TMP/jobs-$n" --cacert "$ODCA" --threads 4 --duration 60 \
		--until-file "$TEST_TMP/stop" --started-file "$TEST_TMP/started" \
		--out "$TEST_TMP/load-$n.log" &
	lp=$!
	tries=0
	while [ ! -f "$TEST_TMP/started" ]; do
		kill -0 $lp 2>/dev/null || fail "round $n: the load driver ended before any answer"
		tries=$((tries + 1))
		[ $tries -lt 300 ] || fail "round $n: no answer from the owner registrar"
		sleep 0.05
	done
	ms=$(robust_rand_ms "$MIN_MS" "$MAX_MS")
	robust_sleep_ms "$ms"
	robust_kill owner
	touch "$TEST_TMP/stop"
	wait $lp || fail "round $n: load driver failed"
	awk '$3 != 200 && $3 != 202 && $3 != 0 { bad = 1 } END { exit bad }' "$TEST_TMP/load-$n.log" ||
		fail "round $n: unexpected answers: $(awk '$3 != 200 && $3 != 202 && $3 != 0' "$TEST_TMP/load-$n.log" | head -3)"
	# every answer sent before the crash has its row in the request log
	# (written before the answer leaves), under its request id and status
	"$PYTHON3" - "$db" "$TEST_TMP/load-$n.log" <<'PY' || fail "round $n: answers without their request-log row"
import sqlite3, sys
con = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True, timeout=10)
answered = missing = 0
for l in open(sys.argv[2]):
    t, job, st, rid, d = l.split()
    if st == "0":
        continue
    answered += 1
    rows = con.execute("SELECT status FROM pledge_requests WHERE request_id = ?",
                       (rid,)).fetchall()
    if rows != [(int(st),)]:
        missing += 1
        print("answer %s %s: request log has %s" % (rid, st, rows))
print("%d answers before the crash, each with its request-log row" % answered)
sys.exit(1 if missing else 0)
PY
	DAEMON_CACERT=$ODCA
	start_daemon owner "$CLOUDREGD" "$conf" || fail "round $n: cloudregd did not restart after kill -9"
	enroll "$TEST_TMP/jobs-$n" "$TEST_TMP/enroll-$n.log" || fail "round $n: enrollment client failed"
	# every CSR: two 200s with the same certificate; any 200 before the
	# crash carried it too
	"$PYTHON3" - "$TEST_TMP/jobs-$n" "$TEST_TMP/enroll-$n.log" "$TEST_TMP/load-$n.log" <<'PY' || fail "round $n: enrollment after the crash"
import base64, hashlib, subprocess, sys
jobs, enroll, load = sys.argv[1:]
n = sum(1 for _ in open(jobs))
after = {}
for l in open(enroll):
    i, st, d = l.split()
    if st != "200":
        print("CSR %s after the restart: %s %s" % (i, st, d))
        sys.exit(1)
    after.setdefault(int(i), set()).add(d)
for i in range(n):
    if len(after.get(i, ())) != 1:
        print("CSR %d: retries after the restart got %s" % (i, sorted(after.get(i, ()))))
        sys.exit(1)
print("%d CSRs enrolled, each retry the same certificate" % n)
PY
	n=$((n + 1))
done

# Bodies received before a crash: the load log keeps the SHA-256 of the
# whole base64 body; the same CSR's body from the cache after the restart
# must be byte-identical to it.
"$PYTHON3" - "$TEST_TMP" "$ITER" "$ODCA" "$OWNER_EST" <<'PY' || fail "a certificate changed across a crash"
import hashlib, http.client, ssl, sys, urllib.parse
tmp, iters, ca, est = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
bad = checked = 0
for n in range(1, iters + 1):
    jobs = [l.split() for l in open("%s/jobs-%d" % (tmp, n))]
    before = {}
    for l in open("%s/load-%d.log" % (tmp, n)):
        t, i, st, rid, d = l.split()
        if st == "200":
            before.setdefault(int(i), set()).add(d)
    for i, digests in before.items():
        url, ctype, path, cert, key = jobs[i]
        u = urllib.parse.urlsplit(url)
        ctx = ssl.create_default_context(cafile=ca)
        ctx.load_cert_chain(cert, key)
        c = http.client.HTTPSConnection(u.hostname, u.port, context=ctx, timeout=30)
        c.request("POST", u.path, body=open(path, "rb").read(), headers={"Content-Type": ctype})
        r = c.getresponse()
        d = hashlib.sha256(r.read()).hexdigest()
        c.close()
        checked += 1
        if r.status != 200 or digests != {d}:
            print("round %d CSR %d: before the crash %s, now %d %s" % (n, i, sorted(digests), r.status, d))
            bad += 1
print("%d CSRs answered 200 before a crash; the same body after it" % checked)
sys.exit(1 if bad else 0)
PY

# Every job completed; one cached certificate per CSR.
"$PYTHON3" - "$db" "$((ITER * NPLEDGES))" <<'PY' || fail "jobs or certificates after the crashes"
import sqlite3, sys
db, want = sys.argv[1], int(sys.argv[2])
c = sqlite3.connect(db)
states = dict(c.execute("SELECT state, COUNT(*) FROM enroll_jobs GROUP BY state").fetchall())
certs = c.execute("SELECT COUNT(*), COUNT(DISTINCT csr_sha256) FROM certificates").fetchone()
print("jobs by state %s; %d cached certificates for %d CSRs" % (states, certs[0], certs[1]))
ok = states.get("done", 0) == want and sum(states.values()) == want and certs[0] == certs[1] == want
sys.exit(0 if ok else 1)
PY
exit 0
