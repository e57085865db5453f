#!/bin/sh
# make bench: a short run of every benchmark and one table of their results
# (benchmark, throughput, p50, p99, ratio, goal). A report: it fails only
# when a benchmark could not run, never on a number.
#
# Environment: BENCH_SECONDS (default 3) the length of each run;
# BENCH_DEVICES (default 100000) the large store, 10000 the small one, on
# SQLite and on a private PostgreSQL cluster (tests/lib/pg.sh);
# BENCH_ACME_N (default 10 here; 50, the script's own default, is the issue's
# comparison) the issuances of tools/bench-acme.sh.
set -u
: "${top_builddir:?}"
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
export top_builddir top_srcdir
s=${BENCH_SECONDS:-3}
devices=${BENCH_DEVICES:-100000}
BENCH_ACME_N=${BENCH_ACME_N:-10}
export BENCH_ACME_N
BRSKI=$top_builddir/tools/brski
tmp=$(mktemp -d "${TMPDIR:-/tmp}/brski-bench-all.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
status=0

run() { # NAME COMMAND...: output in $tmp/NAME.out, shown as it comes
	name=$1
	shift
	echo "== $*"
	"$@" >"$tmp/$name.out" 2>&1 || { status=1; echo "(exit status $?)" >>"$tmp/$name.out"; }
	cat "$tmp/$name.out"
}

for b in crypto voucher masa cloudreg est; do
	run "$b" "$BRSKI" bench "$b" --seconds "$s"
done
run store-sqlite "$BRSKI" bench store --seconds "$s" --devices "$devices" --request
# PostgreSQL: a private cluster with two empty databases, in a subshell (its
# EXIT trap stops the cluster).
(
	. "$top_srcdir/tests/lib/pg.sh"
	pg_start >"$tmp/pg.log" 2>&1 || { cat "$tmp/pg.log"; exit 1; }
	for db in large small; do
		"$PG_BIN/psql" -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -c "CREATE DATABASE $db" postgres ||
			exit 1
	done
	run store-pg "$BRSKI" bench store --seconds "$s" --devices "$devices" --request \
		--database "${PG_URI_BASE}large" --database-small "${PG_URI_BASE}small"
	exit $status
) || status=1
run acme sh "$top_srcdir/tools/bench-acme.sh"

# One row per benchmark, from the lines each prints (see
# docs/PERFORMANCE.md for what they mean).
field() { # FILE SED-EXPRESSION: the first match, or a dash
	v=$(sed -n "$2" "$1" | head -n 1)
	echo "${v:--}"
}
lat() { # FILE PREFIX: "p50|p99" of the first latency line with PREFIX
	l=$(grep "^$2" "$1" | head -n 1)
	p50=$(echo "$l" | sed -n 's/.*p50 \([0-9.]* ms\).*/\1/p')
	p99=$(echo "$l" | sed -n 's/.*p99 \([0-9.]* ms\).*/\1/p')
	echo "${p50:--} | ${p99:--}"
}
ratio() { field "$1" 's/^ratio=//p'; }
echo
echo "| benchmark | throughput | p50 | p99 | ratio | goal |"
echo "|---|---|---|---|---|---|"
o=$tmp/crypto.out
echo "| crypto (limit) | $(field "$o" 's/^masa limit: //p') | - | - | $(ratio "$o") (CMS/raw verify) | - |"
o=$tmp/voucher.out
echo "| voucher | $(field "$o" 's/^voucher sign+verify: *\([0-9]*\/s\).*/\1 sign+verify/p') | - | - | $(ratio "$o") | - |"
o=$tmp/masa.out
echo "| masa | $(field "$o" 's/^masad throughput: //p') | $(lat "$o" 'masad latency at peak') | $(ratio "$o") | >= 0.6 |"
o=$tmp/masa.out
echo "| masa, half load | $(field "$o" 's/^masad latency at half load (\([0-9]*\/s\) paced.*/\1 paced/p') | $(lat "$o" 'masad latency at half load') | - | p99 <= 5 ms |"
o=$tmp/cloudreg.out
echo "| cloudreg | $(field "$o" 's/^cloudregd throughput: //p') | $(lat "$o" 'cloudregd latency') | $(ratio "$o") | >= 0.6 |"
o=$tmp/est.out
echo "| est (cache) | $(field "$o" 's/^est throughput: //p') | $(lat "$o" 'est latency') | $(ratio "$o") | >= 1,000/s |"
for e in sqlite pg; do
	o=$tmp/store-$e.out
	echo "| store $e, store call | $(grep '^lookup, ' "$o" | sed 's/ (.*//' | tr '\n' ';' | sed 's/;$//; s/;/ vs /') | - | - | $(ratio "$o") | <= 1.2 |"
	echo "| store $e, full request | $(grep '^request (' "$o" | sed 's/.*), //; s/ (.*//' | tr '\n' ';' | sed 's/;$//; s/;/ vs /') | - | - | $(field "$o" 's/^request ratio: //p') | <= 1.2 |"
done
o=$tmp/acme.out
echo "| acme vs uacme | $(field "$o" '/^ours/s/.* \([0-9.]*\/s\), \([0-9.]*\) HTTP.*/ours \1, \2 req\/issuance/p'); $(field "$o" '/^uacme/s/.* \([0-9.]*\/s\), \([0-9.]*\) HTTP.*/uacme \1, \2 req\/issuance/p') | - | - | $(ratio "$o") | >= 5 |"
exit $status
