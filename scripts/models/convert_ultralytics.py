#!/usr/bin/env python3
"""Export an Ultralytics YOLOv8 detect checkpoint (.pt) to ONNX, offline, and record PyTorch reference outputs.

Runs in the conversion venv that scripts/setup.sh makes (Debian's CPU python3-torch 1.13 + ultralytics 8.2.103
installed without dependencies); never downloads anything. Steps:

1. load the checkpoint with Ultralytics (its own unpickling and layer fusing rules);
2. export with `format=onnx, dynamic=True` (batch, height and width symbolic), opset 17, no simplifier;
3. lower the IR version to at most 10 (ONNX Runtime 1.31 refuses newer ones), keep the Ultralytics metadata
   (`names`, `stride`, `imgsz`, `license`, ...) and add `panoptes_source` naming the checkpoint's origin;
4. with --inputs: run the *PyTorch* model (the checkpoint's own modules, not fused, in eval mode) on every
   tensor of the .npz and write its raw outputs `[N, 4+C, anchors]` to --reference, so that a separate
   ONNX Runtime process (verify_ultralytics_onnx.py) can compare the two.

Usage:
  YOLO_OFFLINE=true python convert_ultralytics.py --weights x.pt --out x.onnx --source "pkg==1 path" \
      [--inputs inputs.npz --reference reference.npz]
"""

import argparse
import ast
import os
import shutil
import sys
import tempfile
from pathlib import Path

MAX_IR_VERSION = 10
OPSET = 17


def export(weights: Path, out: Path, source: str, imgsz: int) -> None:
    import onnx
    from ultralytics import YOLO

    with tempfile.TemporaryDirectory(prefix="panoptes-export-") as tmp:
        local = Path(tmp) / weights.name
        shutil.copyfile(weights, local)  # Ultralytics writes the .onnx next to the .pt
        model = YOLO(str(local), task="detect")
        if model.task != "detect":
            sys.exit(f"{weights}: task is {model.task!r}, not 'detect'; only detect models are supported")
        exported = model.export(format="onnx", dynamic=True, simplify=False, opset=OPSET, imgsz=imgsz, device="cpu")
        if not exported or not Path(exported).is_file():
            sys.exit(f"{weights}: Ultralytics export produced no ONNX file (see its log above)")
        m = onnx.load(exported)
    meta = {p.key: p.value for p in m.metadata_props}
    if "names" not in meta:
        sys.exit(f"{weights}: exported ONNX has no `names` metadata; refusing to write {out}")
    # torch 1.13 names the channel dimension of a dynamic export symbolically (`Concatoutput0_dim_1`); it is
    # always 4 + classes, and loaders (OnnxDetector) tell the channel axis from the anchor axis by it.
    classes = len(ast.literal_eval(meta["names"]))
    out_dims = m.graph.output[0].type.tensor_type.shape.dim
    if len(out_dims) != 3:
        sys.exit(f"{weights}: output has {len(out_dims)} dimensions; expected [N, 4+C, anchors]")
    out_dims[1].Clear()
    out_dims[1].dim_value = 4 + classes
    if m.ir_version > MAX_IR_VERSION:
        m.ir_version = MAX_IR_VERSION
    opsets = {o.domain: o.version for o in m.opset_import}
    if opsets.get("", 0) > OPSET:
        sys.exit(f"{weights}: exported opset {opsets['']} > {OPSET}")
    p = m.metadata_props.add()
    p.key, p.value = "panoptes_source", source
    onnx.checker.check_model(m)
    out.parent.mkdir(parents=True, exist_ok=True)
    part = out.with_name(out.name + ".part")
    onnx.save(m, str(part))
    os.replace(part, out)
    print(f"    {out.name}: names {meta['names']}, IR {m.ir_version}, opset {opsets.get('')}, imgsz {meta.get('imgsz')}")


def reference(weights: Path, inputs: Path, dest: Path) -> None:
    import numpy as np
    import torch
    from ultralytics import YOLO

    net = YOLO(str(weights), task="detect").model.float().eval()  # unfused PyTorch modules
    results = {}
    with np.load(inputs) as data, torch.no_grad():
        for key in data.files:
            y = net(torch.from_numpy(data[key]))
            y = y[0] if isinstance(y, (list, tuple)) else y
            results[key] = y.numpy()
    np.savez(dest, **results)
    print(f"    PyTorch reference outputs for {len(results)} inputs -> {dest.name}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--source", required=True, help="where the checkpoint came from (stored as metadata)")
    ap.add_argument("--imgsz", type=int, default=640)
    ap.add_argument("--inputs", type=Path, help=".npz of float32 [N,3,H,W] tensors to run the PyTorch model on")
    ap.add_argument("--reference", type=Path, help="where to write the PyTorch outputs (.npz)")
    args = ap.parse_args()
    if str(os.getenv("YOLO_OFFLINE", "")).lower() != "true":
        sys.exit("set YOLO_OFFLINE=true: the export must not try the network")
    if not args.weights.is_file():
        sys.exit(f"{args.weights}: no such checkpoint")
    export(args.weights, args.out, args.source, args.imgsz)
    if args.inputs:
        if not args.reference:
            sys.exit("--inputs needs --reference")
        reference(args.weights, args.inputs, args.reference)


if __name__ == "__main__":
    main()
