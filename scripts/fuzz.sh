#!/usr/bin/env bash
# Fuzzes the event decoder and the config parser with libFuzzer (Debian's clang, ASan+UBSan),
# each for a bounded time, starting from the seed corpus and the saved crash inputs in
# test/fuzz/. New corpus entries go to a temporary directory, never into the repository.
#   scripts/fuzz.sh [SECONDS_PER_TARGET]     default 60; scripts/test.sh runs it with 60
# On a crash, leak, timeout or out-of-memory: the input is copied to
# test/fuzz/regressions/TARGET/ (unless $CI is set), the reproducer command is printed and the
# script exits 1. The fuzz_replay_* CTest tests then run that input in every build.
# Environment: FUZZ_BUILD_DIR (default build-fuzz), FUZZ_ARGS (extra libFuzzer flags).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
case "$seconds" in
  '' | *[!0-9]* | 0) echo "usage: $0 [SECONDS_PER_TARGET]" >&2; exit 64 ;;
esac
build_dir=${FUZZ_BUILD_DIR:-build-fuzz}

bash scripts/install-deps.sh
# libFuzzer needs clang; the compiler is fixed by the first configure of the build directory.
# Only the two fuzz targets are built: nothing else is fuzzed.
CC=clang CXX=clang++ PRICEPIPE_BUILD_TARGETS="decode_fuzz config_fuzz" \
  bash scripts/build.sh "$build_dir" -DPRICEPIPE_FUZZ=ON -DPRICEPIPE_BUILD_TESTS=OFF

work=$(mktemp -d "${TMPDIR:-/tmp}/pricepipe-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT

# decode: the decoder rejects messages over 64 KiB before parsing, so inputs a little past
# that limit reach both sides of it. config: a config file is small.
declare -A max_len=([decode]=70000 [config]=8192)

failed=0
for target in decode config; do
  corpus=$work/$target-corpus
  artifacts=$work/$target-artifacts
  log=$work/$target.log
  mkdir -p "$corpus" "$artifacts"
  find "test/fuzz/corpus/$target" "test/fuzz/regressions/$target" -type f ! -name '.*' \
    -exec cp -t "$corpus" {} +
  echo "== fuzzing $target for ${seconds}s (log: $log while it runs)" >&2
  status=0
  # A hard bound in case libFuzzer itself hangs past -max_total_time.
  timeout --kill-after=30 "$((seconds * 2 + 120))" \
    "$build_dir/${target}_fuzz" "$corpus" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len="${max_len[$target]}" \
    -dict="test/fuzz/$target.dict" -artifact_prefix="$artifacts/" -print_final_stats=1 \
    ${FUZZ_ARGS:-} >"$log" 2>&1 || status=$?
  grep -E '^#[0-9]+[[:space:]]+DONE|^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' \
    "$log" >&2 || true
  # slow-unit-* files are only reports; everything else libFuzzer writes is a failure.
  mapfile -t found < <(find "$artifacts" -type f ! -name 'slow-unit-*' | sort)
  if [ "$status" -eq 0 ] && [ "${#found[@]}" -eq 0 ]; then
    echo "== $target: no failure" >&2
    continue
  fi
  failed=1
  echo "== $target: FAILED (libFuzzer exit $status); end of its log:" >&2
  grep -vE '^#[0-9]+[[:space:]]+(NEW|REDUCE|pulse|RELOAD)|^[[:space:]]+NEW_FUNC' "$log" | tail -n 60 >&2
  for input in "${found[@]}"; do
    saved=test/fuzz/regressions/$target/$(basename "$input")
    if [ -n "${CI:-}" ]; then
      # CI never writes into the checkout: print the input to recreate it from the log.
      echo "== reproduce: echo $(base64 -w0 "$input") | base64 -d >$saved && $build_dir/${target}_fuzz $saved" >&2
    else
      cp "$input" "$saved"
      echo "== saved $saved; ctest -R fuzz_replay_$target now runs it in every build" >&2
      echo "== reproduce: $build_dir/${target}_fuzz $saved" >&2
    fi
  done
  if [ "${#found[@]}" -eq 0 ]; then
    echo "== no input was saved; reproduce with: $build_dir/${target}_fuzz -max_total_time=$seconds test/fuzz/corpus/$target" >&2
  fi
done
exit "$failed"
