#!/usr/bin/env bash
# Schema-driven fuzzing of the HTTP API against the real server on loopback (Schemathesis, every check: its
# default; `--checks all` on the command line would override the per-operation settings of the config file).
#   scripts/api_fuzz.sh [EXAMPLES]    (default 25 per operation; CI runs this)
# The server runs from target/debug/panoptes (build it first: cargo build) with a temporary store and one
# file camera. WebSocket routes are left out: Schemathesis speaks HTTP only (tests/ws_*.rs cover them).
set -euo pipefail
cd "$(dirname "$0")/.."
examples=${1:-25}
[ -x .venv/bin/st ] || .venv/bin/python -m pip install -q --disable-pip-version-check "schemathesis==4.32.5"
work=$(mktemp -d)
port=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
token=api-fuzz-$RANDOM$RANDOM
cat > "$work/panoptes.toml" <<TOML
[server]
listen = "127.0.0.1:$port"
[model]
path = "var/models/yolov3-tiny-coco.onnx"
[[devices]]
id = "cpu0"
intra_threads = 1
max_batch = 4
[store]
path = "$work/store/panoptes.db"
snapshot_dir = "$work/store/snapshots"
[[cameras]]
id = "gate"
file = "var/media/vtest-h264.mp4"
detect_fps = 1
TOML
PANOPTES_ADMIN_TOKEN=$token target/debug/panoptes run --config "$work/panoptes.toml" >"$work/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 120); do
  curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  kill -0 $server 2>/dev/null || { cat "$work/server.log"; echo "the server did not start" >&2; exit 1; }
  sleep 0.5
done
.venv/bin/st --config-file scripts/schemathesis.toml run "http://127.0.0.1:$port/api/openapi.json" \
  -H "Authorization: Bearer $token" -n "$examples" --exclude-path-regex '^/ws/' \
  --generation-deterministic --no-color
# The server survived it all.
curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null || { tail -50 "$work/server.log"; echo "the server died" >&2; exit 1; }
