#!/usr/bin/env python3
"""Reference detections for the golden tests of `panoptes detect` / OnnxDetector.

Independent of the Rust code: Python onnxruntime runs the model, and numpy does the Ultralytics decode
(best class per anchor, confidence threshold, class-aware greedy NMS suppressing IoU > iou, max_nms 30000,
max_det 300) and the inverse letterbox. OpenCV's cv2.dnn.NMSBoxesBatched cross-checks the numpy NMS.

Two inputs are run:
  * `--tensor FILE`: the exact model input panoptes built (`panoptes detect --dump-input FILE`, float32
    little-endian 3xHxW). Both sides then see identical pixels, so the Rust test can hold the result to
    tight tolerances (only float summation order differs). Its checksum is recorded so the Rust test can
    tell "the preprocessing changed" apart from "the detector is wrong".
  * the image letterboxed here with OpenCV (INTER_AREA, grey 114 padding) -> `cv2_detections`: an
    end-to-end check of our preprocessing, compared loosely because the resize filters differ.

Usage:
  .venv/bin/python scripts/infer/reference_detect.py --model var/models/fall-detection.onnx \
      --image var/images/bus.jpg --tensor /tmp/bus.f32 --out actors/src/infer/testdata/golden_fall_bus.json
(scripts/infer/make_golden.sh does this for every golden fixture.)
"""
import argparse
import ast
import json
import os
import sys

import cv2
import numpy as np
import onnxruntime as ort

MAX_NMS = 30000
MAX_DET = 300
PAD = 114
# Our resize (image crate, triangle filter) widens its kernel when shrinking, like an area average; OpenCV's
# INTER_AREA is its closest match (INTER_LINEAR samples 2x2 pixels and aliases on a 2.6x shrink).
CV2_INTERP = cv2.INTER_AREA


def round_half_away(x):
    """Rust's f32::round (half away from zero), in float32 like Letterbox::new."""
    x = np.float32(x)
    return int(np.floor(np.abs(x) + np.float32(0.5)) * np.sign(x))


def letterbox_params(src_w, src_h, dst_w, dst_h):
    scale = min(np.float32(dst_w) / np.float32(src_w), np.float32(dst_h) / np.float32(src_h))
    inner_w = min(max(round_half_away(np.float32(src_w) * scale), 1), dst_w)
    inner_h = min(max(round_half_away(np.float32(src_h) * scale), 1), dst_h)
    return {
        "src_w": src_w, "src_h": src_h, "dst_w": dst_w, "dst_h": dst_h,
        "inner_w": inner_w, "inner_h": inner_h,
        "pad_x": (dst_w - inner_w) // 2, "pad_y": (dst_h - inner_h) // 2,
    }


def cv2_input(rgb, lb):
    inner = cv2.resize(rgb, (lb["inner_w"], lb["inner_h"]), interpolation=CV2_INTERP)
    canvas = np.full((lb["dst_h"], lb["dst_w"], 3), PAD, dtype=np.uint8)
    canvas[lb["pad_y"]:lb["pad_y"] + lb["inner_h"], lb["pad_x"]:lb["pad_x"] + lb["inner_w"]] = inner
    return canvas.transpose(2, 0, 1).astype(np.float32) / np.float32(255.0)


def checksum(chw):
    flat = chw.reshape(-1).astype(np.float64)
    idx = np.arange(flat.size)
    step = max(flat.size // 64, 1)
    return {
        "len": int(flat.size),
        "sum": float(flat.sum()),
        "weighted_sum": float((flat * (idx % 97)).sum()),
        "samples": [[int(i), float(flat[i])] for i in range(0, flat.size, step)],
    }


def iou_one_to_many(box, boxes):
    ix = np.clip(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0, None)
    iy = np.clip(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0, None)
    inter = ix * iy
    area = lambda b: np.clip(b[..., 2] - b[..., 0], 0, None) * np.clip(b[..., 3] - b[..., 1], 0, None)
    union = area(box) + area(boxes) - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0)


def decode(raw, classes, conf, iou):
    """raw: one image's output, [4+C, A] (or [A, 4+C]). Returns (boxes xyxy, scores, class ids), in model pixels."""
    if raw.shape[0] != 4 + classes:
        raw = raw.T
    pred = raw.T  # [A, 4+C]
    scores_all = pred[:, 4:]
    cls = scores_all.argmax(axis=1)
    score = scores_all[np.arange(len(cls)), cls]
    keep = score >= np.float32(conf)
    xywh, score, cls = pred[keep, :4], score[keep], cls[keep]
    boxes = np.stack([xywh[:, 0] - xywh[:, 2] / 2, xywh[:, 1] - xywh[:, 3] / 2,
                      xywh[:, 0] + xywh[:, 2] / 2, xywh[:, 1] + xywh[:, 3] / 2], axis=1)
    order = np.argsort(-score, kind="stable")[:MAX_NMS]
    boxes, score, cls = boxes[order], score[order], cls[order]
    kept = []
    suppressed = np.zeros(len(score), dtype=bool)
    for i in range(len(score)):
        if suppressed[i]:
            continue
        kept.append(i)
        if len(kept) == MAX_DET:
            break
        rest = np.arange(i + 1, len(score))
        same = rest[cls[rest] == cls[i]]
        suppressed[same[iou_one_to_many(boxes[i], boxes[same]) > iou]] = True
    kept = np.array(kept, dtype=int)
    # Cross-check with OpenCV's class-aware NMS (it takes x, y, w, h boxes).
    if len(score):
        xywh_boxes = [[float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])] for b in boxes]
        cv_keep = cv2.dnn.NMSBoxesBatched(xywh_boxes, score.tolist(), cls.tolist(), float(conf), float(iou))
        if sorted(np.array(cv_keep).reshape(-1).tolist()) != sorted(kept.tolist()):
            print(f"warning: OpenCV NMS keeps {sorted(np.array(cv_keep).reshape(-1).tolist())}, numpy keeps "
                  f"{sorted(kept.tolist())}", file=sys.stderr)
    return boxes[kept], score[kept], cls[kept]


def to_source(boxes, lb):
    sx = np.float32(lb["inner_w"]) / np.float32(lb["src_w"])
    sy = np.float32(lb["inner_h"]) / np.float32(lb["src_h"])
    out = boxes.copy()
    out[:, [0, 2]] = np.clip((boxes[:, [0, 2]] - lb["pad_x"]) / sx, 0, lb["src_w"])
    out[:, [1, 3]] = np.clip((boxes[:, [1, 3]] - lb["pad_y"]) / sy, 0, lb["src_h"])
    return out


def run(session, chw, classes, args, lb, names):
    feed = chw[None].astype(np.float32)
    batch = session.get_inputs()[0].shape[0]
    if isinstance(batch, int) and batch > 1:
        feed = np.concatenate([feed, np.zeros((batch - 1,) + chw.shape, np.float32)])
    raw = session.run(None, {session.get_inputs()[0].name: feed})[0][0]
    boxes, scores, cls = decode(raw, classes, args.conf, args.iou)
    boxes = to_source(boxes, lb)
    return [
        {"class_id": int(c), "label": names[int(c)], "score": float(s), "box": [float(v) for v in b]}
        for b, s, c in zip(boxes, scores, cls)
    ]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--image", required=True)
    ap.add_argument("--tensor", help="float32 3xHxW input written by `panoptes detect --dump-input`")
    ap.add_argument("--imgsz", type=int, default=640, help="input size for models with a dynamic size")
    ap.add_argument("--conf", type=float, default=0.25)
    ap.add_argument("--iou", type=float, default=0.45)
    ap.add_argument("--out", help="JSON file to write (default: stdout)")
    args = ap.parse_args()

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(args.model, opts, providers=["CPUExecutionProvider"])
    _, _, h, w = session.get_inputs()[0].shape
    h = h if isinstance(h, int) else args.imgsz
    w = w if isinstance(w, int) else args.imgsz
    out_shape = session.get_outputs()[0].shape
    channels = min(d for d in out_shape[1:] if isinstance(d, int))
    classes = channels - 4
    meta = session.get_modelmeta().custom_metadata_map
    names = [v for _, v in sorted(ast.literal_eval(meta["names"]).items())] if "names" in meta else \
        [f"class{i}" for i in range(classes)]
    assert len(names) == classes, f"{len(names)} names for {classes} classes"

    bgr = cv2.imread(args.image, cv2.IMREAD_COLOR)
    if bgr is None:
        sys.exit(f"cannot read image {args.image}")
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    lb = letterbox_params(rgb.shape[1], rgb.shape[0], w, h)

    result = {
        "generated_by": "scripts/infer/reference_detect.py",
        "onnxruntime": ort.__version__,
        "model": os.path.relpath(args.model),
        "image": os.path.relpath(args.image),
        "imgsz": args.imgsz,
        "conf": args.conf,
        "iou": args.iou,
        "letterbox": lb,
        "labels": names,
    }
    if args.tensor:
        chw = np.fromfile(args.tensor, dtype="<f4")
        assert chw.size == 3 * h * w, f"{args.tensor} has {chw.size} floats, expected 3x{h}x{w}"
        chw = chw.reshape(3, h, w)
        # Our letterbox must agree with panoptes': everything outside the inner area is padding.
        inner = np.zeros((h, w), bool)
        inner[lb["pad_y"]:lb["pad_y"] + lb["inner_h"], lb["pad_x"]:lb["pad_x"] + lb["inner_w"]] = True
        assert np.all(chw[:, ~inner] == np.float32(PAD / 255.0)), "panoptes padded a different area"
        result["input_checksum"] = checksum(chw)
        result["detections"] = run(session, chw, classes, args, lb, names)
    result["cv2_detections"] = run(session, cv2_input(rgb, lb), classes, args, lb, names)

    text = json.dumps(result, indent=1) + "\n"
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
        print(f"wrote {args.out}: {len(result.get('detections', []))} detections "
              f"({len(result['cv2_detections'])} with the OpenCV letterbox)")
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
