#!/usr/bin/env bash
# Conformance against real third-party servers: starts ../shared/oracles (httpbin, Prism with
# OpenAI's spec), runs the conformance tests through the codeless binary, and stops the servers.
set -euo pipefail
cd "$(dirname "$0")/.."
ORACLES=${ORACLES:-$(cd .. && pwd)/shared/oracles/oracles.sh}
[ -f "$ORACLES" ] || { echo "conformance: $ORACLES not found" >&2; exit 1; }

started=0
if ! (exec 3<>/dev/tcp/127.0.0.1/${HTTPBIN_PORT:-18080}) 2>/dev/null; then
  bash "$ORACLES" start
  started=1
fi
stop() { if [ "$started" = 1 ]; then bash "$ORACLES" stop || true; fi; }
trap stop EXIT

# Secrets the connections read from the environment (the tests also scan every output for them).
export CODELESS_CONFORMANCE_TOKEN=tok-conformance-5150
export CODELESS_CONFORMANCE_PASSWORD=pw-conformance-8080
export CODELESS_CONFORMANCE_OPENAI_KEY=sk-conformance-openai-4242
export CODELESS_CONFORMANCE_EMPTY=
cargo test --locked --test conformance -- --ignored --test-threads 2
