#!/usr/bin/env python3
"""How detection quality depends on the scale objects reach the model at: recall and precision at IoU 0.5 on
labelled frames (tests/data/labels) for whole-frame passes at several input sizes and for square crops of the
frame of side S resized to the model input M (what regions mode infers), tiling the whole frame so every
object is in some crop. Boxes from overlapping crops are merged (NMS 0.5). Prints a table; used to choose the
region side and full-frame size (docs/design/regions.md).

Usage: size_sweep.py --model var/models/yolov3-tiny-coco-dynamic.onnx --labels tests/data/labels/vtest.json
"""

import argparse
import json
import time

import cv2
import numpy as np
import onnxruntime as ort

from prelabel import VEHICLES, iou, letterbox, tiles

CONF = 0.25


def detect(session, names, bgr, size, ox=0, oy=0):
    chw, scale, (left, top) = letterbox(bgr, size)
    out = session.run(None, {"images": chw[None]})[0][0]
    scores = out[4:]
    cls, best = scores.argmax(0), scores.max(0)
    keep = best >= CONF
    boxes = []
    for (cx, cy, w, h), s, c in zip(out[:4, keep].T, best[keep], cls[keep]):
        name = names[c]
        label = "person" if name == "person" else "vehicle" if name in VEHICLES else None
        if label:
            boxes.append([float((cx - w / 2 - left) / scale + ox), float((cy - h / 2 - top) / scale + oy),
                          float((cx + w / 2 - left) / scale + ox), float((cy + h / 2 - top) / scale + oy),
                          float(s), label])
    return boxes


def nms(boxes, thr=0.45):
    out = []
    for b in sorted(boxes, key=lambda b: -b[4]):
        if all(o[5] != b[5] or iou(o, b) < thr for o in out):
            out.append(b)
    return out


def score(frames, dets, min_h, min_score):
    tp = fp = fn = 0
    for f, d in zip(frames, dets):
        for cls in ("person", "vehicle"):
            truth = [(o["box"], o.get("ignore", False) or o["box"][3] - o["box"][1] < min_h)
                     for o in f["objects"] if o["class"] == cls]
            pred = [b for b in d if b[5] == cls and b[4] >= min_score]
            pairs = sorted(((t[1], -iou(t[0], p), ti, pi) for ti, t in enumerate(truth) for pi, p in enumerate(pred)
                            if iou(t[0], p) >= 0.5))
            tu, pu = set(), set()
            for ign, _, ti, pi in pairs:
                if ti in tu or pi in pu:
                    continue
                tu.add(ti)
                pu.add(pi)
                tp += not ign
            fn += sum(1 for ti, t in enumerate(truth) if not t[1] and ti not in tu)
            fp += sum(1 for pi, p in enumerate(pred) if pi not in pu and p[3] - p[1] >= min_h)
    return tp / max(1, tp + fn), tp / max(1, tp + fp)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--names", default="var/models/coco.names")
    ap.add_argument("--labels", required=True, action="append")
    args = ap.parse_args()
    names = [line.strip() for line in open(args.names, encoding="utf-8") if line.strip()]
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    session = ort.InferenceSession(args.model, opts, providers=["CPUExecutionProvider"])
    sets = []
    for path in args.labels:
        labels = json.load(open(path))
        wanted = {f["frame"]: f for f in labels["frames"]}
        cap, i, images = cv2.VideoCapture(labels["video"]), 0, {}
        while len(images) < len(wanted):
            ok, bgr = cap.read()
            if not ok:
                break
            if i in wanted:
                images[i] = bgr
            i += 1
        sets.append((path, labels, [wanted[k] for k in sorted(images)], [images[k] for k in sorted(images)]))

    configs = [("whole", s, None) for s in (320, 416, 512, 640, 832)]
    configs += [("crops", m, s) for m, s in ((416, 416), (416, 320), (416, 288), (416, 256), (416, 208),
                                             (320, 320), (320, 256), (320, 224), (320, 160))]
    print(f"{'pass':<6} {'model':>5} {'crop':>5} {'zoom':>5} {'inputs/frame':>12} {'ms/frame':>9}  "
          + "  ".join(f"{p.split('/')[-1]:>22}" for p, *_ in sets))
    print(" " * 48 + "  ".join(f"{'recall  precision':>22}" for _ in sets))
    for kind, m, side in configs:
        cells, n_inputs, ms = [], 0, 0.0
        for path, labels, frames, images in sets:
            dets = []
            for bgr in images:
                t0 = time.perf_counter()
                if kind == "whole":
                    d = detect(session, names, bgr, m)
                    n_inputs += 1
                else:
                    d = []
                    for x, y in tiles(bgr.shape[1], bgr.shape[0], side):
                        d += detect(session, names, bgr[y:y + side, x:x + side], m, x, y)
                        n_inputs += 1
                ms += (time.perf_counter() - t0) * 1000
                dets.append(nms(d))
            r, p = score(frames, dets, labels.get("min_height", 0), 0.3)
            cells.append(f"{r:>9.3f} {p:>10.3f}")
        frames_total = sum(len(s[2]) for s in sets)
        zoom = f"{m / side:.2f}" if side else "-"
        print(f"{kind:<6} {m:>5} {side or '-':>5} {zoom:>5} {n_inputs / frames_total:>12.1f} {ms / frames_total:>9.0f}  "
              + "  ".join(f"{c:>22}" for c in cells), flush=True)


if __name__ == "__main__":
    main()
