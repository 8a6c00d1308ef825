#!/usr/bin/env python3
"""Convert a Darknet YOLO model (cfg + weights) to ONNX in the Ultralytics detect layout.

Output model (what the Panoptes detector expects from any Ultralytics export):
  input  `images`  float32 [N, 3, H, W]  RGB / 255, N dynamic; H, W from the cfg's [net] (e.g. 416), or
                                        symbolic with --dynamic (any multiple of 32; anchors scale with it)
  output `output0` float32 [N, 4 + C, A] A = every anchor of every YOLO head (13*13*3 + 26*26*3 = 2535
                                          for yolov3-tiny at 416); rows: cx, cy, w, h in input pixels,
                                          then C class scores = objectness * class probability
                                          (Ultralytics has no separate objectness).
  Anchor order: heads in cfg order; inside a head, cell-major (row y, column x), then the head's anchors
  in mask order: index = offset_head + (y * W + x) * n_anchors + a.
  metadata_props: names (a Python dict literal), imgsz, task=detect, stride, description, author, date, source.

Supported Darknet layers (what yolov3-tiny.cfg uses): [convolutional] (batch_normalize fused into the
weights and bias; leaky / linear activation; groups=1), [maxpool] (Darknet's asymmetric padding, so the
size=2 stride=1 layer keeps 13x13), [route] (one or more layers, concatenated on channels),
[upsample] (nearest), [yolo] (mask, anchors, classes; sigmoid on x, y, objectness and classes,
exp on w and h, grid offsets, stride = input size / grid size). Anything else is refused with an error.

Only numpy and onnx are used (no torch, no OpenCV): the converter is independent of OpenCV DNN,
which scripts/verify_darknet_onnx.py uses as the reference.

Usage: darknet2onnx.py --cfg yolov3-tiny.cfg --weights yolov3-tiny.weights --names coco.names --out model.onnx
                      [--dynamic]
"""

import argparse
import datetime
import hashlib
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 13
IR_VERSION = 10  # onnx 1.23 writes IR 14 by default; ONNX Runtime 1.31.1 accepts at most 13.
LEAKY_SLOPE = 0.1  # Darknet's leaky activation
BN_EPS = 0.000001  # Darknet normalizes by (sqrt(variance) + .000001f)


class ConversionError(Exception):
    pass


# ------------------------------------------------------------------------------------------- cfg


def parse_cfg(path):
    """Return a list of (section_type, {key: value-string}) in file order."""
    sections = []
    with open(path, encoding="utf-8") as f:
        for lineno, raw in enumerate(f, 1):
            line = raw.split("#")[0].split(";")[0].strip()
            if not line:
                continue
            if line.startswith("["):
                if not line.endswith("]"):
                    raise ConversionError(f"{path}:{lineno}: malformed section header {line!r}")
                sections.append((line[1:-1].strip(), {}))
            elif "=" in line:
                if not sections:
                    raise ConversionError(f"{path}:{lineno}: option outside a section")
                key, value = line.split("=", 1)
                sections[-1][1][key.strip()] = value.strip()
            else:
                raise ConversionError(f"{path}:{lineno}: cannot parse {line!r}")
    if not sections or sections[0][0] not in ("net", "network"):
        raise ConversionError(f"{path}: the first section must be [net]")
    return sections


def opt_int(opts, key, default, where):
    try:
        return int(opts.get(key, default))
    except ValueError:
        raise ConversionError(f"{where}: {key}={opts[key]!r} is not an integer") from None


def opt_ints(opts, key, where):
    try:
        return [int(v) for v in opts[key].split(",") if v.strip()]
    except KeyError:
        raise ConversionError(f"{where}: missing {key}=") from None
    except ValueError:
        raise ConversionError(f"{where}: {key}={opts[key]!r} is not a list of integers") from None


# ------------------------------------------------------------------------------------------- weights


class WeightReader:
    """Darknet .weights: int32 major, minor, revision; 'seen' (uint64 if major*10+minor >= 2, else
    uint32); then float32 blobs in layer order."""

    def __init__(self, path):
        with open(path, "rb") as f:
            data = f.read()
        if len(data) < 16:
            raise ConversionError(f"{path}: too short for a Darknet weights file")
        major, minor, _rev = np.frombuffer(data[:12], dtype="<i4")
        header = 20 if (major * 10 + minor >= 2 and major < 1000 and minor < 1000) else 16
        if (len(data) - header) % 4:
            raise ConversionError(f"{path}: size {len(data)} minus a {header}-byte header is not whole float32s")
        self.path = path
        self.values = np.frombuffer(data[header:], dtype="<f4")
        self.pos = 0

    def take(self, n, what):
        if self.pos + n > len(self.values):
            raise ConversionError(
                f"{self.path}: ran out of weights reading {what} (need {n} floats at offset {self.pos}, "
                f"file has {len(self.values)}); the cfg does not match these weights")
        out = self.values[self.pos:self.pos + n].astype(np.float64)
        self.pos += n
        return out

    def finish(self):
        left = len(self.values) - self.pos
        if left:
            raise ConversionError(f"{self.path}: {left} floats left unread; the cfg does not match these weights")


# ------------------------------------------------------------------------------------------- graph


class Graph:
    def __init__(self):
        self.nodes, self.inits = [], []
        self.counter = 0

    def name(self, hint):
        self.counter += 1
        return f"{hint}_{self.counter}"

    def const(self, array, hint, dtype=np.float32):
        name = self.name(hint)
        self.inits.append(numpy_helper.from_array(np.asarray(array, dtype=dtype), name))
        return name

    def op(self, op_type, inputs, hint=None, n_out=1, **attrs):
        outs = [self.name(hint or op_type.lower()) for _ in range(n_out)]
        self.nodes.append(helper.make_node(op_type, inputs, outs, name=self.name("n_" + op_type), **attrs))
        return outs[0] if n_out == 1 else outs


def convolutional(g, x, c_in, h, w, opts, weights, idx):
    where = f"layer {idx} [convolutional]"
    filters = opt_int(opts, "filters", 1, where)
    size = opt_int(opts, "size", 1, where)
    stride = opt_int(opts, "stride", 1, where)
    # Darknet: pad=1 means padding = size / 2, otherwise padding= (default 0).
    padding = size // 2 if opt_int(opts, "pad", 0, where) else opt_int(opts, "padding", 0, where)
    groups = opt_int(opts, "groups", 1, where)
    bn = opt_int(opts, "batch_normalize", 0, where)
    act = opts.get("activation", "logistic")
    if groups != 1:
        raise ConversionError(f"{where}: groups={groups} is not supported")
    if act not in ("leaky", "linear"):
        raise ConversionError(f"{where}: activation={act} is not supported (leaky, linear)")

    bias = weights.take(filters, f"{where} biases")
    if bn:
        gamma = weights.take(filters, f"{where} BN scales")
        mean = weights.take(filters, f"{where} BN rolling mean")
        var = weights.take(filters, f"{where} BN rolling variance")
    kernel = weights.take(filters * c_in * size * size, f"{where} kernel").reshape(filters, c_in, size, size)
    if bn:
        factor = gamma / (np.sqrt(var) + BN_EPS)
        kernel = kernel * factor[:, None, None, None]
        bias = bias - mean * factor

    y = g.op("Conv", [x, g.const(kernel, f"conv{idx}_w"), g.const(bias, f"conv{idx}_b")], f"conv{idx}",
             kernel_shape=[size, size], strides=[stride, stride], pads=[padding] * 4)
    if act == "leaky":
        y = g.op("LeakyRelu", [y], f"leaky{idx}", alpha=LEAKY_SLOPE)
    h_out = (h + 2 * padding - size) // stride + 1
    w_out = (w + 2 * padding - size) // stride + 1
    return y, filters, h_out, w_out


def maxpool(g, x, c, h, w, opts, idx):
    where = f"layer {idx} [maxpool]"
    size = opt_int(opts, "size", 1, where)
    stride = opt_int(opts, "stride", 1, where)
    padding = opt_int(opts, "padding", size - 1, where)
    # Darknet: out = (in + padding - size) / stride + 1, windows start at -padding/2 (C division);
    # cells outside the input never win. ONNX MaxPool pads with -inf: begin padding/2, end the rest.
    begin, end = padding // 2, padding - padding // 2
    y = g.op("MaxPool", [x], f"pool{idx}", kernel_shape=[size, size], strides=[stride, stride],
             pads=[begin, begin, end, end])
    return y, c, (h + padding - size) // stride + 1, (w + padding - size) // stride + 1


def upsample(g, x, c, h, w, opts, idx):
    where = f"layer {idx} [upsample]"
    stride = opt_int(opts, "stride", 2, where)
    if float(opts.get("scale", 1)) != 1:
        raise ConversionError(f"{where}: scale={opts['scale']} is not supported")
    scales = g.const([1, 1, stride, stride], f"up{idx}_scales")
    y = g.op("Resize", [x, "", scales], f"up{idx}", mode="nearest",
             coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    return y, c, h * stride, w * stride


def yolo_head(g, x, c, h, w, opts, idx, net_w, net_h):
    """Decode one YOLO head to [N, 4 + C, h * w * n_anchors] (see the module doc for the order)."""
    where = f"layer {idx} [yolo]"
    classes = opt_int(opts, "classes", 20, where)
    mask = opt_ints(opts, "mask", where)
    anchors = np.array(opt_ints(opts, "anchors", where), dtype=np.float64).reshape(-1, 2)
    for key, default in (("scale_x_y", "1"), ("new_coords", "0")):
        if key in opts and float(opts[key]) != float(default):
            raise ConversionError(f"{where}: {key}={opts[key]} is not supported")
    na = len(mask)
    if c != na * (classes + 5):
        raise ConversionError(f"{where}: input has {c} channels, expected {na} * ({classes} + 5)")
    if net_w % w or net_h % h:
        raise ConversionError(f"{where}: grid {w}x{h} does not divide the input {net_w}x{net_h}")
    entries = classes + 5
    n_rows = h * w * na

    # [N, na*E, h, w] -> [N, na, E, h*w] -> [N, E, h*w, na] -> [N, E, h*w*na]. The grid size is read from the
    # tensor's shape, so the same graph serves any input size (a multiple of the largest stride).
    t = g.op("Reshape", [x, g.const([0, na, entries, -1], f"yolo{idx}_s4", np.int64)], f"yolo{idx}_r4")
    t = g.op("Transpose", [t], f"yolo{idx}_t", perm=[0, 2, 3, 1])
    t = g.op("Reshape", [t, g.const([0, entries, -1], f"yolo{idx}_s3", np.int64)], f"yolo{idx}_r3")
    xy, wh, obj, cls = g.op("Split", [t, g.const([2, 2, 1, classes], f"yolo{idx}_split", np.int64)],
                            f"yolo{idx}_part", n_out=4, axis=1)

    # Grid offsets [2, rows]: row r = (y * W + x) * na + a holds (x, y); anchors [2, rows] cycle fastest.
    shape = g.op("Shape", [x], f"yolo{idx}_shape")
    gh = g.op("Gather", [shape, g.const(np.array(2), f"yolo{idx}_i2", np.int64)], f"yolo{idx}_h", axis=0)
    gw = g.op("Gather", [shape, g.const(np.array(3), f"yolo{idx}_i3", np.int64)], f"yolo{idx}_w", axis=0)
    cells = g.op("Mul", [gh, gw], f"yolo{idx}_cells")
    cell = g.op("Range", [g.const(np.array(0), f"yolo{idx}_zero", np.int64), cells,
                          g.const(np.array(1), f"yolo{idx}_one", np.int64)], f"yolo{idx}_cell")
    col = g.op("Mod", [cell, gw], f"yolo{idx}_col")
    row = g.op("Div", [cell, gw], f"yolo{idx}_row")
    axis0 = g.const([0], f"yolo{idx}_ax0", np.int64)
    grid = g.op("Concat", [g.op("Unsqueeze", [col, axis0]), g.op("Unsqueeze", [row, axis0])], f"yolo{idx}_gxy",
                axis=0)  # [2, h*w]
    grid = g.op("Cast", [grid], f"yolo{idx}_gf", to=TensorProto.FLOAT)
    full = g.op("Concat", [g.const([2], f"yolo{idx}_two", np.int64), g.op("Unsqueeze", [cells, axis0]),
                           g.const([na], f"yolo{idx}_na", np.int64)], f"yolo{idx}_full", axis=0)
    grid = g.op("Expand", [g.op("Unsqueeze", [grid, g.const([2], f"yolo{idx}_ax2", np.int64)]), full])
    flat = g.const([2, -1], f"yolo{idx}_flat", np.int64)
    grid = g.op("Reshape", [grid, flat], f"yolo{idx}_grid")
    anchor_wh = anchors[mask].T.reshape(2, 1, na)  # [2, 1, na]
    anchor_wh = g.op("Reshape", [g.op("Expand", [g.const(anchor_wh, f"yolo{idx}_anchors"), full]), flat],
                     f"yolo{idx}_anchor_wh")

    stride_x, stride_y = net_w // w, net_h // h
    stride = g.const(np.array([[stride_x], [stride_y]], dtype=np.float64), f"yolo{idx}_stride")
    # cx = (sigmoid(tx) + col) * stride
    xy = g.op("Mul", [g.op("Add", [g.op("Sigmoid", [xy]), grid]), stride], f"yolo{idx}_xy")
    wh = g.op("Mul", [g.op("Exp", [wh]), anchor_wh], f"yolo{idx}_wh")
    scores = g.op("Mul", [g.op("Sigmoid", [cls]), g.op("Sigmoid", [obj])], f"yolo{idx}_scores")
    out = g.op("Concat", [xy, wh, scores], f"yolo{idx}_out", axis=1)
    return out, classes, n_rows, max(stride_x, stride_y)


def convert(cfg_path, weights_path, names, dynamic=False):
    sections = parse_cfg(cfg_path)
    net = sections[0][1]
    net_w = opt_int(net, "width", 416, "[net]")
    net_h = opt_int(net, "height", 416, "[net]")
    channels = opt_int(net, "channels", 3, "[net]")
    weights = WeightReader(weights_path)
    g = Graph()

    x, c, h, w = "images", channels, net_h, net_w
    outputs = []  # per layer: (tensor, c, h, w)
    heads = []  # (tensor, classes, rows, stride)
    for idx, (kind, opts) in enumerate(sections[1:]):
        if kind in ("convolutional", "conv"):
            x, c, h, w = convolutional(g, x, c, h, w, opts, weights, idx)
        elif kind == "maxpool":
            x, c, h, w = maxpool(g, x, c, h, w, opts, idx)
        elif kind == "upsample":
            x, c, h, w = upsample(g, x, c, h, w, opts, idx)
        elif kind == "route":
            refs = [r if r >= 0 else idx + r for r in opt_ints(opts, "layers", f"layer {idx} [route]")]
            for r in refs:
                if not 0 <= r < idx:
                    raise ConversionError(f"layer {idx} [route]: layer {r} does not exist before it")
            if "groups" in opts and int(opts["groups"]) != 1:
                raise ConversionError(f"layer {idx} [route]: groups={opts['groups']} is not supported")
            srcs = [outputs[r] for r in refs]
            if len({(s[2], s[3]) for s in srcs}) != 1:
                raise ConversionError(f"layer {idx} [route]: layers {refs} have different sizes")
            x = srcs[0][0] if len(srcs) == 1 else g.op("Concat", [s[0] for s in srcs], f"route{idx}", axis=1)
            c, h, w = sum(s[1] for s in srcs), srcs[0][2], srcs[0][3]
        elif kind == "yolo":
            head, classes, rows, stride = yolo_head(g, x, c, h, w, opts, idx, net_w, net_h)
            heads.append((head, classes, rows, stride))
            # Darknet's yolo layer passes its input on unchanged (nothing routes from it in practice).
        else:
            raise ConversionError(f"layer {idx}: [{kind}] is not supported")
        outputs.append((x, c, h, w))
    weights.finish()

    if not heads:
        raise ConversionError(f"{cfg_path}: no [yolo] layer")
    classes = heads[0][1]
    if any(hd[1] != classes for hd in heads):
        raise ConversionError(f"{cfg_path}: the [yolo] layers disagree on classes")
    if len(names) != classes:
        raise ConversionError(f"names file has {len(names)} names but the model has {classes} classes")
    anchors_total = sum(hd[2] for hd in heads)
    g.op("Concat", [hd[0] for hd in heads], "output0", axis=2)
    g.nodes[-1].output[0] = "output0"

    graph = helper.make_graph(
        g.nodes, "darknet_" + os.path.splitext(os.path.basename(cfg_path))[0],
        [helper.make_tensor_value_info("images", TensorProto.FLOAT,
                                       ["batch", channels, "height", "width"] if dynamic
                                       else ["batch", channels, net_h, net_w])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT,
                                       ["batch", 4 + classes, "anchors" if dynamic else anchors_total])],
        g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="panoptes-darknet2onnx", producer_version="1")
    model.ir_version = IR_VERSION
    return model, classes, anchors_total, max(hd[3] for hd in heads), (net_h, net_w)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cfg", required=True)
    ap.add_argument("--weights", required=True)
    ap.add_argument("--names", required=True, help="class names, one per line")
    ap.add_argument("--out", required=True)
    ap.add_argument("--dynamic", action="store_true",
                    help="symbolic input height and width: one model for any size that is a multiple of 32 "
                         "(the detector then takes its size from [model] imgsz)")
    args = ap.parse_args()

    try:
        with open(args.names, encoding="utf-8") as f:
            names = [line.strip() for line in f if line.strip()]
        model, classes, anchors, stride, (net_h, net_w) = convert(args.cfg, args.weights, names, args.dynamic)
    except (ConversionError, OSError) as e:
        sys.exit(f"darknet2onnx: error: {e}")

    meta = {
        "description": f"YOLOv3-tiny-style Darknet model {os.path.basename(args.cfg)} converted to the Ultralytics "
                       f"detect layout: output0 [N, 4+{classes}, {anchors}] = cx, cy, w, h (input pixels), "
                       "class scores (objectness * class probability)",
        "author": "Panoptes scripts/darknet2onnx.py",
        "date": datetime.date.today().isoformat(),
        "source": f"{os.path.basename(args.cfg)} sha256={sha256(args.cfg)}; "
                  f"{os.path.basename(args.weights)} sha256={sha256(args.weights)}",
        "task": "detect",
        "stride": str(stride),
        "imgsz": str([net_h, net_w]),
        "names": str(dict(enumerate(names))),
    }
    onnx.helper.set_model_props(model, meta)
    onnx.checker.check_model(model, full_check=True)
    tmp = args.out + ".part"
    onnx.save(model, tmp)
    os.replace(tmp, args.out)
    dims = "H,W" if args.dynamic else f"{net_h},{net_w}"
    print(f"darknet2onnx: wrote {args.out}: images [N,3,{dims}] -> output0 [N,{4 + classes},{anchors}], "
          f"{len(model.graph.node)} nodes, opset {OPSET}, IR {model.ir_version}")


if __name__ == "__main__":
    main()
