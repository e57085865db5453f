#!/bin/sh
# libvoucher exports only voucher_* symbols (like curl's test1167).
so=${top_builddir:-.}/voucher-lib/.libs/libvoucher.so
[ -f "$so" ] || { echo "check-exports: $so not built"; exit 99; }
bad=$(nm -D --defined-only "$so" | awk '$2 ~ /^[TDBRW]$/ {print $3}' | grep -v '^voucher_' | grep -v '^_' || true)
if [ -n "$bad" ]; then
	echo "check-exports: symbols exported without the voucher_ prefix:"
	echo "$bad"
	exit 1
fi
echo "check-exports: $(nm -D --defined-only "$so" | grep -c ' T voucher_') voucher_* functions, nothing else"
