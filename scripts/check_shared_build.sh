#!/usr/bin/env bash
# After `cargo test --workspace --all-targets`, the build behind `make run` (`cargo build --bin panoptes`)
# must find every unit already built: the two builds resolve the same crate features. A dev-dependency
# that turns on a feature of a shared crate (or a crate feature only the tests enable) splits them, and
# then the first `make run` after `make test` compiles half the dependency tree again. This fails naming
# the units that were rebuilt; the fix is to ask for the same features in [dependencies] (see Cargo.toml).
set -euo pipefail
cd "$(dirname "$0")/.."
CARGO="${CARGO:-cargo}"
rebuilt=$("$CARGO" build --bin panoptes --message-format=json 2>/dev/null |
    python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and not m.get("fresh", True):
        print("   ", m["package_id"], m["target"]["name"])
')
if [[ -n "$rebuilt" ]]; then
    echo "check_shared_build: \`cargo build --bin panoptes\` rebuilt units the test build had already built:" >&2
    echo "$rebuilt" >&2
    echo "  the run and test builds resolve different features; align them in Cargo.toml [dependencies]" >&2
    exit 1
fi
echo "check_shared_build: the run build reuses the test build (nothing rebuilt)"
