#!/usr/bin/env bash
# Fuzzes codeless for a bounded time: every target of fuzz/ (cargo fuzz, libFuzzer) for SECONDS
# seconds each, one after another, then prints executions and findings per target.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]      (default: 60 s, every target)
#
# Not part of CI. Needs cargo-fuzz (`cargo install cargo-fuzz`) and a nightly compiler (libFuzzer
# and the sanitizer flags need one); with only a stable compiler it falls back to
# RUSTC_BOOTSTRAP=1. Corpora are seeded from playbooks/ and tests/corpus/ and kept in
# fuzz/corpus/TARGET (git-ignored) so later runs start where earlier ones stopped. Findings land
# in fuzz/artifacts/TARGET/ (crash-*, timeout-*, oom-*); replay one with
#   cargo +nightly fuzz run TARGET fuzz/artifacts/TARGET/crash-...
# and turn it into a test in tests/fuzz_regressions.rs.
#
# Targets are built in release mode with debug assertions and overflow checks on (as `cargo
# test` builds), so an arithmetic overflow is a finding too.
#
# Environment: FUZZ_TARGET_DIR (build directory, default fuzz/target), FUZZ_JOBS (libFuzzer fork
# jobs per target, default 1), FUZZ_SANITIZER (address|none, default none: the code is safe
# Rust, and without ASan a run makes several times more executions).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
SECONDS_PER=${1:-60}
shift || true
ALL=(load_playbook load_integration load_connections load_test template text_template jsonpath validate http_response mask engine)
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=("${ALL[@]}")
TARGET_DIR=${FUZZ_TARGET_DIR:-$ROOT/fuzz/target}
JOBS=${FUZZ_JOBS:-1}
SAN=${FUZZ_SANITIZER:-none}

command -v cargo-fuzz >/dev/null || { echo "fuzz: cargo-fuzz is missing: cargo install cargo-fuzz" >&2; exit 2; }
if rustup run nightly rustc --version >/dev/null 2>&1; then
  FUZZ=(cargo +nightly fuzz)
else
  echo "fuzz: no nightly toolchain; using the stable one with RUSTC_BOOTSTRAP=1" >&2
  export RUSTC_BOOTSTRAP=1
  FUZZ=(cargo fuzz)
fi

echo "fuzz: building the targets (sanitizer: $SAN)" >&2
"${FUZZ[@]}" build -a -s "$SAN" --target-dir "$TARGET_DIR"
BIN_DIR=$TARGET_DIR/x86_64-unknown-linux-gnu/release

# ---- seed corpora --------------------------------------------------------------------------
seed() { # seed TARGET FILE...: copies files into the target's corpus (named by content hash)
  local dir=fuzz/corpus/$1; shift
  mkdir -p "$dir"
  for f in "$@"; do
    [ -f "$f" ] || continue
    cp "$f" "$dir/seed-$(sha1sum "$f" | cut -c1-16)"
  done
}
seed_lines() { # seed_lines TARGET PATTERN: each matching line's value (after `key:`) as a seed
  local dir=fuzz/corpus/$1 pattern=$2
  mkdir -p "$dir"
  grep -rhoE "$pattern" playbooks tests/corpus tests/conformance 2>/dev/null | sort -u | head -2000 |
    while IFS= read -r line; do
      local h
      h=$(printf '%s' "$line" | sha1sum | cut -c1-16)
      printf '%s' "$line" >"$dir/seed-$h"
    done
}
mapfile -t YAMLS < <(find playbooks tests/corpus tests/conformance tests/fixtures -name '*.yaml' -o -name '*.yml' | sort)
by_kind() { grep -l "^kind: *$1" "${YAMLS[@]}" 2>/dev/null || true; }
mapfile -t PLAYBOOKS < <(by_kind playbook)
mapfile -t INTEGRATIONS < <(by_kind integration)
mapfile -t CONNECTIONS < <(by_kind connections)
mapfile -t TESTS < <(by_kind test)
seed load_playbook "${PLAYBOOKS[@]}"
seed load_integration "${INTEGRATIONS[@]}"
seed load_connections "${CONNECTIONS[@]}"
seed load_test "${TESTS[@]}" "${PLAYBOOKS[@]:0:5}"
seed validate "${YAMLS[@]}"
# Templates: every value that holds `<<...>>` or `{{...}}`.
seed_lines template '[^ :][^:]*<<[^\n]*|\{\{connector[^\n]*'
seed_lines text_template '\{\{[^\n]*'
for t in template text_template; do
  printf '%s' 'a <<incident.title>> b \<<not>> {{connector.apikey}} <<tasks.scan.rawData.data[?@.s > 6].id>>' >fuzz/corpus/$t/seed-manual-1
done
printf '\001%s' '<p>{{#each tasks.scan.rawData.data}}{{this.id}}, {{/each}}{{json incident}} {{first (split "a,b" ",")}} {{#if (contains_key incident "score")}}y{{/if}} {{#each (jsonpath incident "$.ips[*]")}}{{this}}{{/each}} <<incident.title>></p>' >fuzz/corpus/text_template/seed-manual-2
# JSONPath: key-field paths from the integrations (first line), then a document.
mkdir -p fuzz/corpus/jsonpath
grep -rhoE '\$[.\[][^ ,}"]*' playbooks tests/corpus 2>/dev/null | sort -u | head -500 | while IFS= read -r p; do
  printf '%s\n{"data":[{"id":1,"s":5,"tags":["a"]},{"id":2,"s":9}],"error":{"message":"m"}}' "$p" \
    >"fuzz/corpus/jsonpath/seed-$(printf '%s' "$p" | sha1sum | cut -c1-16)"
done

# HTTP responses: the seeds of tests/fuzz_seeds/http_response (the harness's framing: see
# fuzz/src/harness.rs, `http_exchange`).
seed http_response tests/fuzz_seeds/http_response/*
# Masking: secrets (one per line), a 0 byte, placements of 3 bytes (encoding, position,
# variant), a 0xFF byte, the text around them (fuzz/src/harness.rs, `mask`). One seed per encoding.
mkdir -p fuzz/corpus/mask
for how in $(seq 0 17); do
  printf "Tok=Leak/Chk+7d&e'9 <5a>\nsk-\303\251t\303\251-\342\230\203-key\000\\$(printf %03o "$how")\200\003\377%s" \
    'text around it: %41 &amp; \u0041 YWJj, then more text' >"fuzz/corpus/mask/seed-manual-$how"
done
# Engine: the target reads its choices (commands, inputs, edges, the incident) from the bytes;
# any bytes do. The examples' files and some random bytes start it off.
mkdir -p fuzz/corpus/engine
seed engine "${PLAYBOOKS[@]}"
for i in $(seq 1 32); do
  head -c $((64 + i * 16)) /dev/urandom >"fuzz/corpus/engine/seed-random-$i"
done

# ---- run -----------------------------------------------------------------------------------
declare -A EXECS FINDINGS STATUS
total_execs=0
total_findings=0
for t in "${TARGETS[@]}"; do
  mkdir -p "fuzz/artifacts/$t" "fuzz/corpus/$t"
  find "fuzz/artifacts/$t" -type f | sort >"fuzz/artifacts/$t.before"
  log=fuzz/artifacts/$t.log
  echo "fuzz: $t for ${SECONDS_PER}s" >&2
  # -fork with -ignore_*: keep fuzzing after a finding, saving every one.
  set +e
  "$BIN_DIR/$t" "fuzz/corpus/$t" \
    -fork="$JOBS" -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
    -max_total_time="$SECONDS_PER" -timeout=10 -rss_limit_mb=2048 -max_len=16384 \
    -artifact_prefix="fuzz/artifacts/$t/" -print_final_stats=1 >"$log" 2>&1
  rc=$?
  set -e
  # Fork mode reports `#RUNS: cov: ... exec/s: ... oom/timeout/crash: O/T/C ...` lines.
  line=$(grep -aE '^#[0-9]+: cov:' "$log" | tail -1 || true)
  execs=$(printf '%s' "$line" | sed -nE 's/^#([0-9]+):.*/\1/p')
  execs=${execs:-0}
  find "fuzz/artifacts/$t" -type f | sort | comm -13 "fuzz/artifacts/$t.before" - >"fuzz/artifacts/$t.new"
  found=$(wc -l <"fuzz/artifacts/$t.new")
  EXECS[$t]=$execs
  FINDINGS[$t]=$found
  STATUS[$t]=$rc
  total_execs=$((total_execs + execs))
  total_findings=$((total_findings + found))
done

printf '\n%-18s %14s %9s  %s\n' target executions findings "(log: fuzz/artifacts/TARGET.log)"
for t in "${TARGETS[@]}"; do
  printf '%-18s %14s %9s\n' "$t" "${EXECS[$t]}" "${FINDINGS[$t]}"
done
printf '%-18s %14s %9s\n' total "$total_execs" "$total_findings"
if [ "$total_findings" -gt 0 ]; then
  echo "findings:" >&2
  for t in "${TARGETS[@]}"; do sed 's/^/  /' "fuzz/artifacts/$t.new" >&2; done
  exit 1
fi
