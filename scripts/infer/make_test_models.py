#!/usr/bin/env python3
"""Write the tiny synthetic ONNX models that actors/src/infer/model.rs tests load.

Each model maps an input [N, 3, H, W] to an Ultralytics-layout output with 2 classes, one anchor per pixel:
    cx = 4*R, cy = 4*G, w = h = 1, score(class 0) = B, score(class 1) = 1 - B
so a test picks where a detection lands and which class wins by setting one input pixel.

Usage: .venv/bin/python scripts/infer/make_test_models.py [OUT_DIR]   (default actors/src/infer/testdata)
Needs the `onnx` package (in the project's .venv). The files are committed; rerun only to change them.
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SCALE = np.array([4, 4, 0, 0, 1, -1], dtype=np.float32).reshape(1, 6, 1)
BIAS = np.array([0, 0, 1, 1, 0, 1], dtype=np.float32).reshape(1, 6, 1)


def detect_model(input_shape, output_shape, transposed=False, names=None):
    nodes = [
        helper.make_node("Gather", ["images", "channels"], ["g"], axis=1),
        helper.make_node("Reshape", ["g", "shape"], ["r"]),
        helper.make_node("Mul", ["r", "scale"], ["m"]),
        helper.make_node("Add", ["m", "bias"], ["a" if transposed else "output0"]),
    ]
    if transposed:
        nodes.append(helper.make_node("Transpose", ["a"], ["output0"], perm=[0, 2, 1]))
    inits = [
        numpy_helper.from_array(np.array([0, 1, 2, 2, 2, 2], dtype=np.int64), "channels"),
        numpy_helper.from_array(np.array([0, 6, -1], dtype=np.int64), "shape"),
        numpy_helper.from_array(SCALE, "scale"),
        numpy_helper.from_array(BIAS, "bias"),
    ]
    graph = helper.make_graph(
        nodes,
        "synthetic_detect",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, input_shape)],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, output_shape)],
        inits,
    )
    return finish(graph, names)


def wrong_layout_model():
    nodes = [
        helper.make_node("Flatten", ["images"], ["f"], axis=1),
        helper.make_node("MatMul", ["f", "w"], ["output0"]),
    ]
    w = numpy_helper.from_array(np.ones((48, 10), dtype=np.float32), "w")
    graph = helper.make_graph(
        nodes,
        "classifier",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 4, 4])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, 10])],
        [w],
    )
    return finish(graph, None)


def finish(graph, names):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="panoptes-tests")
    # ONNX Runtime 1.31 reads IR versions up to 13; onnx 1.23 writes 14 by default.
    model.ir_version = 10
    if names is not None:
        helper.set_model_props(model, {"names": names, "task": "detect"})
    onnx.checker.check_model(model)
    return model


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "actors/src/infer/testdata"
    os.makedirs(out, exist_ok=True)
    models = {
        "synthetic_dynamic.onnx": detect_model(
            ["batch", 3, "height", "width"], ["batch", 6, "anchors"], names="{0: 'cat', 1: \"dog's\"}"
        ),
        "synthetic_fixed_b2.onnx": detect_model([2, 3, 4, 4], [2, 6, 16], names="{0: 'a', 1: 'b'}"),
        "synthetic_transposed.onnx": detect_model(["batch", 3, "height", "width"], ["batch", "anchors", 6], True),
        "names_mismatch.onnx": detect_model(
            ["batch", 3, "height", "width"], ["batch", 6, "anchors"], names="{0: 'a', 1: 'b', 2: 'c'}"
        ),
        "wrong_layout.onnx": wrong_layout_model(),
    }
    for name, model in models.items():
        onnx.save(model, os.path.join(out, name))
        print(f"wrote {os.path.join(out, name)}")


if __name__ == "__main__":
    main()
