#!/usr/bin/env python3
"""Reference plate readings from rapidocr itself, for the Rust PlateReader's agreement test.

Run in a throw-away venv with `pip install rapidocr-onnxruntime==1.4.4` (it brings its own onnxruntime and
OpenCV); nothing of it is used by the project at run time:

  python3 -m venv /tmp/rapidocr && /tmp/rapidocr/bin/pip install rapidocr-onnxruntime==1.4.4
  /tmp/rapidocr/bin/python scripts/models/rapidocr_reference.py \
      --plate-image var/images/plate-5AU5341.png --detector var/models/plate-detector.onnx \
      --crop-out actors/src/infer/testdata/ocr/plate-5AU5341.png \
      --crops var/images/plates --out actors/src/infer/testdata/ocr/rapidocr_reference.json

1. --plate-image/--detector: find the plate with the converted detector (letterbox 640, best box), add a 10 %
   margin each side (as the Rust end-to-end test does) and save the crop as PNG to --crop-out.
2. Run rapidocr's own `TextRecognizer` (recognition only: the crops are already plates; images read with
   cv2.imread, BGR, as rapidocr does) on --crop-out and every image listed in --crops/labels.tsv, and write
   `{file: {"text": ..., "score": ...}}` in file order to --out.
"""

import argparse
import json
from pathlib import Path

import cv2
import numpy as np


def crop_plate(image: Path, detector: Path, out: Path, margin: float = 0.1) -> None:
    import onnxruntime as ort

    bgr = cv2.imread(str(image))
    h, w = bgr.shape[:2]
    r = min(640 / h, 640 / w)
    iw, ih = round(w * r), round(h * r)
    px, py = (640 - iw) // 2, (640 - ih) // 2
    canvas = np.full((640, 640, 3), 114, np.uint8)
    canvas[py : py + ih, px : px + iw] = cv2.resize(bgr, (iw, ih), interpolation=cv2.INTER_LINEAR)
    x = canvas[:, :, ::-1].transpose(2, 0, 1)[None].astype(np.float32) / 255.0
    sess = ort.InferenceSession(str(detector), providers=["CPUExecutionProvider"])
    y = sess.run(None, {sess.get_inputs()[0].name: x})[0][0]  # [5, anchors]
    best = int(y[4].argmax())
    cx, cy, bw, bh = y[:4, best]
    x1, y1, x2, y2 = [(v - p) / r for v, p in ((cx - bw / 2, px), (cy - bh / 2, py), (cx + bw / 2, px), (cy + bh / 2, py))]
    mx, my = margin * (x2 - x1), margin * (y2 - y1)
    x1, y1 = max(0, int(np.floor(x1 - mx))), max(0, int(np.floor(y1 - my)))
    x2, y2 = min(w, int(np.ceil(x2 + mx))), min(h, int(np.ceil(y2 + my)))
    cv2.imwrite(str(out), bgr[y1:y2, x1:x2])
    print(f"plate score {y[4, best]:.3f}, crop x {x1}..{x2}, y {y1}..{y2} -> {out}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--plate-image", type=Path, required=True)
    ap.add_argument("--detector", type=Path, required=True)
    ap.add_argument("--crop-out", type=Path, required=True)
    ap.add_argument("--crops", type=Path, required=True, help="folder with labels.tsv (extract_plate_crops.py)")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()

    from rapidocr_onnxruntime.ch_ppocr_rec.text_recognize import TextRecognizer
    import rapidocr_onnxruntime

    crop_plate(args.plate_image, args.detector, args.crop_out)
    model = Path(rapidocr_onnxruntime.__file__).parent / "models" / "ch_PP-OCRv4_rec_infer.onnx"
    config = {
        "model_path": str(model),
        "rec_img_shape": [3, 48, 320],
        "rec_batch_num": 1,  # one crop at a time, as PlateReader::read does
        "use_cuda": False,
        "use_dml": False,
        "intra_op_num_threads": -1,
        "inter_op_num_threads": -1,
    }
    rec = TextRecognizer(config)
    files = [args.crop_out]
    lines = (args.crops / "labels.tsv").read_text().splitlines()[1:]
    files += [args.crops / line.split("\t")[0] for line in lines]
    results = {}
    for f in files:
        (text, score), = rec(cv2.imread(str(f)))[0]
        results[f.name] = {"text": text, "score": round(float(score), 5)}
        print(f"{f.name}: {text!r} {score:.4f}")
    args.out.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
