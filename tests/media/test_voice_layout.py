"""The decoder's 1-D convolutions lifted to 2-D over a height of 1 (voice_layout.py):
the same results, a reshape only where the decoder begins and ends, and nothing
outside the decoder's scope touched. The whole voice is tested in
test_compiled_voice.py."""

from __future__ import annotations

import numpy as np
import onnxruntime
import pytest
from onnx import TensorProto, helper, numpy_helper

from reelgraph.nodes.voice_layout import lift_decoder


def _decoder_like(opset: int) -> tuple:
    """An encoder conv outside the scope, then a HiFi-GAN-like decoder: a conv, an
    upsampling ConvTranspose, a residual block (LeakyRelu, dilated conv, Add), the
    division by the number of blocks (a Constant) and Tanh."""
    rng = np.random.default_rng(3)

    def w(name: str, *shape: int):
        return numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32) * 0.2, name)

    inits = [
        w("enc.w", 16, 16, 3),
        w("pre.w", 32, 16, 7),
        w("pre.b", 32),
        w("ups.w", 32, 16, 4),
        w("ups.b", 16),
        w("rb.w", 16, 16, 3),
        w("rb.b", 16),
    ]
    three = helper.make_tensor("three", TensorProto.FLOAT, [], [3.0])
    nodes = [
        helper.make_node("Conv", ["x", "enc.w"], ["e"], name="/enc/Conv", pads=[1, 1]),
        helper.make_node("Constant", [], ["/dec/three"], name="/dec/Constant", value=three),
        helper.make_node(
            "Conv", ["e", "pre.w", "pre.b"], ["p"], name="/dec/conv_pre/Conv", pads=[3, 3]
        ),
        helper.make_node(
            "ConvTranspose",
            ["p", "ups.w", "ups.b"],
            ["u"],
            name="/dec/ups.0/ConvTranspose",
            strides=[2],
            pads=[1, 1],
        ),
        helper.make_node("LeakyRelu", ["u"], ["a"], name="/dec/rb/LeakyRelu", alpha=0.1),
        helper.make_node(
            "Conv", ["a", "rb.w", "rb.b"], ["c"], name="/dec/rb/Conv", pads=[3, 3], dilations=[3]
        ),
        helper.make_node("Add", ["c", "u"], ["s"], name="/dec/rb/Add"),
        helper.make_node("Div", ["s", "/dec/three"], ["d"], name="/dec/Div"),
        helper.make_node("Tanh", ["d"], ["y"], name="/dec/Tanh"),
    ]
    graph = helper.make_graph(
        nodes,
        "decoder",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16, 40])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 16, 80])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    x = rng.standard_normal((1, 16, 40)).astype(np.float32)
    return model, x


def _run(model, x: np.ndarray) -> np.ndarray:
    opts = onnxruntime.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = onnxruntime.InferenceSession(
        model.SerializeToString(), sess_options=opts, providers=["CPUExecutionProvider"]
    )
    return session.run(None, {"x": x})[0]


@pytest.mark.parametrize("opset", [11, 15])  # Squeeze's axes: an attribute, then an input
def test_the_lifted_decoder_gives_the_same_results(opset):
    model, x = _decoder_like(opset)
    before = _run(model, x)
    assert lift_decoder(model) == 3
    after = _run(model, x)
    assert after.shape == before.shape == (1, 16, 80)
    assert np.allclose(after, before, atol=1e-5, rtol=1e-5)

    ops = [n.op_type for n in model.graph.node]
    # one reshape in (after the encoder) and one out (the output): none between
    assert ops.count("Unsqueeze") == 1 and ops.count("Squeeze") == 1
    weights = {t.name: list(t.dims) for t in model.graph.initializer}
    assert weights["enc.w"] == [16, 16, 3]  # outside the scope: as it was
    lifted = [n for n in model.graph.node if n.name.startswith("/dec/") and "Conv" in n.op_type]
    assert all(len(weights[n.input[1]]) == 4 for n in lifted) and len(lifted) == 3
    assert "pre.w" not in weights  # the 1-D weights are not kept beside the 2-D ones


def test_a_graph_without_the_scope_is_left_as_it_was():
    model, _ = _decoder_like(15)
    before = model.SerializeToString()
    assert lift_decoder(model, scope="/no-such-part/") == 0
    assert model.SerializeToString() == before
