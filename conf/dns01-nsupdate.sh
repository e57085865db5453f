#!/bin/sh
# dns01-nsupdate.sh: the dns-01 hook of cloudregd ([acme] dns_hook).
#
# Publishes and removes ACME dns-01 TXT records with RFC 2136 dynamic
# updates signed with a TSIG key, through nsupdate (Debian: bind9-dnsutils).
# Give the hook a key that the primary server lets update only the one zone
# the pledges' names live in (BIND: update-policy { grant KEY zonesub TXT; };
# in that zone alone), and name that zone here: the hook refuses any record
# outside it before anything is sent.
#
# cloudregd runs it without a shell as
#   dns01-nsupdate.sh add|del IDENTIFIER RECORD VALUE
# e.g. add 0123.pledges.example.com _acme-challenge.0123.pledges.example.com. <43 chars>
#
# Configuration: environment variables, or KEY=VALUE lines (no quoting, no
# shell syntax: the file is read, never sourced) in the file named by
# DNS01_CONF; the environment wins.
#   DNS01_ZONE      the zone the key may update (required), e.g. pledges.example.com
#   DNS01_KEYFILE   TSIG key file as written by tsig-keygen (required)
#   DNS01_SERVER    primary server address (default 127.0.0.1)
#   DNS01_PORT      its port (default 53)
#   DNS01_TTL       TTL of the TXT record (default 60)
#   DNS01_TIMEOUT   seconds nsupdate waits for an answer (default 10)
#   DNS01_NSUPDATE  the nsupdate program (default: nsupdate in PATH)
#
# Exit status (what cloudregd does with it):
#   0  done
#   1  permanent: bad arguments, a record outside DNS01_ZONE, missing
#      configuration, or the server refused the update (REFUSED, NOTAUTH,
#      NOTZONE): the enrollment fails with this hook's message
#   2  temporary: the server did not answer, or failed (SERVFAIL, ...):
#      cloudregd tries again later
set -u

die() {
	echo "dns01-nsupdate: $2" >&2
	exit "$1"
}

conf_get() {
	# conf_get NAME: the value of NAME= in $DNS01_CONF, if any
	[ -n "${DNS01_CONF:-}" ] || return 0
	[ -r "$DNS01_CONF" ] || die 1 "DNS01_CONF $DNS01_CONF is not readable"
	while IFS= read -r line || [ -n "$line" ]; do
		case $line in
		"$1="*) printf '%s\n' "${line#*=}" ;;
		esac
	done <"$DNS01_CONF"
}

setting() {
	# setting NAME DEFAULT: environment, then the file, then the default
	eval "v=\${$1:-}"
	[ -n "$v" ] || v=$(conf_get "$1" | tail -n 1)
	[ -n "$v" ] || v=$2
	printf '%s\n' "$v"
}

[ $# -eq 4 ] || die 1 "usage: $0 add|del IDENTIFIER RECORD VALUE"
verb=$1 ident=$2 record=$3 value=$4

zone=$(setting DNS01_ZONE "")
keyfile=$(setting DNS01_KEYFILE "")
server=$(setting DNS01_SERVER 127.0.0.1)
port=$(setting DNS01_PORT 53)
ttl=$(setting DNS01_TTL 60)
timeout=$(setting DNS01_TIMEOUT 10)
nsupdate=$(setting DNS01_NSUPDATE nsupdate)

[ -n "$zone" ] || die 1 "DNS01_ZONE is not set (the one zone this hook may update)"
[ -n "$keyfile" ] || die 1 "DNS01_KEYFILE is not set (the TSIG key for that zone)"
[ -r "$keyfile" ] || die 1 "TSIG key file $keyfile is not readable"

case $verb in
add | del) ;;
*) die 1 "unknown operation '$verb' (add or del)" ;;
esac

# Everything that goes into the update is checked against a strict shape,
# so nothing a peer chose can become an nsupdate command.
valid_name() {
	case $1 in
	"" | *[!A-Za-z0-9._-]* | .* | *..*) return 1 ;;
	esac
	return 0
}
valid_name "$ident" || die 1 "'$ident' is not a DNS name"
valid_name "$zone" || die 1 "DNS01_ZONE '$zone' is not a DNS name"
case $value in
"" | *[!A-Za-z0-9_-]*) die 1 "'$value' is not a dns-01 value (base64url)" ;;
esac
[ ${#value} -le 128 ] || die 1 "the TXT value is too long"
case $port$ttl$timeout in
*[!0-9]*) die 1 "DNS01_PORT, DNS01_TTL and DNS01_TIMEOUT are numbers" ;;
esac
[ "$record" = "_acme-challenge.$ident." ] ||
	die 1 "record '$record' is not _acme-challenge.$ident."

lower() { printf '%s' "$1" | tr 'A-Z' 'a-z'; }
lrec=$(lower "$record")
lzone=$(lower "${zone%.}")
case $lrec in
*".$lzone.") ;;
*) die 1 "$record is outside zone $zone, the only zone this hook may update" ;;
esac

if [ "$verb" = add ]; then
	op="update add $record $ttl IN TXT \"$value\""
else
	op="update delete $record IN TXT \"$value\""
fi

out=$(printf 'server %s %s\nzone %s.\n%s\nsend\nanswer\n' "$server" "$port" "${zone%.}" "$op" |
	"$nsupdate" -v -k "$keyfile" -t "$timeout" 2>&1)
rc=$?
if [ $rc -eq 0 ]; then
	case $out in
	*"status: NOERROR"* | "") exit 0 ;;
	esac
fi
msg=$(printf '%s' "$out" | tr '\n' ' ' | cut -c1-300)
case $out in
*REFUSED* | *NOTAUTH* | *NOTZONE* | *"tsig verify failure"* | *BADKEY* | *BADSIG*)
	die 1 "$server:$port refused the update of $record: $msg" ;;
esac
die 2 "update of $record at $server:$port failed (nsupdate exit $rc): $msg"
