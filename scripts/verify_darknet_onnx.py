#!/usr/bin/env python3
"""Verify a model made by darknet2onnx.py against an independent reference: OpenCV DNN running the
original Darknet cfg/weights (cv2.dnn.readNetFromDarknet, opencv-python-headless 4.x).

Both get the SAME input tensors (real images letterboxed to the network size, RGB / 255, NCHW); ONNX
Runtime runs them as one batch (exercising the dynamic batch dimension), OpenCV one by one.

OpenCV's YOLO layers give, per head, [rows, 5 + C] with rows in the same order as the converter
(cell-major, then anchor): cx, cy, w, h normalised by the input size, objectness, and class scores
= objectness * class probability, which OpenCV sets to 0 when not above the layer's `thresh`
(default 0.2). The comparison:
  * main run: OpenCV on a copy of the cfg whose [yolo] sections say thresh=0 (a post-processing
    parameter only; no weight or layer changes), so every score is defined. Boxes are compared in
    input pixels (OpenCV's value * input size) with tolerance 1e-3 * input size (0.416 px at 416);
    scores with tolerance 1e-3 (absolute). The objectness column has no counterpart and is not compared.
  * original-cfg run: OpenCV with its default threshold; where it reports a score the two must agree
    within 1e-3, where it reports 0 the ONNX score must not exceed thresh + 1e-3.
Exits non-zero with a message when any difference is over tolerance. Also decodes bus.jpg (first image)
with a simple numpy NMS and prints the top detections as a sanity check: when the first image is
bus.jpg, at least 4 persons and a bus must be found (catches errors the comparison cannot, such as a
wrong class-name order).

Usage: verify_darknet_onnx.py --cfg yolov3-tiny.cfg --weights yolov3-tiny.weights --onnx model.onnx \
           --image bus.jpg --image zidane.jpg --video-frame vtest-h264.mp4:100
"""

import argparse
import ast
import os
import re
import sys
import tempfile

import cv2
import numpy as np
import onnxruntime as ort

REL_TOL = 1e-3  # boxes: 1e-3 of the input size, in pixels
SCORE_TOL = 1e-3  # scores: absolute
OPENCV_DEFAULT_THRESH = 0.2


def fail(msg):
    sys.exit(f"verify_darknet_onnx: FAILED: {msg}")


def letterbox(bgr, size):
    """Resize keeping the aspect ratio, pad with gray 114 to size x size; return (CHW RGB/255, scale, pad)."""
    h, w = bgr.shape[:2]
    scale = min(size / h, size / w)
    nh, nw = round(h * scale), round(w * scale)
    top, left = (size - nh) // 2, (size - nw) // 2
    canvas = np.full((size, size, 3), 114, np.uint8)
    canvas[top:top + nh, left:left + nw] = cv2.resize(bgr, (nw, nh), interpolation=cv2.INTER_LINEAR)
    rgb = canvas[:, :, ::-1].astype(np.float32) / 255.0
    return np.ascontiguousarray(rgb.transpose(2, 0, 1)), scale, (left, top)


def load_inputs(images, video_frames):
    out = []
    for path in images:
        img = cv2.imread(path)
        if img is None:
            fail(f"cannot read image {path}")
        out.append((os.path.basename(path), img))
    for spec in video_frames:
        path, _, idx = spec.rpartition(":")
        if not path or not idx.isdigit():
            fail(f"--video-frame {spec!r}: expected PATH:FRAME_INDEX")
        cap = cv2.VideoCapture(path)
        frame = None
        for _ in range(int(idx) + 1):
            ok, frame = cap.read()
            if not ok:
                fail(f"cannot read frame {idx} of {path}")
        cap.release()
        out.append((f"{os.path.basename(path)}#{idx}", frame))
    return out


def cfg_with_thresh(cfg_path, thresh):
    """A temporary copy of the cfg with thresh=<thresh> in every [yolo] section."""
    text = open(cfg_path, encoding="utf-8").read()
    sections = re.split(r"(?m)^(?=\[)", text)
    patched = []
    for sec in sections:
        if sec.lstrip().startswith("[yolo]"):
            sec = re.sub(r"(?m)^\s*thresh\s*=.*\n?", "", sec)
            sec = sec.replace("[yolo]", f"[yolo]\nthresh={thresh}", 1)
        patched.append(sec)
    fd, path = tempfile.mkstemp(suffix=".cfg")
    with os.fdopen(fd, "w") as f:
        f.write("".join(patched))
    return path


def opencv_forward(cfg, weights, tensor):
    """OpenCV YOLO outputs for one [1,3,H,W] tensor, heads concatenated: [rows, 5 + C]."""
    net = cv2.dnn.readNetFromDarknet(cfg, weights)
    net.setInput(tensor)
    outs = net.forward(net.getUnconnectedOutLayersNames())
    return np.concatenate([o.reshape(-1, o.shape[-1]) for o in outs], axis=0)


def nms(boxes, scores, iou_thr):
    order = scores.argsort()[::-1]
    keep = []
    while order.size:
        i = order[0]
        keep.append(i)
        rest = order[1:]
        x1 = np.maximum(boxes[i, 0], boxes[rest, 0])
        y1 = np.maximum(boxes[i, 1], boxes[rest, 1])
        x2 = np.minimum(boxes[i, 2], boxes[rest, 2])
        y2 = np.minimum(boxes[i, 3], boxes[rest, 3])
        inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
        area = lambda b: (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])  # noqa: E731
        iou = inter / (area(boxes[i]) + area(boxes[rest]) - inter + 1e-9)
        order = rest[iou <= iou_thr]
    return keep


def detections(pred, names, scale, pad, conf=0.25, iou=0.45):
    """pred: [4 + C, A] (one image). Returns [(name, score, (x1, y1, x2, y2) in original pixels)]."""
    boxes_c, scores = pred[:4].T, pred[4:].T
    cls = scores.argmax(1)
    best = scores[np.arange(len(cls)), cls]
    m = best >= conf
    b, s, c = boxes_c[m], best[m], cls[m]
    xyxy = np.stack([b[:, 0] - b[:, 2] / 2, b[:, 1] - b[:, 3] / 2, b[:, 0] + b[:, 2] / 2, b[:, 1] + b[:, 3] / 2], 1)
    xyxy = (xyxy - np.array([pad[0], pad[1], pad[0], pad[1]])) / scale
    out = []
    for k in np.unique(c):
        idx = np.where(c == k)[0]
        for j in nms(xyxy[idx], s[idx], iou):
            out.append((names[int(k)], float(s[idx][j]), tuple(float(v) for v in xyxy[idx][j])))
    return sorted(out, key=lambda d: -d[1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cfg", required=True)
    ap.add_argument("--weights", required=True)
    ap.add_argument("--onnx", required=True)
    ap.add_argument("--image", action="append", default=[], help="image file (repeatable)")
    ap.add_argument("--video-frame", action="append", default=[], metavar="PATH:INDEX",
                    help="a frame of a video (repeatable)")
    args = ap.parse_args()
    if not args.image and not args.video_frame:
        fail("give at least one --image or --video-frame")

    sess = ort.InferenceSession(args.onnx, providers=["CPUExecutionProvider"])
    inp, out = sess.get_inputs()[0], sess.get_outputs()[0]
    meta = sess.get_modelmeta().custom_metadata_map
    names = ast.literal_eval(meta.get("names", "{}"))
    imgsz = ast.literal_eval(meta.get("imgsz", "[]"))
    if inp.name != "images" or out.name != "output0":
        fail(f"tensor names are {inp.name}/{out.name}, expected images/output0")
    if meta.get("task") != "detect" or len(imgsz) != 2 or imgsz[0] != imgsz[1]:
        fail(f"metadata task={meta.get('task')!r} imgsz={imgsz!r}: expected detect and a square size")
    size = imgsz[0]
    n_cls = len(names)
    if sorted(names) != list(range(n_cls)):
        fail(f"metadata names keys are not 0..{n_cls - 1}")

    samples = load_inputs(args.image, args.video_frame)
    prepared = [letterbox(img, size) for _, img in samples]
    batch = np.stack([p[0] for p in prepared])
    pred = sess.run(None, {"images": batch})[0]  # [N, 4 + C, A]
    if pred.shape[:2] != (len(samples), 4 + n_cls):
        fail(f"output0 shape {pred.shape}, expected [{len(samples)}, {4 + n_cls}, A]")

    cfg0 = cfg_with_thresh(args.cfg, 0)
    failures = []
    overall_box, overall_score = 0.0, 0.0
    box_tol = REL_TOL * size
    try:
        print(f"verify_darknet_onnx: ONNX Runtime {ort.__version__} vs OpenCV DNN {cv2.__version__}, "
              f"{len(samples)} inputs at {size}x{size}; tolerances: boxes {box_tol:.3f} px, scores {SCORE_TOL}")
        for i, (label, _img) in enumerate(samples):
            ours = pred[i].T  # [A, 4 + C]
            ref = opencv_forward(cfg0, args.weights, batch[i:i + 1])
            if ref.shape != (ours.shape[0], 5 + n_cls):
                fail(f"{label}: OpenCV gives {ref.shape}, ONNX {ours.shape}: different anchor count or classes")
            box_diff = np.abs(ours[:, :4] - ref[:, :4] * size).max()
            score_diff = np.abs(ours[:, 4:] - ref[:, 5:]).max()

            # Original cfg: OpenCV zeroes scores not above its threshold.
            ref_t = opencv_forward(args.cfg, args.weights, batch[i:i + 1])[:, 5:]
            kept = ref_t > 0
            kept_diff = np.abs(ours[:, 4:][kept] - ref_t[kept]).max() if kept.any() else 0.0
            zeroed_max = ours[:, 4:][~kept].max() if (~kept).any() else 0.0

            overall_box, overall_score = max(overall_box, box_diff), max(overall_score, score_diff, kept_diff)
            print(f"  {label:22s} max |box diff| {box_diff:.6f} px   max |score diff| {score_diff:.2e}   "
                  f"default-thresh run: {int(kept.sum())} scores kept (max diff {kept_diff:.2e}), "
                  f"largest ONNX score where OpenCV zeroed {zeroed_max:.4f}")
            if box_diff > box_tol:
                failures.append(f"{label}: box difference {box_diff:.4f} px > {box_tol:.3f} px")
            if score_diff > SCORE_TOL:
                failures.append(f"{label}: score difference {score_diff:.2e} > {SCORE_TOL}")
            if kept_diff > SCORE_TOL:
                failures.append(f"{label}: score difference {kept_diff:.2e} > {SCORE_TOL} (default-threshold run)")
            if zeroed_max > OPENCV_DEFAULT_THRESH + SCORE_TOL:
                failures.append(f"{label}: ONNX score {zeroed_max:.4f} where OpenCV's thresholded output is 0")
    finally:
        os.unlink(cfg0)

    print(f"verify_darknet_onnx: overall max |box diff| {overall_box:.6f} px "
          f"({overall_box / size:.2e} of the input size), max |score diff| {overall_score:.2e}")

    dets = detections(pred[0], names, prepared[0][1], prepared[0][2])
    print(f"  {samples[0][0]}: {len(dets)} detections (conf >= 0.25, NMS IoU 0.45):")
    for name, score, (x1, y1, x2, y2) in dets[:10]:
        print(f"    {name:12s} {score:.3f}  [{x1:6.1f} {y1:6.1f} {x2:6.1f} {y2:6.1f}]")

    if samples[0][0] == "bus.jpg":
        found = [d[0] for d in dets]
        if found.count("person") < 4 or "bus" not in found:
            failures.append(f"bus.jpg: expected at least 4 persons and a bus, found {found}")

    if failures:
        fail("; ".join(failures))
    print("verify_darknet_onnx: OK")


if __name__ == "__main__":
    main()
