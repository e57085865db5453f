#!/bin/sh
# CI fuzz run: every fuzz target (one per directory of tests/fuzz/corpus/)
# for FUZZ_SECONDS (default 30) each, with libFuzzer, ASan and UBSan, in a
# clang build directory.
#
#   tests/fuzz/fuzz-ci.sh [BUILD_DIR]
#
# BUILD_DIR (default build-fuzz next to the source tree) is configured with
# `CC=clang --enable-fuzzing` when it has no Makefile yet, then built. All
# targets run even when one fails; a failing target's crash input is kept in
# BUILD_DIR/fuzz-artifacts/ and the reproducer line is printed. Exit 0 when
# every target ran its time without a finding, 1 otherwise.
#
# The run is reproducible: libFuzzer starts from FUZZ_SEED (default 1), so
# a finding in CI can be replayed with the same seed; FUZZ_SEED=0 lets
# libFuzzer pick a random one (for longer runs by hand).
#
# The same from a configured fuzzing build: make fuzz-ci.
set -u

src=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$src/build-fuzz}
seconds=${FUZZ_SECONDS:-30}
jobs=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 2)}
seed=${FUZZ_SEED:-1}

if [ ! -x "$src/configure" ] || [ "$src/configure.ac" -nt "$src/configure" ]; then
	(cd "$src" && ./autogen.sh >/dev/null 2>&1) || {
		echo "fuzz-ci: autogen.sh failed" >&2
		exit 99
	}
fi
mkdir -p "$build" || exit 99
build=$(cd "$build" && pwd)
if [ ! -f "$build/Makefile" ]; then
	(cd "$build" && "$src/configure" -q CC=clang --enable-fuzzing) || {
		echo "fuzz-ci: configure failed" >&2
		exit 99
	}
fi
grep -q '^SAN_FLAGS = .*fuzzer' "$build/Makefile" || {
	echo "fuzz-ci: $build is not a --enable-fuzzing build" >&2
	exit 99
}
make -C "$build" -s -j"$jobs" >"$build/fuzz-ci-make.log" 2>&1 || {
	tail -40 "$build/fuzz-ci-make.log"
	echo "fuzz-ci: build failed" >&2
	exit 99
}

art=$build/fuzz-artifacts
work=$build/fuzz-work
mkdir -p "$art" "$work"
pass=0 failed=0 bad=""
for corpus in "$src"/tests/fuzz/corpus/fuzz_*; do
	t=$(basename "$corpus")
	bin=$build/tests/fuzz/$t
	log=$work/$t.log
	if [ ! -x "$bin" ]; then
		echo "FAIL: $t: no binary $bin (corpus without a target?)"
		failed=$((failed + 1)) bad="$bad $t"
		continue
	fi
	mkdir -p "$work/$t"
	if BRSKI_YANG_DIR=$src/yang \
		ASAN_OPTIONS='detect_leaks=1:abort_on_error=1' \
		UBSAN_OPTIONS='print_stacktrace=1:halt_on_error=1' \
		LSAN_OPTIONS="suppressions=$src/tests/lsan.supp:print_suppressions=0" \
		"$bin" -max_total_time="$seconds" -seed="$seed" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$art/$t-" \
		"$work/$t" "$corpus" >"$log" 2>&1; then
		execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
		echo "PASS: $t (${seconds} s, ${execs:-?} runs)"
		pass=$((pass + 1))
	else
		echo "FAIL: $t"
		grep -E 'ERROR: |SUMMARY: |runtime error|Test unit written' "$log" | head -10
		echo "  reproduce: $bin $art/$t-<crash file> (or in a normal build: tests/fuzz/$t FILE)"
		failed=$((failed + 1)) bad="$bad $t"
	fi
done
[ -n "$bad" ] && echo "fuzz-ci: findings in:$bad (logs in $work)"
echo "$pass passed, $failed failed"
[ "$failed" -eq 0 ]
