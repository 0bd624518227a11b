#!/usr/bin/env bash
# Measures codeless against what users would otherwise pick, in one run on this machine, and
# prints a table with ratios (see bench/README.md):
#   (a) one short template rendered 100,000 times: codeless `<<...>>` vs Jinja2
#   (b) `$.data[*].id` from a 1 MB JSON, 100 times: codeless key fields vs jsonpath-ng
#   (c) whole-process `codeless run` of generated N-task chains, N = 10 ... 10,000
#   `codeless validate` of 1,000 generated 50-task playbooks
#   HTTP: 1,000 `SendRequest` calls to a loopback server vs wrk on the same endpoint, and
#         vs the HTTP client libraries alone (examples/bench_client.rs)
#   memory: peak RSS of 10,000 concurrent runs of a 20-task playbook in one process
#
# Usage: bench/compare.sh            (RUNS=5 by default: every figure is a median of RUNS runs)
#        RUNS=9 bench/compare.sh
#        bench/compare.sh --out FILE (also writes the table and raw samples as JSON)
# Jinja2 and jsonpath-ng come from PyPI into a temporary venv; wrk is installed with apt-get if
# missing (as root). Generated inputs live in a temporary directory removed at exit.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUNS="${RUNS:-5}"
# The HTTP batch also runs against httpbin (a server that does real work per request, as APIs
# do), started from the venv; HTTPBIN=http://127.0.0.1:18080 uses one already running instead
# (../shared/oracles/oracles.sh start).
OUT=""
if [[ "${1:-}" == "--out" ]]; then OUT="$(realpath -m "${2:?--out FILE}")"; fi

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
REL="$CARGO_TARGET_DIR/release"

echo "building codeless and the benchmark helpers (release) ..." >&2
# CARGO_ARGS: extra cargo build arguments, e.g. CARGO_ARGS=--no-default-features for glibc's malloc.
# shellcheck disable=SC2086
(cd "$ROOT" && cargo build --release --quiet ${CARGO_ARGS:-} --bin codeless --example bench_driver --example bench_server --example bench_client)

if ! command -v wrk >/dev/null; then
    echo "installing wrk (Debian package) ..." >&2
    if [[ "$(id -u)" == 0 ]]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
    else
        sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
    fi
fi

TMP="$(mktemp -d -t codeless-bench.XXXXXX)"
SERVER_PID=""
HTTPBIN_PID=""
cleanup() {
    if [[ -n "$SERVER_PID" ]]; then kill "$SERVER_PID" 2>/dev/null || true; fi
    if [[ -n "$HTTPBIN_PID" ]]; then kill "$HTTPBIN_PID" 2>/dev/null || true; fi
    rm -rf "$TMP"
}
trap cleanup EXIT

echo "creating a venv with Jinja2, jsonpath-ng and httpbin ..." >&2
python3 -m venv "$TMP/venv"
# httpbin and gunicorn at the versions ../shared/oracles runs (the HTTP batch against a server
# that works per request, beside the fast loopback server); unless HTTPBIN names one running.
"$TMP/venv/bin/pip" install --quiet --disable-pip-version-check jinja2 jsonpath-ng
if [[ -z "${HTTPBIN:-}" ]]; then
    "$TMP/venv/bin/pip" install --quiet --disable-pip-version-check 'httpbin==0.10.4' 'gunicorn==27.0.1'
    HB_PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    # As oracles.sh starts it: one gthread worker with 16 threads.
    (cd "$TMP" && exec "$TMP/venv/bin/gunicorn" --no-control-socket -b "127.0.0.1:$HB_PORT" \
        -k gthread -w 1 --threads 16 httpbin:app >"$TMP/httpbin.log" 2>&1) &
    HTTPBIN_PID=$!
    for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$HB_PORT") 2>/dev/null && break; sleep 0.2; done
    (exec 3<>"/dev/tcp/127.0.0.1/$HB_PORT") 2>/dev/null || { echo "httpbin did not start:" >&2; cat "$TMP/httpbin.log" >&2; exit 1; }
    HTTPBIN="http://127.0.0.1:$HB_PORT"
fi

# The loopback server stops by itself after 15 minutes even if this script is killed.
"$REL/examples/bench_server" 0 900 >"$TMP/port" &
SERVER_PID=$!
for _ in $(seq 50); do [[ -s "$TMP/port" ]] && break; sleep 0.1; done
PORT="$(head -n1 "$TMP/port")"
[[ -n "$PORT" ]] || { echo "the loopback server did not start" >&2; exit 1; }

"$REL/examples/bench_driver" gen "$TMP/data" "$PORT" >/dev/null

{
    echo "machine: $(nproc) cores, $(free -h | awk '/^Mem:/ {print $2}') memory, $(lscpu | sed -n 's/^Model name: *//p' | head -n1)"
    echo "codeless $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?'), $(date -u +%Y-%m-%d), medians of $RUNS runs"
}

"$TMP/venv/bin/python" "$ROOT/bench/compare.py" \
    --codeless "$REL/codeless" \
    --driver "$REL/examples/bench_driver" \
    --client "$REL/examples/bench_client" \
    --data "$TMP/data" \
    --port "$PORT" \
    --runs "$RUNS" \
    --httpbin "$HTTPBIN" \
    ${OUT:+--out "$OUT"}
