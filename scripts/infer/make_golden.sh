#!/usr/bin/env bash
# Regenerate the golden detection fixtures (actors/src/infer/testdata/golden_*.json) that the
# `golden_*` tests in src/cli/detect.rs compare against.
#
# For each model: `panoptes detect --dump-input` writes the exact input tensor it builds from
# var/images/bus.jpg; scripts/infer/reference_detect.py runs that tensor (and its own OpenCV letterbox)
# through Python onnxruntime with a numpy decode + NMS. Needs `scripts/setup.sh` to have run (var/, .venv).
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --bin panoptes
BIN="${CARGO_TARGET_DIR:-target}/debug/panoptes"
PY=.venv/bin/python
IMAGE=var/images/bus.jpg
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

golden() { # name model imgsz
  "$BIN" detect --model "$2" --imgsz "$3" --dump-input "$tmp/$1.f32" "$IMAGE" >/dev/null
  "$PY" scripts/infer/reference_detect.py --model "$2" --image "$IMAGE" --imgsz "$3" \
    --tensor "$tmp/$1.f32" --out "actors/src/infer/testdata/golden_$1.json"
}

golden fall_bus var/models/fall-detection.onnx 640
golden coco_bus var/models/yolov3-tiny-coco.onnx 416
