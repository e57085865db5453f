#!/usr/bin/env bash
# The demo behind `./quickstart demo`: the three BRSKI cloud flows end to
# end on loopback, from a fresh PKI.
#
#   tools/demo.sh [--serve] [--local-ca | --acme]
#
#   --serve     leave every server running for exploration (Ctrl-C stops)
#   --local-ca  the owner registrar issues with its local CA even when
#               Pebble and BIND 9 are installed
#   --acme      insist on Pebble + BIND 9 (exit 1 when they cannot run)
#
# Environment: BRSKI_BUILD (required) names the build directory;
# BRSKI_DEMO_DIR (default ./demo in the source tree) is where the PKI,
# databases and logs go; it is replaced on every run.
#
# Steps: a PKI (`brski pki init`); a private Pebble (the ACME test server)
# and BIND 9 as the owner registrar's ACME CA when both are installed, else
# its local CA (the demo says which, and why); masad,
# cloudregd as the cloud registrar and cloudregd as the owner registrar; an
# owner and three devices registered through the admin API (`brski admin`,
# bootstrap token); three pledges (`brski pledge`): redirect (307 to the
# owner registrar), est-domain (voucher naming the owner's EST server) and
# enroll-here (the cloud registrar's EST server). Each LDevID is verified
# with `openssl verify` against the issuer it must have: the cloud
# registrar's domain CA (enroll-here); the owner's domain CA, or with ACME
# Pebble's root and intermediate as Pebble's management interface gives
# them (not as the pledge received them). Exit status: 0 when all three
# verify, 1 otherwise, 2 usage; 130 after Ctrl-C (143 after SIGTERM), with
# every server the demo started stopped first (also how --serve ends).
set -uo pipefail

build=${BRSKI_BUILD:?BRSKI_BUILD must name the build directory}
top=$(cd "$(dirname "$0")/.." && pwd)
demo=${BRSKI_DEMO_DIR:-$top/demo}
serve=0
want_acme=1
need_acme=0
for a in "$@"; do
	case "$a" in
	--serve) serve=1 ;;
	--acme) need_acme=1 ;;
	--local-ca) want_acme=0 ;;
	*)
		sed -n '5,11p' "$0" | sed 's/^# \{0,1\}//' >&2
		exit 2
		;;
	esac
done
[ $need_acme -eq 1 ] && [ $want_acme -eq 0 ] && {
	echo "demo: --acme and --local-ca exclude each other" >&2
	exit 2
}

brski=$build/tools/brski
masad=$build/masa/masad
cloudregd=$build/cloudreg/cloudregd
PYTHON3=${PYTHON3:-/usr/bin/python3}
OPENSSL=${OPENSSL:-openssl}
export PYTHON3
# An uninstalled build reads the YANG modules from the source tree.
BRSKI_YANG_DIR=${BRSKI_YANG_DIR:-$top/yang}
export BRSKI_YANG_DIR

if [ -t 1 ]; then
	bold=$'\033[1m' off=$'\033[0m'
else
	bold='' off=''
fi
step() { printf '\n%s=== %s%s\n' "$bold" "$*" "$off"; }
note() { printf '    %s\n' "$*"; }
die() {
	printf 'demo: %s\n' "$*" >&2
	exit 1
}

for p in "$brski" "$masad" "$cloudregd"; do
	[ -x "$p" ] || die "$p is not built (make in $build)"
done

# ---- servers and cleanup ----
pids=()
names=()
acme=0
cleanup() {
	local rc=$?
	local i
	for i in "${!pids[@]}"; do kill -TERM "${pids[$i]}" 2>/dev/null; done
	for i in "${!pids[@]}"; do wait "${pids[$i]}" 2>/dev/null; done
	if [ $acme -eq 1 ]; then
		pebble_stop
		bind_stop
	fi
	exit $rc
}
# The demo's own traps. bind_start and pebble_start (tests/lib) install
# theirs, which stop only BIND or Pebble: these are put back after every
# start attempt, whatever its outcome, so that the daemons started below
# are always stopped too. Ctrl-C ends with 130, SIGTERM with 143, after
# the same cleanup.
demo_traps() {
	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}
demo_traps

# ---- 1. the PKI ----
D=$demo/pki
step "1. A fresh PKI with brski pki init ($D)"
mkdir -p "$demo" || die "cannot make $demo"
rm -f "$demo"/*.log

acme_args=()
why_local="--local-ca was given"
if [ $want_acme -eq 1 ]; then
	why_local=
	[ -x /usr/bin/pebble ] || why_local="Pebble (/usr/bin/pebble) is not installed"
	[ -x /usr/sbin/named ] || why_local="BIND 9 (/usr/sbin/named) is not installed"
	if [ -z "$why_local" ]; then
		# The helpers the ACME tests use: a private named (zone
		# pledges.example.com, every name on 127.0.0.1) and a private
		# Pebble resolving through it.
		. "$top/tests/lib/bind.sh"
		. "$top/tests/lib/pebble.sh"
		acme=1
		bind_start >"$demo/bind.log" 2>&1
		bind_rc=$?
		demo_traps
		if [ $bind_rc -ne 0 ]; then
			why_local="BIND 9 did not start (see $demo/bind.log)"
		else
			h01_port=$("$PYTHON3" -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
			# Read by pebble_start (tests/lib/pebble.sh).
			export PEBBLE_HTTP_PORT=$h01_port
			export PEBBLE_DNS=127.0.0.1:$BIND_PORT
			pebble_start >"$demo/pebble-start.log" 2>&1
			pebble_rc=$?
			demo_traps
			if [ $pebble_rc -ne 0 ]; then
				why_local="Pebble did not start (see $demo/pebble-start.log)"
			else
				acme_args=(--acme-directory "$PEBBLE_DIRECTORY" --acme-trust "$PEBBLE_CA"
					--acme-http01-listen "127.0.0.1:$h01_port")
			fi
		fi
	fi
fi
if [ $acme -eq 1 ] && [ ${#acme_args[@]} -eq 0 ]; then
	# Falling back to the local CA: whichever of the two did start is of
	# no use now.
	pebble_stop
	bind_stop
	acme=0
fi
if [ $need_acme -eq 1 ] && [ ${#acme_args[@]} -eq 0 ]; then
	die "--acme: $why_local"
fi
"$brski" pki init "$D" --force "${acme_args[@]}" >"$demo/pki-init.log" || {
	cat "$demo/pki-init.log"
	die "brski pki init failed"
}
note "certificates, keys and ready-to-run configurations: masad.conf cloudregd-cloud.conf cloudregd-owner.conf"
note "manifest: $D/pki.json; admin bootstrap token: $D/admin-token"

jget() {
	"$PYTHON3" -c 'import json,sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    v = v[int(k)] if k.isdigit() else v[k]
print(v)' "$D/pki.json" "$1"
}
ini_get() {
	awk -v sec="$2" -v key="$3" '
		/^[ \t]*\[/ { s = $0; gsub(/[ \t\[\]]/, "", s); next }
		s == sec {
			n = index($0, "="); if (n == 0) next
			k = substr($0, 1, n - 1); gsub(/[ \t]/, "", k)
			if (k != key) next
			v = substr($0, n + 1); gsub(/^[ \t]+|[ \t]+$/, "", v); print v; exit
		}' "$1"
}
TLS_CA=$(jget tls_ca)
OWNER_REG=$(jget owner.registrar.url)
OWNER_EST=$(jget owner.est.url)
CLOUD=$(jget cloud_registrar.url)
CLOUD_EST=$(jget cloud_registrar.est.url)
OWNER_ADMIN=https://$(ini_get "$D/cloudregd-owner.conf" admin listen)

step "2. The owner registrar's CA"
if [ $acme -eq 1 ] && [ ${#acme_args[@]} -gt 0 ]; then
	# What the pledges' certificates are checked against: Pebble's root
	# and intermediate from its management interface, not the chain the
	# pledge was given.
	pebble_root "$demo/pebble-root.pem" || die "Pebble gave no root certificate"
	pebble_intermediate "$demo/pebble-intermediate.pem" ||
		die "Pebble gave no intermediate certificate"
	OWNER_ISSUER=$demo/pebble-root.pem
	OWNER_UNTRUSTED=$demo/pebble-intermediate.pem
	OWNER_ISSUER_NAME="Pebble's root and intermediate (ACME)"
	note "ACME: the owner registrar gets LDevIDs from Pebble ($PEBBLE_DIRECTORY),"
	note "http-01 answered by cloudregd on 127.0.0.1:$h01_port, names resolved by BIND 9"
	note "on 127.0.0.1:$BIND_PORT (zone $BIND_ZONE). Pebble's root: $OWNER_ISSUER"
	note "(from its management interface; it makes a new one each start)."
	note "Pebble drops the subject of a CSR, so its LDevIDs carry no serialNumber: the owner"
	note "registrar knows each one as the certificate it issued to that device (its store)."
else
	OWNER_ISSUER=$D/owner-domain-ca.crt
	OWNER_UNTRUSTED=
	OWNER_ISSUER_NAME="owner domain CA (local CA backend)"
	note "LOCAL CA, NOT ACME ($why_local):"
	note "the owner registrar issues LDevIDs with its own domain CA ([ca] backend = local)."
fi
CLOUD_ISSUER=$D/cloud-domain-ca.crt

# ---- 3. the daemons ----
start() { # NAME BINARY CONFIG CAFILE
	local admin
	admin=https://$(ini_get "$3" admin listen)
	"$2" -c "$3" 2>"$demo/$1.log" &
	pids+=($!)
	names+=("$1")
	local i
	for i in $(seq 1 200); do
		curl -fsS --max-time 1 --cacert "$4" "$admin/healthz" >/dev/null 2>&1 && {
			note "$1 is up (pid ${pids[-1]}; admin $admin; log $demo/$1.log)"
			return 0
		}
		kill -0 "${pids[-1]}" 2>/dev/null || break
		sleep 0.1
	done
	tail -20 "$demo/$1.log"
	die "$1 did not start"
}
step "3. The daemons"
start masad "$masad" "$D/masad.conf" "$TLS_CA"
start cloud-registrar "$cloudregd" "$D/cloudregd-cloud.conf" "$TLS_CA"
start owner-registrar "$cloudregd" "$D/cloudregd-owner.conf" "$D/owner-domain-ca.crt"
note "MASA $(jget masa.url); cloud registrar $CLOUD; owner registrar $OWNER_REG (EST $OWNER_EST)"

# ---- 4. ownership through the admin API ----
step "4. An owner and three devices, through the admin API (brski admin, bootstrap token)"
adm() {
	printf '    $ %s admin %s --pki %s\n' "$brski" "$*" "$D"
	"$brski" admin "$@" --pki "$D" >"$demo/admin.out" 2>&1 || {
		sed 's/^/      /' "$demo/admin.out"
		die "brski admin $1 $2 failed"
	}
}
adm owner create acme-owner --domain-ca "$D/owner-domain-ca.crt" --registrar-url "$OWNER_REG" \
	--est-url "$OWNER_EST" --est-pin "$D/owner-est.crt" --enroll-here true
serials=(pledge-0001 pledge-0002 pledge-0003)
modes=(redirect est-domain enroll-here)
for i in 0 1 2; do
	adm device create "${serials[$i]}" --owner acme-owner --mode "${modes[$i]}"
done
printf '    $ %s admin device list --pki %s\n' "$brski" "$D"
"$brski" admin device list --pki "$D" | sed 's/^/      /'

# ---- 5. the pledges ----
verify_ldevid() { # SERIAL ISSUER-FILE [INTERMEDIATES]: 0 when the LDevID chains to ISSUER-FILE
	local crt=$D/pledges/$1.ldevid.crt
	[ -f "$crt" ] || return 1
	if [ -n "${3:-}" ]; then
		# The leaf alone, completed only by the given intermediates.
		"$OPENSSL" x509 -in "$crt" -out "$demo/leaf-$1.pem" 2>/dev/null || return 1
		"$OPENSSL" verify -CAfile "$2" -untrusted "$3" "$demo/leaf-$1.pem" >"$demo/verify-$1.out" 2>&1
	else
		"$OPENSSL" verify -CAfile "$2" -untrusted "$crt" "$crt" >"$demo/verify-$1.out" 2>&1
	fi
}
results=()
rc_all=0
for i in 0 1 2; do
	s=${serials[$i]}
	m=${modes[$i]}
	untrusted=$OWNER_UNTRUSTED
	case $m in
	redirect)
		issuer=$OWNER_ISSUER issuer_name=$OWNER_ISSUER_NAME
		step "5.$((i + 1)) $s, mode redirect: the cloud registrar answers 307 to the owner registrar"
		;;
	est-domain)
		issuer=$OWNER_ISSUER issuer_name=$OWNER_ISSUER_NAME
		step "5.$((i + 1)) $s, mode est-domain: a voucher whose est-domain is the owner's EST server"
		;;
	enroll-here)
		issuer=$CLOUD_ISSUER issuer_name="cloud registrar's domain CA" untrusted=
		step "5.$((i + 1)) $s, mode enroll-here: the cloud registrar enrolls the pledge itself"
		;;
	esac
	rm -f "$D/pledges/$s.ldevid.crt" "$D/pledges/$s.ldevid.key"
	iss=
	printf '    $ BRSKI_YANG_DIR=%s %s pledge --pki %s --serial %s --tries 30\n' "$BRSKI_YANG_DIR" "$brski" "$D" "$s"
	"$brski" pledge --pki "$D" --serial "$s" --tries 30 >"$demo/pledge-$s.log" 2>&1
	prc=$?
	sed 's/^/    | /' "$demo/pledge-$s.log"
	# The MASA's side: the voucher it issued, as its audit log holds it.
	printf '    $ %s admin device audit %s --pki %s   (the MASA'"'"'s record of the voucher)\n' "$brski" "$s" "$D"
	"$brski" admin device audit "$s" --pki "$D" 2>&1 | sed 's/^/    : /'
	# What the cloud registrar answered, and which EST server enrolled.
	if grep -q '^redirect ' "$demo/pledge-$s.log"; then
		cloud_said="307 redirect"
	elif grep -q '^voucher  *valid' "$demo/pledge-$s.log"; then
		cloud_said="voucher"
	else
		cloud_said=$(grep -m1 -E '^refused' "$demo/pledge-$s.log" | awk '{print $1, $2}')
	fi
	est_at=$(awk '$1 == "est" {print $2; exit}' "$demo/pledge-$s.log")
	case "$est_at" in
	"$OWNER_REG") est_at="owner registrar" ;;
	"$OWNER_EST") est_at="owner EST server" ;;
	"$CLOUD_EST") est_at="cloud registrar EST" ;;
	"") est_at="-" ;;
	esac
	crt=$D/pledges/$s.ldevid.crt
	if [ $prc -ne 0 ]; then
		note "brski pledge exit $prc: NOT enrolled"
		if [ -f "$crt" ]; then
			# Say what was issued even though the pledge did not finish.
			iss=$("$OPENSSL" x509 -in "$crt" -noout -issuer -nameopt RFC2253 2>/dev/null | sed 's/^issuer=//')
			if verify_ldevid "$s" "$issuer" "$untrusted"; then v="verifies"; else v="does NOT verify"; fi
			note "an LDevID was issued ($crt, issuer $iss) and $v against $issuer_name"
		fi
		results+=("$s|$m|${cloud_said:--}|$est_at|${iss:--}|FAILED (brski pledge exit $prc)")
		rc_all=1
		continue
	fi
	subj=$("$OPENSSL" x509 -in "$crt" -noout -subject -nameopt RFC2253 2>/dev/null | sed 's/^subject=//')
	iss=$("$OPENSSL" x509 -in "$crt" -noout -issuer -nameopt RFC2253 2>/dev/null | sed 's/^issuer=//')
	note "LDevID $crt"
	note "  subject: $subj"
	note "  issuer:  $iss"
	if verify_ldevid "$s" "$issuer" "$untrusted"; then
		note "openssl verify -CAfile $(basename "$issuer")${untrusted:+ -untrusted $(basename "$untrusted")}: OK ($issuer_name)"
		note "enrolled"
		results+=("$s|$m|$cloud_said|$est_at|$iss|enrolled, verified")
	else
		note "openssl verify against $issuer_name FAILED: $(cat "$demo/verify-$s.out")"
		results+=("$s|$m|$cloud_said|$est_at|$iss|NOT VERIFIED against $issuer_name")
		rc_all=1
	fi
done

# ---- 6. summary ----
step "Summary"
{
	echo "pledge|mode|cloud registrar|EST server|LDevID issuer|result"
	echo "------|----|---------------|----------|-------------|------"
	printf '%s\n' "${results[@]}"
} | awk -F'|' '
	# Columns as wide as their widest cell (column(1) is not in every
	# minimal Debian install).
	{ for (i = 1; i <= NF; i++) { c[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i) } n[NR] = NF }
	END { for (r = 1; r <= NR; r++) { line = "   "; for (i = 1; i <= n[r]; i++) line = line sprintf(" %-*s ", w[i], c[r, i]); sub(/ +$/, "", line); print line } }'
if [ $acme -eq 1 ] && [ ${#acme_args[@]} -gt 0 ]; then
	note "owner CA: ACME (Pebble + BIND 9)"
else
	note "owner CA: local CA, not ACME ($why_local)"
fi

step "Where to look next"
# Every command below is printed so that it works when copied: brski by
# its full path (it is not installed), BRSKI_YANG_DIR where brski reads
# YANG, and each daemon's admin origin with the CA that verifies it (the
# owner registrar's admin TLS is from its domain CA, not tls_ca).
TOKEN_FILE=$(jget admin.token_file)
MASA_ADMIN=$(jget admin.masa_url)
CLOUD_ADMIN=$(jget admin.cloudreg_url)
OWNER_CA=$D/owner-domain-ca.crt
if [ $serve -eq 1 ]; then
	live="(the daemons are running until Ctrl-C)"
else
	live="(need the daemons: run the demo again with --serve; this run stopped them)"
fi
cat <<EOF
    logs        $demo/*.log (masad.log, cloud-registrar.log, owner-registrar.log,
                pledge-SERIAL.log)
    databases   $D/cloud.db (masad and the cloud registrar), $D/owner.db
                (the owner registrar): sqlite3 $D/cloud.db .tables
    brski       $brski (not on PATH; the bootstrap admin token is $TOKEN_FILE)

    Admin URLs, /metrics, brski admin and brski pledge $live:
    admin URLs  masad $MASA_ADMIN, cloud registrar $CLOUD_ADMIN
                (both verified by $TLS_CA),
                owner registrar $OWNER_ADMIN (verified by $OWNER_CA)
                (/admin/v1/*, /healthz, /metrics)
                curl --cacert $TLS_CA $MASA_ADMIN/metrics
                curl --cacert $TLS_CA $CLOUD_ADMIN/metrics
                curl --cacert $OWNER_CA $OWNER_ADMIN/metrics
    brski admin masad (--pki takes its URL, token file and CA from $D/pki.json):
                $brski admin device list --pki $D
                $brski admin device audit pledge-0002 --pki $D
                $brski admin device requests pledge-0002 --pki $D
                $brski admin token create --pki $D --name sales --scope write --owner acme-owner
                $brski admin audit list --pki $D
    brski admin cloud registrar (--cloudreg: admin.cloudreg_url of pki.json):
                $brski admin device telemetry pledge-0002 --pki $D --cloudreg
                $brski admin device requests pledge-0002 --pki $D --cloudreg
    brski admin owner registrar (its URL and CA given explicitly):
                $brski admin device telemetry pledge-0002 --url $OWNER_ADMIN --cacert $OWNER_CA --token-file $TOKEN_FILE
                $brski admin device requests pledge-0002 --url $OWNER_ADMIN --cacert $OWNER_CA --token-file $TOKEN_FILE
    again       BRSKI_YANG_DIR=$BRSKI_YANG_DIR $brski pledge --pki $D --serial pledge-0002
EOF

if [ $rc_all -eq 0 ]; then
	echo "demo: all three pledges enrolled and their LDevIDs verify"
else
	echo "demo: FAILED: not every pledge enrolled with a certificate from the right issuer"
fi
if [ $serve -eq 1 ]; then
	echo "Serving until Ctrl-C (${names[*]}$([ $acme -eq 1 ] && echo ", Pebble, BIND 9")); Ctrl-C stops them all and exits 130."
	wait
fi
exit $rc_all
