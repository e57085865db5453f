#!/bin/sh
# Every function the public model header declares with VOUCHER_API is named
# voucher_* (tests/check-exports.sh checks the built .so the same way).
h=${top_srcdir:-.}/voucher-lib/include/voucher/voucher.h
[ -f "$h" ] || { echo "check-header-prefix: $h not found"; exit 99; }
# Join declarations onto one line each, then take the identifier before "(".
names=$(tr '\n' ' ' <"$h" | tr ';' '\n' | grep 'VOUCHER_API' |
	sed -n 's/.*[ *]\([A-Za-z_][A-Za-z0-9_]*\)[ ]*(.*/\1/p')
[ -n "$names" ] || { echo "check-header-prefix: no VOUCHER_API declarations in $h"; exit 99; }
bad=$(echo "$names" | grep -v '^voucher_' || true)
if [ -n "$bad" ]; then
	echo "check-header-prefix: exported without the voucher_ prefix:"
	echo "$bad"
	exit 1
fi
# Every function declared in the header carries VOUCHER_API.
missing=$(tr '\n' ' ' <"$h" | tr ';' '\n' | grep -E '^[[:space:]]*(voucher_err|void|bool|size_t|const char|enum voucher_[a-z_]+) \**voucher_[a-z0-9_]+\(' || true)
if [ -n "$missing" ]; then
	echo "check-header-prefix: declarations without VOUCHER_API:"
	echo "$missing"
	exit 1
fi
echo "check-header-prefix: $(echo "$names" | wc -l) voucher_* functions declared"
