# tests/lib/pebble.sh: a private Pebble (the ACME test server, Debian
# package pebble) for one test (sourced).
#
#   . "$top_srcdir/tests/lib/pebble.sh"
#   PEBBLE_HTTP_PORT=... PEBBLE_DNS=127.0.0.1:$BIND_PORT
#   pebble_start || exit 99   # sets PEBBLE_DIR, PEBBLE_PORT, PEBBLE_DIRECTORY,
#                             # PEBBLE_CA (PEM that verifies Pebble's TLS),
#                             # PEBBLE_LOG
#   pebble_count PATTERN      # how many log lines match (grep -c)
#   pebble_root FILE          # write the root that issued the certificates
#   pebble_intermediate FILE  # write the intermediate that signs them
#   pebble_restart            # the same Pebble again, with no accounts or orders
#   pebble_stop               # also run on exit (see below)
#
# Pebble listens on 127.0.0.1 at a free port with a TLS certificate made
# here for this run (a throw-away CA from certtool; PEBBLE_CA is its
# certificate), with its management interface on another free port.
# Settings (environment, before pebble_start):
#   PEBBLE_HTTP_PORT   port Pebble's VA connects to for http-01 (default 5002)
#   PEBBLE_DNS         host:port of the DNS server Pebble resolves and
#                      checks dns-01 with (-dnsserver), e.g. our BIND
#   PEBBLE_EAB_KID / PEBBLE_EAB_KEY
#                      require external account binding with this key id
#                      and base64url HMAC key
#   PEBBLE_VA_NOSLEEP (default 1 here), PEBBLE_WFE_NONCEREJECT (Pebble's
#   default 5 when unset), PEBBLE_AUTHZREUSE: passed to Pebble as they are.
#
# pebble_start sets an EXIT trap that stops Pebble (and INT/TERM traps that
# stop it and exit 99), replacing the caller's: a script with its own traps
# must call pebble_stop from its EXIT trap and install its traps again
# after every pebble_start, whether it succeeded or not (a failed start
# may already have replaced them; tools/demo.sh does so). Readiness is
# polled with curl on the directory, never waited for with a fixed sleep.
PEBBLE_BIN=${PEBBLE_BIN:-/usr/bin/pebble}
PEBBLE_DIR=
PEBBLE_PORT=
PEBBLE_MGMT_PORT=
PEBBLE_PID=
PEBBLE_DIRECTORY=
PEBBLE_CA=
PEBBLE_LOG=

pebble__fail() {
	echo "pebble.sh: FAILED: $*" >&2
	if [ -n "$PEBBLE_LOG" ] && [ -f "$PEBBLE_LOG" ]; then
		echo "pebble.sh: ---- pebble log ($PEBBLE_LOG) ----" >&2
		tail -n 40 "$PEBBLE_LOG" >&2
	fi
	return 1
}

pebble__free_port() {
	"${PYTHON3:-python3}" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

pebble_stop() {
	[ -n "$PEBBLE_DIR" ] || return 0
	if [ -n "$PEBBLE_PID" ] && kill -0 "$PEBBLE_PID" 2>/dev/null; then
		kill -TERM "$PEBBLE_PID" 2>/dev/null
		pebble__i=0
		while kill -0 "$PEBBLE_PID" 2>/dev/null && [ $pebble__i -lt 100 ]; do
			pebble__i=$((pebble__i + 1))
			sleep 0.1
		done
		kill -KILL "$PEBBLE_PID" 2>/dev/null
		wait "$PEBBLE_PID" 2>/dev/null
	fi
	PEBBLE_PID=
	if [ -n "${PEBBLE_KEEP:-}" ]; then
		echo "pebble.sh: kept $PEBBLE_DIR" >&2
	else
		rm -rf "$PEBBLE_DIR"
	fi
	PEBBLE_DIR=
}

pebble__certs() {
	d=$PEBBLE_DIR
	certtool --generate-privkey --key-type=ecdsa --curve=secp256r1 \
		--outfile "$d/ca.key" 2>/dev/null || return 1
	cat >"$d/ca.tmpl" <<EOF
cn = "pebble test TLS CA"
ca
cert_signing_key
expiration_days = 2
EOF
	certtool --generate-self-signed --load-privkey "$d/ca.key" --template "$d/ca.tmpl" \
		--outfile "$d/ca.pem" 2>/dev/null || return 1
	certtool --generate-privkey --key-type=ecdsa --curve=secp256r1 \
		--outfile "$d/key.pem" 2>/dev/null || return 1
	cat >"$d/srv.tmpl" <<EOF
cn = "localhost"
dns_name = "localhost"
ip_address = "127.0.0.1"
tls_www_server
signing_key
expiration_days = 2
EOF
	certtool --generate-certificate --load-privkey "$d/key.pem" --load-ca-certificate "$d/ca.pem" \
		--load-ca-privkey "$d/ca.key" --template "$d/srv.tmpl" \
		--outfile "$d/cert.pem" 2>/dev/null || return 1
}

pebble_wait_ready() {
	pebble__i=0
	while [ $pebble__i -lt 300 ]; do
		if curl -sf --max-time 2 --cacert "$PEBBLE_CA" -o /dev/null "$PEBBLE_DIRECTORY"; then
			return 0
		fi
		kill -0 "$PEBBLE_PID" 2>/dev/null || return 1
		pebble__i=$((pebble__i + 1))
		sleep 0.1
	done
	return 1
}

pebble_count() {
	grep -c -- "$1" "$PEBBLE_LOG"
}

pebble_root() {
	curl -sf --max-time 5 --cacert "$PEBBLE_CA" -o "$1" \
		"https://127.0.0.1:$PEBBLE_MGMT_PORT/roots/0"
}

pebble_intermediate() {
	curl -sf --max-time 5 --cacert "$PEBBLE_CA" -o "$1" \
		"https://127.0.0.1:$PEBBLE_MGMT_PORT/intermediates/0"
}

# Stop Pebble and start it again on the same ports with the same TLS
# certificate: a CA that forgot every account and order (Pebble keeps them
# in memory only). The log goes on in the same file.
pebble_restart() {
	[ -n "$PEBBLE_DIR" ] || { pebble__fail "pebble_restart before pebble_start"; return 1; }
	kill -TERM "$PEBBLE_PID" 2>/dev/null
	wait "$PEBBLE_PID" 2>/dev/null
	set -- -config "$PEBBLE_DIR/pebble-config.json"
	[ -z "${PEBBLE_DNS:-}" ] || set -- "$@" -dnsserver "$PEBBLE_DNS"
	PEBBLE_VA_NOSLEEP=${PEBBLE_VA_NOSLEEP:-1} "$PEBBLE_BIN" "$@" >>"$PEBBLE_LOG" 2>&1 &
	PEBBLE_PID=$!
	pebble_wait_ready || { pebble__fail "Pebble did not come back on $PEBBLE_DIRECTORY"; return 1; }
}

pebble_start() {
	[ -x "$PEBBLE_BIN" ] || { pebble__fail "no $PEBBLE_BIN (Debian package pebble)"; return 1; }
	command -v certtool >/dev/null || { pebble__fail "no certtool (gnutls-bin)"; return 1; }
	PEBBLE_DIR=$(mktemp -d "${TMPDIR:-/tmp}/brski-pebble.XXXXXX") || { pebble__fail mktemp; return 1; }
	trap pebble_stop EXIT
	trap 'pebble_stop; exit 99' INT TERM
	PEBBLE_LOG=$PEBBLE_DIR/pebble.log
	pebble__certs || { pebble__fail "certtool could not make Pebble's TLS certificate"; return 1; }
	PEBBLE_CA=$PEBBLE_DIR/ca.pem
	PEBBLE_PORT=$(pebble__free_port) && PEBBLE_MGMT_PORT=$(pebble__free_port) ||
		{ pebble__fail "no free port"; return 1; }
	eab=
	if [ -n "${PEBBLE_EAB_KID:-}" ]; then
		eab=$(printf ',\n    "externalAccountMACKeys": { "%s": "%s" }' "$PEBBLE_EAB_KID" "$PEBBLE_EAB_KEY")
		required=true
	else
		required=false
	fi
	cat >"$PEBBLE_DIR/pebble-config.json" <<EOF
{
  "pebble": {
    "listenAddress": "127.0.0.1:$PEBBLE_PORT",
    "managementListenAddress": "127.0.0.1:$PEBBLE_MGMT_PORT",
    "certificate": "$PEBBLE_DIR/cert.pem",
    "privateKey": "$PEBBLE_DIR/key.pem",
    "httpPort": ${PEBBLE_HTTP_PORT:-5002},
    "tlsPort": ${PEBBLE_TLS_PORT:-5001},
    "ocspResponderURL": "",
    "externalAccountBindingRequired": $required$eab
  }
}
EOF
	PEBBLE_DIRECTORY=https://127.0.0.1:$PEBBLE_PORT/dir
	set -- -config "$PEBBLE_DIR/pebble-config.json"
	[ -z "${PEBBLE_DNS:-}" ] || set -- "$@" -dnsserver "$PEBBLE_DNS"
	PEBBLE_VA_NOSLEEP=${PEBBLE_VA_NOSLEEP:-1} "$PEBBLE_BIN" "$@" >"$PEBBLE_LOG" 2>&1 &
	PEBBLE_PID=$!
	pebble_wait_ready || { pebble__fail "Pebble did not serve $PEBBLE_DIRECTORY"; return 1; }
	return 0
}
