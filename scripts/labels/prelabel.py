#!/usr/bin/env python3
"""Pre-label frames of a video for `panoptes eval`: a slow, high-quality pass of the demo's own weights.

Each chosen frame is upscaled 2x and cut into overlapping square tiles; every tile and the whole frame are
inferred with the dynamic-size YOLOv3-tiny export (scripts/darknet2onnx.py --dynamic) at the tile size, so
a person 40 px tall in the video is seen 80 px tall. Boxes from all passes are merged per class (NMS at
IoU 0.5, then boxes mostly inside a bigger one of the same class dropped) and written as a labels draft:
the format of tests/data/labels/README.md with every object marked `"source": "prelabel"` and its score.
A PNG per frame with the numbered boxes drawn goes to --review-dir, for the person who corrects the draft
by looking at every frame (delete false boxes, add missed people, mark the unfair ones `ignore`).

Usage: prelabel.py --model var/models/yolov3-tiny-coco-dynamic.onnx --video var/media/vtest-h264.mp4 \
           --frames 20:800:40 --out draft.json --review-dir /tmp/review
"""

import argparse
import json
import os

import sys

import cv2
import numpy as np
import onnxruntime as ort

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from verify_darknet_onnx import letterbox  # noqa: E402  (the same letterbox the converter is verified with)

VEHICLES = {"car", "truck", "bus", "motorbike"}
TILE = 640  # tile side after the 2x upscale, and the model size for tiles
WHOLE = 960  # model size for the whole (upscaled) frame
SCORE = 0.25


def infer(session, names, bgr, size, ox, oy, up):
    """Boxes [x1, y1, x2, y2, score, class] in original-frame pixels for one image at offset (ox, oy)."""
    chw, scale, (left, top) = letterbox(bgr, size)
    out = session.run(None, {"images": chw[None]})[0][0]  # [4 + C, A]
    scores = out[4:]
    cls = scores.argmax(0)
    best = scores.max(0)
    keep = best >= SCORE
    boxes = []
    for (cx, cy, w, h), s, c in zip(out[:4, keep].T, best[keep], cls[keep]):
        name = names[c]
        label = "person" if name == "person" else "vehicle" if name in VEHICLES else None
        if label is None:
            continue
        x1, y1 = (cx - w / 2 - left) / scale, (cy - h / 2 - top) / scale
        x2, y2 = (cx + w / 2 - left) / scale, (cy + h / 2 - top) / scale
        boxes.append([float(v) for v in ((x1 + ox) / up, (y1 + oy) / up, (x2 + ox) / up, (y2 + oy) / up, s)] + [label])
    return boxes


def iou(a, b):
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def inside(small, big):
    iw = max(0.0, min(small[2], big[2]) - max(small[0], big[0]))
    ih = max(0.0, min(small[3], big[3]) - max(small[1], big[1]))
    area = (small[2] - small[0]) * (small[3] - small[1])
    return area > 0 and iw * ih / area


def merge(boxes):
    out = []
    for b in sorted(boxes, key=lambda b: -b[4]):
        if all(o[5] != b[5] or (iou(o, b) < 0.5 and inside(b, o) < 0.8 and inside(o, b) < 0.8) for o in out):
            out.append(b)
    return out


def tiles(w, h, side):
    """Top-left corners of square tiles covering w x h with at least a quarter overlap."""
    def starts(n):
        if n <= side:
            return [0]
        k = int(np.ceil((n - side) / (side * 0.75))) + 1
        return [round(i * (n - side) / (k - 1)) for i in range(k)]
    return [(x, y) for y in starts(h) for x in starts(w)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True, help="the dynamic-size ONNX export")
    ap.add_argument("--names", default="var/models/coco.names")
    ap.add_argument("--video", required=True)
    ap.add_argument("--frames", required=True, help="START:STOP:STEP (decoded frame indices from 0)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--review-dir")
    args = ap.parse_args()

    with open(args.names, encoding="utf-8") as f:
        names = [line.strip() for line in f if line.strip()]
    session = ort.InferenceSession(args.model, providers=["CPUExecutionProvider"])
    start, stop, step = (int(v) for v in args.frames.split(":"))
    wanted = set(range(start, stop, step))
    cap = cv2.VideoCapture(args.video)
    frames, index, size = [], 0, None
    up = 2
    while wanted:
        ok, bgr = cap.read()
        if not ok:
            break
        if index in wanted:
            wanted.discard(index)
            size = bgr.shape[1], bgr.shape[0]
            big = cv2.resize(bgr, (bgr.shape[1] * up, bgr.shape[0] * up), interpolation=cv2.INTER_CUBIC)
            boxes = infer(session, names, big, WHOLE, 0, 0, up)
            for x, y in tiles(big.shape[1], big.shape[0], TILE):
                boxes += infer(session, names, big[y:y + TILE, x:x + TILE], TILE, x, y, up)
            boxes = merge(boxes)
            objects = [{"class": b[5], "box": [round(max(0.0, v), 1) for v in b[:2]]
                        + [round(min(size[0], b[2]), 1), round(min(size[1], b[3]), 1)],
                        "source": "prelabel", "score": round(b[4], 3)} for b in boxes]
            frames.append({"frame": index, "objects": objects})
            if args.review_dir:
                os.makedirs(args.review_dir, exist_ok=True)
                view = bgr.copy()
                for i, o in enumerate(objects):
                    x1, y1, x2, y2 = (int(v) for v in o["box"])
                    colour = (0, 255, 0) if o["class"] == "person" else (255, 128, 0)
                    cv2.rectangle(view, (x1, y1), (x2, y2), colour, 1)
                    cv2.putText(view, str(i), (x1, max(8, y1 - 2)), cv2.FONT_HERSHEY_PLAIN, 0.8, colour, 1)
                cv2.imwrite(os.path.join(args.review_dir, f"frame{index:05d}.png"), view)
            print(f"frame {index}: {len(objects)} objects", flush=True)
        index += 1
    out = {"video": args.video, "width": size[0], "height": size[1],
           "provenance": f"prelabel.py draft: {os.path.basename(args.model)} at {WHOLE} on the 2x frame and at "
                         f"{TILE} on 2x tiles, score >= {SCORE}; NOT yet corrected by eye",
           "frames": frames}
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
