#!/usr/bin/env python3
"""Count fire/smoke detections on videos without fire (false alarms), per confidence threshold.

Usage (project venv): python scripts/models/fire_false_alarms.py --model var/models/fire-smoke.onnx \
    --video var/media/vtest-h264.mp4 --video var/media/street.mp4 [--every 5]

Every --every-th frame is letterboxed to 640 (as Ultralytics does), run through ONNX Runtime, decoded with
class-aware NMS (IoU 0.45) from 0.25 up, and counted at each threshold 0.25, 0.3, ..., 0.7: detections per
class and frames with at least one detection. Prints a Markdown table and the highest score per class.
"""

import argparse
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

from verify_ultralytics_onnx import letterbox, nms_detections

THRESHOLDS = [0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", type=Path, required=True)
    ap.add_argument("--video", type=Path, action="append", required=True)
    ap.add_argument("--every", type=int, default=5)
    args = ap.parse_args()
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    sess = ort.InferenceSession(str(args.model), opts, providers=["CPUExecutionProvider"])
    names = eval(sess.get_modelmeta().custom_metadata_map["names"])  # a dict literal written by Ultralytics
    print("| video | frames run | threshold | " + " | ".join(f"{n} dets" for n in names.values()) + " | frames with any |")
    print("|---|---|---|" + "---|" * len(names) + "---|")
    for video in args.video:
        cap = cv2.VideoCapture(str(video))
        dets_per_frame = []
        top = {c: 0.0 for c in names}
        i = 0
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            if i % args.every == 0:
                x = letterbox(frame, 640, 640)
                y = sess.run(None, {sess.get_inputs()[0].name: x})[0][0]
                dets = nms_detections(y, conf=THRESHOLDS[0])
                dets_per_frame.append(dets)
                for d in dets:
                    top[d[0]] = max(top[d[0]], d[1])
            i += 1
        for t in THRESHOLDS:
            per_class = [sum(1 for ds in dets_per_frame for d in ds if d[0] == c and d[1] >= t) for c in names]
            frames = sum(1 for ds in dets_per_frame if any(d[1] >= t for d in ds))
            print(f"| {video.name} | {len(dets_per_frame)} | {t:.2f} | " + " | ".join(map(str, per_class)) + f" | {frames} |")
        print(f"<!-- {video.name}: highest scores " + ", ".join(f"{names[c]} {s:.3f}" for c, s in top.items()) + " -->")


if __name__ == "__main__":
    main()
