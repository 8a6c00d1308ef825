#!/usr/bin/env python3
"""Check an exported Ultralytics detect ONNX against the PyTorch model it came from.

Runs in the project venv (.venv: onnxruntime 1.31.1, numpy, opencv). Two sub-commands:

  inputs  --image A.jpg [--image B.png ...] --out inputs.npz
      Letterbox each image as Ultralytics does (cv2 INTER_LINEAR resize, grey 114 padding, RGB / 255) to
      640x640, plus one rectangular input (height a multiple of 32) and one batch of two, so that the dynamic
      batch and height/width axes are exercised.
  check   --onnx M.onnx --inputs inputs.npz --reference reference.npz [--names "{0: 'x'}"]
      Run ONNX Runtime (CPU) on the same tensors and compare with the PyTorch outputs written by
      convert_ultralytics.py: max |difference| of the class scores and of the box coordinates, and the
      detections above 0.25 after NMS must match. Exits non-zero on a mismatch.
"""

import argparse
import ast
import sys
from pathlib import Path

import cv2
import numpy as np

SCORE_TOL = 1e-3  # class scores are in [0, 1]
BOX_TOL = 1e-2  # box coordinates are in input pixels (0..640): 1e-2 px is ~1.5e-5 relative


def letterbox(bgr: np.ndarray, new_h: int, new_w: int) -> np.ndarray:
    h, w = bgr.shape[:2]
    r = min(new_h / h, new_w / w)
    iw, ih = round(w * r), round(h * r)
    resized = cv2.resize(bgr, (iw, ih), interpolation=cv2.INTER_LINEAR) if (iw, ih) != (w, h) else bgr
    dw, dh = (new_w - iw) / 2, (new_h - ih) / 2
    top, bottom = round(dh - 0.1), round(dh + 0.1)
    left, right = round(dw - 0.1), round(dw + 0.1)
    padded = cv2.copyMakeBorder(resized, top, bottom, left, right, cv2.BORDER_CONSTANT, value=(114, 114, 114))
    rgb = padded[:, :, ::-1].transpose(2, 0, 1)
    return np.ascontiguousarray(rgb, dtype=np.float32)[None] / 255.0


def make_inputs(images: list, out: Path) -> None:
    tensors = {}
    frames = []
    for path in images:
        bgr = cv2.imread(str(path))
        if bgr is None:
            sys.exit(f"{path}: not an image OpenCV can read")
        frames.append(bgr)
        tensors[f"{Path(path).stem}_640"] = letterbox(bgr, 640, 640)
    # Rectangular: the first image at 640 wide, height rounded up to a multiple of 32 (Ultralytics' rect mode).
    h, w = frames[0].shape[:2]
    rect_h = int(np.ceil(640 * h / w / 32) * 32) if w >= h else 640
    rect_w = 640 if w >= h else int(np.ceil(640 * w / h / 32) * 32)
    tensors[f"{Path(images[0]).stem}_{rect_w}x{rect_h}"] = letterbox(frames[0], rect_h, rect_w)
    keys = list(tensors)
    if len(keys) >= 2:
        tensors["batch2"] = np.concatenate([tensors[keys[0]], tensors[keys[1]]])
    np.savez(out, **tensors)
    print(f"    {len(tensors)} inputs: " + ", ".join(f"{k} {list(v.shape)}" for k, v in tensors.items()))


def nms_detections(out: np.ndarray, conf: float = 0.25, iou: float = 0.45) -> list:
    """[4+C, A] -> sorted list of (class, score, x1, y1, x2, y2), class-aware greedy NMS."""
    boxes, scores = out[:4].T, out[4:].T
    cls = scores.argmax(1)
    best = scores.max(1)
    keep = best > conf
    boxes, cls, best = boxes[keep], cls[keep], best[keep]
    xyxy = np.concatenate([boxes[:, :2] - boxes[:, 2:] / 2, boxes[:, :2] + boxes[:, 2:] / 2], 1)
    order = best.argsort()[::-1]
    kept = []
    for i in order:
        ok = True
        for j in kept:
            if cls[i] != cls[j]:
                continue
            a, b = xyxy[i], xyxy[j]
            iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
            ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
            inter = iw * ih
            union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
            if union > 0 and inter / union > iou:
                ok = False
                break
        if ok:
            kept.append(i)
    return [(int(cls[i]), float(best[i]), *map(float, xyxy[i])) for i in kept]


def check(onnx_path: Path, inputs: Path, reference: Path, names: str | None) -> None:
    import onnx
    import onnxruntime as ort

    m = onnx.load(str(onnx_path), load_external_data=False)
    meta = {p.key: p.value for p in m.metadata_props}
    problems = []
    if m.ir_version > 10:
        problems.append(f"IR version {m.ir_version} > 10")
    out_dims = [d.dim_value or d.dim_param for d in m.graph.output[0].type.tensor_type.shape.dim]
    classes = len(ast.literal_eval(meta.get("names", "{}")))
    if len(out_dims) != 3 or out_dims[1] != 4 + classes:
        problems.append(f"output shape {out_dims}: channel dimension is not 4 + {classes} classes")
    if names is not None and ast.literal_eval(meta.get("names", "None")) != ast.literal_eval(names):
        problems.append(f"names metadata {meta.get('names')!r} != expected {names!r}")
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    worst_score = worst_box = 0.0
    with np.load(inputs) as xs, np.load(reference) as refs:
        for key in xs.files:
            x, want = xs[key], refs[key]
            got = sess.run(None, {sess.get_inputs()[0].name: x})[0]
            if got.shape != want.shape:
                problems.append(f"{key}: ONNX output {got.shape} != PyTorch {want.shape}")
                continue
            d_box = float(np.abs(got[:, :4] - want[:, :4]).max())
            d_score = float(np.abs(got[:, 4:] - want[:, 4:]).max())
            worst_box, worst_score = max(worst_box, d_box), max(worst_score, d_score)
            for n in range(got.shape[0]):
                dg, dw = nms_detections(got[n]), nms_detections(want[n])
                same = len(dg) == len(dw) and all(
                    a[0] == b[0] and abs(a[1] - b[1]) < SCORE_TOL and max(abs(p - q) for p, q in zip(a[2:], b[2:])) < 0.5
                    for a, b in zip(dg, dw)
                )
                if not same:
                    problems.append(f"{key}[{n}]: detections differ: ONNX {dg[:3]} vs PyTorch {dw[:3]}")
                top = ", ".join(f"c{d[0]} {d[1]:.3f}" for d in dw[:3]) or "none"
                print(f"    {key}[{n}] {list(x.shape[2:])}: {len(dw)} detections > 0.25 (top: {top}); "
                      f"max |d| boxes {d_box:.2e} px, scores {d_score:.2e}")
    if worst_score > SCORE_TOL:
        problems.append(f"scores differ by {worst_score:.2e} > {SCORE_TOL}")
    if worst_box > BOX_TOL:
        problems.append(f"boxes differ by {worst_box:.2e} px > {BOX_TOL}")
    if problems:
        sys.exit(f"{onnx_path}: ONNX does not match PyTorch:\n  " + "\n  ".join(problems))
    print(f"    {onnx_path.name}: matches PyTorch (max |d| boxes {worst_box:.2e} px, scores {worst_score:.2e}; "
          f"names {meta.get('names')}, IR {m.ir_version})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("inputs")
    a.add_argument("--image", action="append", required=True)
    a.add_argument("--out", type=Path, required=True)
    c = sub.add_parser("check")
    c.add_argument("--onnx", type=Path, required=True)
    c.add_argument("--inputs", type=Path, required=True)
    c.add_argument("--reference", type=Path, required=True)
    c.add_argument("--names", help="expected `names` metadata, a Python dict literal")
    args = ap.parse_args()
    if args.cmd == "inputs":
        make_inputs(args.image, args.out)
    else:
        check(args.onnx, args.inputs, args.reference, args.names)


if __name__ == "__main__":
    main()
