# tests/lib/bind.sh: a private BIND 9 (named) for one test (sourced).
#
#   . "$top_srcdir/tests/lib/bind.sh"
#   bind_start || exit 99   # sets BIND_PORT, BIND_DIR, BIND_ZONE, BIND_KEYFILE,
#                           # BIND_OTHER_ZONE
#   dig @127.0.0.1 -p "$BIND_PORT" ...
#   bind_txt NAME           # print the TXT data at NAME (one per line)
#   bind_stop               # also run on exit (see below)
#
# named listens on 127.0.0.1 at a free port (UDP and TCP) with a private
# configuration in a temp dir: an authoritative-only server (no recursion)
# for two loopback zones, $BIND_ZONE (default pledges.example.com: every
# name under it resolves to 127.0.0.1 by a wildcard A record, so http-01
# validation reaches loopback) and $BIND_OTHER_ZONE (other.example.com).
# The TSIG key in $BIND_KEYFILE (tsig-keygen format, hmac-sha256) may update
# TXT records in $BIND_ZONE only: update-policy { grant KEY zonesub TXT; }
# there, and no policy at all in the other zone, so an update of the other
# zone with that key is REFUSED.
#
# bind_start sets an EXIT trap that stops named (and INT/TERM traps that
# stop it and exit 99), replacing the caller's: a script with its own traps
# must call bind_stop from its EXIT trap and install its traps again after
# every bind_start, whether it succeeded or not (tools/demo.sh does so).
# Readiness is polled with dig, never waited for with a fixed sleep. named
# runs in the foreground (-f) as the invoking user; as root that is what
# BIND allows without -u, and the temp dir is only ours.
BIND_NAMED=${BIND_NAMED:-/usr/sbin/named}
BIND_ZONE=${BIND_ZONE:-pledges.example.com}
BIND_OTHER_ZONE=${BIND_OTHER_ZONE:-other.example.com}
BIND_DIR=
BIND_PORT=
BIND_PID=
BIND_KEYFILE=
BIND_KEYNAME=dns01-key

bind__fail() {
	echo "bind.sh: FAILED: $*" >&2
	if [ -n "$BIND_DIR" ] && [ -f "$BIND_DIR/named.log" ]; then
		echo "bind.sh: ---- named log ($BIND_DIR/named.log) ----" >&2
		tail -n 40 "$BIND_DIR/named.log" >&2
	fi
	return 1
}

bind__free_port() {
	# A port free for both TCP and UDP on 127.0.0.1 right now.
	"${PYTHON3:-python3}" -c 'import socket
while True:
    t = socket.socket()
    t.bind(("127.0.0.1", 0))
    p = t.getsockname()[1]
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind(("127.0.0.1", p))
    except OSError:
        continue
    print(p)
    break'
}

bind__zone() {
	cat <<EOF
\$TTL 60
@	IN SOA ns.$1. hostmaster.$1. 1 60 60 600 60
@	IN NS ns.$1.
ns	IN A 127.0.0.1
@	IN A 127.0.0.1
*	IN A 127.0.0.1
EOF
}

bind_stop() {
	[ -n "$BIND_DIR" ] || return 0
	if [ -n "$BIND_PID" ] && kill -0 "$BIND_PID" 2>/dev/null; then
		kill -TERM "$BIND_PID" 2>/dev/null
		bind__i=0
		while kill -0 "$BIND_PID" 2>/dev/null && [ $bind__i -lt 100 ]; do
			bind__i=$((bind__i + 1))
			sleep 0.1
		done
		kill -KILL "$BIND_PID" 2>/dev/null
		wait "$BIND_PID" 2>/dev/null
	fi
	BIND_PID=
	if [ -n "${BIND_KEEP:-}" ]; then
		echo "bind.sh: kept $BIND_DIR" >&2
	else
		rm -rf "$BIND_DIR"
	fi
	BIND_DIR=
}

# Poll until named answers the SOA of the zone (at most about 20 s).
bind_wait_ready() {
	bind__i=0
	while [ $bind__i -lt 200 ]; do
		if [ -n "$(dig @127.0.0.1 -p "$BIND_PORT" +short +time=1 +tries=1 SOA "$BIND_ZONE" 2>/dev/null)" ]; then
			return 0
		fi
		kill -0 "$BIND_PID" 2>/dev/null || return 1
		bind__i=$((bind__i + 1))
		sleep 0.1
	done
	return 1
}

bind_txt() {
	dig @127.0.0.1 -p "$BIND_PORT" +short +time=2 +tries=2 TXT "$1" | tr -d '"'
}

bind_start() {
	[ -x "$BIND_NAMED" ] || { bind__fail "no $BIND_NAMED (Debian package bind9)"; return 1; }
	command -v tsig-keygen >/dev/null || { bind__fail "no tsig-keygen (bind9)"; return 1; }
	command -v dig >/dev/null || { bind__fail "no dig (bind9-dnsutils)"; return 1; }
	BIND_DIR=$(mktemp -d "${TMPDIR:-/tmp}/brski-bind.XXXXXX") || { bind__fail mktemp; return 1; }
	trap bind_stop EXIT
	trap 'bind_stop; exit 99' INT TERM
	BIND_PORT=$(bind__free_port) || { bind__fail "no free port"; return 1; }
	BIND_KEYFILE=$BIND_DIR/$BIND_KEYNAME.key
	tsig-keygen -a hmac-sha256 "$BIND_KEYNAME" >"$BIND_KEYFILE" || { bind__fail tsig-keygen; return 1; }
	bind__zone "$BIND_ZONE" >"$BIND_DIR/$BIND_ZONE.db"
	bind__zone "$BIND_OTHER_ZONE" >"$BIND_DIR/$BIND_OTHER_ZONE.db"
	cat >"$BIND_DIR/named.conf" <<EOF
options {
	directory "$BIND_DIR";
	pid-file "$BIND_DIR/named.pid";
	session-keyfile "$BIND_DIR/session.key";
	managed-keys-directory "$BIND_DIR";
	listen-on port $BIND_PORT { 127.0.0.1; };
	listen-on-v6 { none; };
	recursion no;
	dnssec-validation no;
	allow-query { any; };
	notify no;
};
controls { };
include "$BIND_KEYFILE";
zone "$BIND_ZONE" {
	type primary;
	file "$BIND_DIR/$BIND_ZONE.db";
	journal "$BIND_DIR/$BIND_ZONE.jnl";
	update-policy { grant $BIND_KEYNAME zonesub TXT; };
};
zone "$BIND_OTHER_ZONE" {
	type primary;
	file "$BIND_DIR/$BIND_OTHER_ZONE.db";
};
EOF
	"$BIND_NAMED" -f -4 -n 1 -c "$BIND_DIR/named.conf" -L "$BIND_DIR/named.log" \
		>>"$BIND_DIR/named.log" 2>&1 &
	BIND_PID=$!
	bind_wait_ready || { bind__fail "named did not answer on 127.0.0.1:$BIND_PORT"; return 1; }
	return 0
}
