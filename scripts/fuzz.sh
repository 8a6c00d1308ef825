#!/usr/bin/env bash
# Fuzz the parsers that take outside bytes (docs/fuzzing.md).
#   scripts/fuzz.sh [--runs N | --seconds S] [--asan] [TARGET...]
# Default: every target for 60 s, without a sanitizer (the code is safe Rust; --asan adds AddressSanitizer).
# Seeds come from the repository's configs and test data and from the demo media (make setup); the corpus
# grows in fuzz/corpus/<target>, crashes land in fuzz/artifacts/<target> and fail the script.
set -euo pipefail
cd "$(dirname "$0")/.."

limit=(-max_total_time=60)
sanitizer=(-s none)
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) limit=(-runs="$2"); shift 2 ;;
    --seconds) limit=(-max_total_time="$2"); shift 2 ;;
    --asan) sanitizer=(); shift ;;
    -h|--help) sed -n 2,6p "$0"; exit 0 ;;
    *) targets+=("$1"); shift ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=(config_toml api_json shapes units nal mp4_reader mot)

if ! rustup toolchain list | grep -q nightly; then
  echo "fuzz: SKIPPED, no nightly toolchain here (cargo-fuzz needs it: rustup toolchain install nightly)" >&2
  exit 0
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz (crates.io)"
  cargo install cargo-fuzz --locked --quiet
fi

# Seeds.
corpus=fuzz/corpus
mkdir -p "$corpus"/{config_toml,api_json,shapes,units,nal,mp4_reader,mot}
cp config/default.toml config/examples/*.toml deploy/panoptes.toml deploy/cluster/*.toml "$corpus/config_toml/"
cat > "$corpus/api_json/camera.json" <<'JSON'
{"id":"gate","url":"rtsp://10.0.0.5:554/stream1","detect_fps":5,"classes":["person","car"],
 "zones":[{"id":"yard","polygon":[[0.1,0.1],[0.9,0.1],[0.9,0.9],[0.1,0.9]]}],
 "lines":[{"id":"door","points":[[0.5,0.0],[0.5,1.0]]}],
 "rules":[{"id":"in","kind":"intrusion","zone":"yard","classes":["person"]},
          {"id":"cross","kind":"line_crossing","line":"door","direction":"any"}]}
JSON
echo '{"id":"lobby","file":"var/media/vtest-h264.mp4","enabled":false,"motion":{"enabled":true}}' > "$corpus/api_json/file.json"
echo '{"polygon":[[0,0],[1,0],[1,1],[0,1]]}' > "$corpus/api_json/zone.json"
echo '{"id":"z","polygon":[[0.2,0.2],[0.8,0.2],[0.5,0.9]]}' > "$corpus/shapes/zone.json"
echo '{"id":"l","points":[[0,0.5],[1,0.5]]}' > "$corpus/shapes/line.json"
head -300 actors/src/tracker/testdata/seq_det.txt > "$corpus/mot/seq_det.txt"
if [ -f var/media/vtest-h264.mp4 ] && command -v ffmpeg >/dev/null; then
  ffmpeg -hide_banner -loglevel error -nostdin -y -i var/media/vtest-h264.mp4 -t 1 -c copy \
    -movflags frag_keyframe+empty_moov+default_base_moof "$corpus/mp4_reader/vtest.mp4"
fi

cargo +nightly fuzz build "${sanitizer[@]}"
status=0
for t in "${targets[@]}"; do
  log=$(mktemp)
  if cargo +nightly fuzz run "${sanitizer[@]}" "$t" "$corpus/$t" -- "${limit[@]}" -rss_limit_mb=2048 >"$log" 2>&1; then
    printf '%-12s ok    %s\n' "$t" "$(grep -E '^Done' "$log" | tail -1)"
  else
    printf '%-12s FAIL  (crash input in fuzz/artifacts/%s)\n' "$t" "$t"
    grep -E 'panicked|ERROR|SUMMARY' -A3 "$log" | head -20
    status=1
  fi
  rm -f "$log"
done
exit $status
