#!/bin/sh
# tools/bench-acme.sh: cloudregd's ACME CA backend against the Debian
# `uacme` client, issuing the same identifiers from the same Pebble in the
# same run (issue 8: 50 issuances, goal >= 5x faster than uacme).
#
# One private Pebble on loopback (tests/lib/pebble.sh) with
# PEBBLE_VA_NOSLEEP=1 and PEBBLE_VA_ALWAYS_VALID=1 for both clients, so the
# challenge validation costs neither of them anything. Then, one after the
# other, one issuance at a time:
#   ours:  cloudregd (owner registrar, [ca] backend = acme, from a fresh
#          `brski pki init --acme-directory`), enrolled over EST by
#          `brski bench est --url --enroll-only` (N pledges, serials
#          acme-bench-NNNNNN, dNSName SERIAL.pledges.example.com): time from
#          the first simpleenroll to the last certificate;
#   uacme: a new account (`uacme -t EC new`, counted), then `uacme issue
#          CSR` for the same N dNSNames (EC keys), its challenge hook
#          answering success at once.
# HTTP requests per issuance are counted the same way for both: Pebble logs
# every request it handles ("GET /dir -> calling handler()"); the lines
# logged during each client's phase, over N.
#
# uacme has no option for a CA bundle (libcurl uses the system's): it runs
# in a private mount namespace (unshare -m, as root) in which the system
# bundle is Pebble's TLS CA alone; nothing outside changes. Both clients
# thus trust that one CA and neither pays for parsing the system's ~140
# (which costs a libcurl client about 28 ms per new handle here).
#
# Environment: top_builddir (required), top_srcdir (default: this script's
# parent), BENCH_ACME_N (default 50). The last line is ratio=R: our
# issuances/s over uacme's. A report, never a verdict.
set -u
: "${top_builddir:?}"
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
N=${BENCH_ACME_N:-50}
BRSKI=$top_builddir/tools/brski
CLOUDREGD=$top_builddir/cloudreg/cloudregd
UACME=${UACME:-uacme}

command -v "$UACME" >/dev/null || { echo "bench-acme: no uacme (Debian package uacme)" >&2; exit 3; }
[ "$(id -u)" = 0 ] || { echo "bench-acme: uacme's private CA bundle needs root (unshare -m)" >&2; exit 3; }

PEBBLE_VA_NOSLEEP=1
PEBBLE_VA_ALWAYS_VALID=1
export PEBBLE_VA_NOSLEEP PEBBLE_VA_ALWAYS_VALID
. "$top_srcdir/tests/lib/pebble.sh"

T=$(mktemp -d "${TMPDIR:-/tmp}/brski-bench-acme.XXXXXX") || exit 3
DPID=
cleanup() {
	if [ -n "$DPID" ]; then
		kill -TERM "$DPID" 2>/dev/null
		wait "$DPID" 2>/dev/null
	fi
	pebble_stop
	if [ -n "${BENCH_KEEP:-}" ]; then
		echo "bench-acme: kept $T" >&2
	else
		rm -rf "$T"
	fi
}
free_port() {
	"${PYTHON3:-python3}" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}
now() { date +%s.%N; }
lines() { wc -l <"$PEBBLE_LOG"; }

PEBBLE_HTTP_PORT=$(free_port)
pebble_start || exit 3
trap cleanup EXIT
trap 'exit 3' INT TERM

# ---- ours -----------------------------------------------------------------
D=$T/pki
"$BRSKI" pki init "$D" --acme-directory "$PEBBLE_DIRECTORY" --acme-trust "$PEBBLE_CA" \
	--acme-http01-listen "127.0.0.1:$PEBBLE_HTTP_PORT" >"$T/pki.out" 2>&1 ||
	{ cat "$T/pki.out"; exit 3; }
C=$D/cloudregd-owner.conf
# The request that creates a job waits for it (up to 30 s): the time is the
# CA backend's, not a pledge's polling interval (Retry-After).
sed -i '/^\[est\]$/a first_wait_ms = 30000\nretry_after = 1' "$C"
ini() { awk -v s="[$2]" -v k="$3" '$0 == s {in_s = 1; next} /^\[/ {in_s = 0}
	in_s && $1 == k {print $3; exit}' "$1"; }
"$CLOUDREGD" -c "$C" >"$T/cloudregd.log" 2>&1 &
DPID=$!
ADMIN=https://$(ini "$C" admin listen)
i=0
until curl -sf --max-time 2 --cacert "$D/owner-domain-ca.crt" -o /dev/null "$ADMIN/healthz"; do
	i=$((i + 1))
	if [ $i -ge 300 ] || ! kill -0 "$DPID" 2>/dev/null; then
		cat "$T/cloudregd.log"
		echo "bench-acme: cloudregd did not start" >&2
		exit 3
	fi
	sleep 0.1
done
l0=$(lines)
"$BRSKI" bench est --url "https://$(ini "$C" est listen)" --pki "$D" \
	--subdomain "$(ini "$C" ca subdomain)" --pledges "$N" --connections 1 \
	--prefix acme-bench- --enroll-only >"$T/ours.out" 2>&1
rc=$?
l1=$(lines)
cat "$T/ours.out"
if [ $rc -ne 0 ]; then
	tail -n 40 "$T/cloudregd.log"
	echo "bench-acme: our enrollments failed" >&2
	exit 3
fi
ours_s=$(sed -n 's/^enrolled: [0-9]* pledges in \([0-9.]*\) s.*/\1/p' "$T/ours.out")
ours_req=$((l1 - l0))
issued=$(grep -c "issued a certificate" "$T/cloudregd.log")

# ---- uacme ----------------------------------------------------------------
cp "$PEBBLE_CA" "$T/bundle.pem"
printf '#!/bin/sh\n# PEBBLE_VA_ALWAYS_VALID: nothing to publish\nexit 0\n' >"$T/hook"
chmod +x "$T/hook"
mkdir -p "$T/uacme" "$T/csr"
k=0
while [ $k -lt "$N" ]; do
	name=$(printf 'acme-bench-%06d.%s' "$k" "$(ini "$C" ca subdomain)")
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$T/csr/$k.key" -subj "/CN=$name" -addext "subjectAltName=DNS:$name" \
		-out "$T/csr/$k.pem" 2>/dev/null || exit 3
	k=$((k + 1))
done
cat >"$T/run-uacme.sh" <<EOF
mount --bind "$T/bundle.pem" /etc/ssl/certs/ca-certificates.crt || exit 3
"$UACME" -y -t EC -c "$T/uacme" -a "$PEBBLE_DIRECTORY" new >>"$T/uacme.log" 2>&1 || exit 4
k=0
while [ \$k -lt $N ]; do
	"$UACME" -t EC -c "$T/uacme" -a "$PEBBLE_DIRECTORY" -h "$T/hook" issue "$T/csr/\$k.pem" \
		>>"$T/uacme.log" 2>&1 || exit 5
	k=\$((k + 1))
done
EOF
l2=$(lines)
t0=$(now)
unshare -m sh "$T/run-uacme.sh"
rc=$?
t1=$(now)
l3=$(lines)
if [ $rc -ne 0 ]; then
	tail -n 30 "$T/uacme.log"
	echo "bench-acme: uacme failed (status $rc)" >&2
	exit 3
fi
certs=$(find "$T/csr" -name "*-cert.pem" | wc -l)
uacme_req=$((l3 - l2))
[ "$certs" -eq "$N" ] || { echo "bench-acme: uacme wrote $certs certificates, not $N" >&2; exit 3; }

awk -v n="$N" -v os="$ours_s" -v us="$(echo "$t1 $t0" | awk '{print $1 - $2}')" \
	-v uver="$("$UACME" -V 2>&1 | head -n 1)" -v oreq="$ours_req" -v ureq="$uacme_req" -v issued="$issued" -v certs="$certs" 'BEGIN {
	orate = os > 0 ? n / os : 0
	urate = us > 0 ? n / us : 0
	printf "ours (cloudregd ACME backend over EST): %d issuances (%d by the CA backend) in %.2f s: %.2f/s, %.1f HTTP requests per issuance (%d at Pebble)\n", n, issued, os, orate, oreq / n, oreq
	printf "%s: %d issuances (%d certificates) in %.2f s: %.2f/s, %.1f HTTP requests per issuance (%d at Pebble, account creation included)\n", uver, n, certs, us, urate, ureq / n, ureq
	printf "requests counted from Pebble'\''s log (one line per request handled) during each phase\n"
	printf "ratio=%.3f\n", (urate > 0 ? orate / urate : 0)
}'
