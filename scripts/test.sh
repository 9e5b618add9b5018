#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite three times: a normal
# build, then under AddressSanitizer+UBSan and under ThreadSanitizer, each in its own build
# directory. Tests that need a real Kafka broker start and stop it themselves (CTest
# fixtures around scripts/kafka.sh).
#   scripts/test.sh            everything (what CI runs), with scripts/fuzz.sh (30 s per fuzz
#                              target) and a tiny scripts/bench.sh run on the normal build
#   scripts/test.sh --quick    the normal build only
#   scripts/test.sh -- ARGS    extra ctest arguments, e.g. -- -L unit
set -euo pipefail
cd "$(dirname "$0")/.."

variants=(default asan tsan)
ctest_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) variants=(default) ;;
    --) shift; ctest_args=("$@"); break ;;
    *) echo "usage: $0 [--quick] [-- ctest args]" >&2; exit 64 ;;
  esac
  shift
done

bash scripts/install-deps.sh

if [ "${#variants[@]}" -gt 1 ]; then
  # Bounded libFuzzer runs of the decoder and the config parser (clang, build-fuzz/).
  echo "== fuzzing (scripts/fuzz.sh 30)" >&2
  bash scripts/fuzz.sh 30
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/test/tsan.supp}

for variant in "${variants[@]}"; do
  case "$variant" in
    default) dir=build; opts=() ;;
    asan) dir=build-asan; opts=(-DPRICEPIPE_SANITIZE=address) ;;
    tsan) dir=build-tsan; opts=(-DPRICEPIPE_SANITIZE=thread) ;;
  esac
  echo "== $variant build ($dir)" >&2
  bash scripts/build.sh "$dir" "${opts[@]}"
  if [ "$variant" = default ] && [ "${#variants[@]}" -gt 1 ]; then
    # The benchmark script must keep working; a tiny run on this build checks that (its
    # figures mean nothing).
    echo "== benchmark smoke run (scripts/bench.sh --count 2000 --runs 1 --build-dir $dir)" >&2
    bash scripts/bench.sh --count 2000 --runs 1 --build-dir "$dir" >&2
  fi
  echo "== $variant tests" >&2
  ctest --test-dir "$dir" --output-on-failure --timeout 600 "${ctest_args[@]}"
done
