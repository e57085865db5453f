#!/bin/sh
# make bench: a short run of every `brski bench` and the table of their
# last lines. A report: it fails only when a benchmark could not run.
# BENCH_SECONDS sets the length of each run (default 3), BENCH_DEVICES the
# size of the large store (default 100000; 10000 is the small one).
set -u
: "${top_builddir:?}"
s=${BENCH_SECONDS:-3}
BRSKI=$top_builddir/tools/brski
tmp=$(mktemp -d "${TMPDIR:-/tmp}/brski-bench-all.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
status=0
for b in crypto voucher masa cloudreg store; do
	set -- --seconds "$s"
	[ "$b" = store ] && set -- "$@" --devices "${BENCH_DEVICES:-100000}"
	echo "== brski bench $b $*"
	"$BRSKI" bench "$b" "$@" >"$tmp/$b.out" 2>&1 || status=1
	cat "$tmp/$b.out"
done
echo
echo "| benchmark | result | ratio |"
echo "|---|---|---|"
for b in crypto voucher masa cloudreg store; do
	case $b in
	crypto) what=$(grep '^masa limit:' "$tmp/$b.out") ;;
	voucher) what=$(grep '^voucher sign+verify:' "$tmp/$b.out") ;;
	masa) what=$(grep '^masad throughput:' "$tmp/$b.out") ;;
	cloudreg) what=$(grep '^cloudregd throughput:' "$tmp/$b.out") ;;
	store) what=$(grep '^lookup, ' "$tmp/$b.out" | head -n 1) ;;
	esac
	echo "| $b | $what | $(tail -n 1 "$tmp/$b.out") |"
done
exit $status
