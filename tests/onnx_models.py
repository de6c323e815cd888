"""Small ONNX models built with the onnx helper API (no PyTorch), named and shaped the way PyTorch's exporter
writes them (``/conv1/Conv`` nodes, ``conv1.weight`` initializers), each with a run through onnxruntime."""
import numpy as np

_RNG = np.random.RandomState(7)


def _init(name, shape, scale=0.4):
    from onnx import numpy_helper

    return numpy_helper.from_array((_RNG.randn(*shape) * scale).astype(np.float32), name)


def _model(nodes, inputs, outputs, inits, opset=13, batch="batch"):
    from onnx import TensorProto, helper

    ins = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [batch] + list(s)) for n, s in inputs]
    outs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [batch] + list(s)) for n, s in outputs]
    graph = helper.make_graph(nodes, "main_graph", ins, outs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="pytorch")
    model.ir_version = 8
    import onnx

    onnx.checker.check_model(model)
    return model


def chain(batch="batch", opset=13):
    """Conv -> Relu -> Conv -> Relu -> Flatten -> Gemm (a Linear layer: transB=1)."""
    from onnx import helper

    n = helper.make_node
    nodes = [n("Conv", ["x", "conv1.weight", "conv1.bias"], ["/conv1/Conv_output_0"], name="/conv1/Conv",
               pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
             n("Relu", ["/conv1/Conv_output_0"], ["/relu1/Relu_output_0"], name="/relu1/Relu"),
             n("Conv", ["/relu1/Relu_output_0", "conv2.weight", "conv2.bias"], ["/conv2/Conv_output_0"],
               name="/conv2/Conv", pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
             n("Relu", ["/conv2/Conv_output_0"], ["/relu2/Relu_output_0"], name="/relu2/Relu"),
             n("Flatten", ["/relu2/Relu_output_0"], ["/Flatten_output_0"], name="/Flatten", axis=1),
             n("Gemm", ["/Flatten_output_0", "fc.weight", "fc.bias"], ["y"], name="/fc/Gemm", transB=1)]
    inits = [_init("conv1.weight", (4, 1, 3, 3)), _init("conv1.bias", (4,)), _init("conv2.weight", (4, 4, 3, 3)),
             _init("conv2.bias", (4,)), _init("fc.weight", (10, 256), 0.1), _init("fc.bias", (10,))]
    return _model(nodes, [("x", (1, 8, 8))], [("y", (10,))], inits, opset, batch)


def residual():
    """A stem whose output feeds a conv branch and the skip (Add), then MatMul + Add (a Linear without Gemm),
    and a weight read through Identity (as shared weights are exported)."""
    from onnx import helper

    n = helper.make_node
    nodes = [n("Conv", ["x", "stem.weight"], ["/stem/Conv_output_0"], name="/stem/Conv", pads=[1, 1, 1, 1],
               kernel_shape=[3, 3]),
             n("Relu", ["/stem/Conv_output_0"], ["/stem/Relu_output_0"], name="/stem/Relu"),
             n("Identity", ["block.weight"], ["/block/Identity_output_0"], name="/block/Identity"),
             n("Conv", ["/stem/Relu_output_0", "/block/Identity_output_0"], ["/block/Conv_output_0"],
               name="/block/Conv", pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
             n("Add", ["/stem/Relu_output_0", "/block/Conv_output_0"], ["/Add_output_0"], name="/Add"),
             n("Relu", ["/Add_output_0"], ["/Relu_output_0"], name="/Relu"),
             n("GlobalAveragePool", ["/Relu_output_0"], ["/pool/GlobalAveragePool_output_0"],
               name="/pool/GlobalAveragePool"),
             n("Flatten", ["/pool/GlobalAveragePool_output_0"], ["/Flatten_output_0"], name="/Flatten"),
             n("MatMul", ["/Flatten_output_0", "head.weight"], ["/head/MatMul_output_0"], name="/head/MatMul"),
             n("Add", ["/head/MatMul_output_0", "head.bias"], ["y"], name="/head/Add")]
    inits = [_init("stem.weight", (6, 3, 3, 3)), _init("block.weight", (6, 6, 3, 3), 0.2),
             _init("head.weight", (6, 5)), _init("head.bias", (5,))]
    return _model(nodes, [("x", (3, 8, 8))], [("y", (5,))], inits)


def multi_output():
    """Gemm -> Split into two outputs: Relu and Sigmoid (two network outputs)."""
    from onnx import helper

    n = helper.make_node
    nodes = [n("Gemm", ["x", "fc.weight", "fc.bias"], ["/fc/Gemm_output_0"], name="/fc/Gemm", transB=1),
             n("Split", ["/fc/Gemm_output_0", "split"], ["/Split_output_0", "/Split_output_1"], name="/Split",
               axis=1),
             n("Relu", ["/Split_output_0"], ["ya"], name="/Relu"),
             n("Sigmoid", ["/Split_output_1"], ["yb"], name="/Sigmoid")]
    from onnx import numpy_helper

    inits = [_init("fc.weight", (8, 6)), _init("fc.bias", (8,)),
             numpy_helper.from_array(np.array([4, 4], np.int64), "split")]
    return _model(nodes, [("x", (6,))], [("ya", (4,)), ("yb", (4,))], inits)


def gap_5d():
    """GlobalAveragePool over a 5-D input: NNabla's importer converts it wrong (it averages other axes)."""
    from onnx import helper

    nodes = [helper.make_node("GlobalAveragePool", ["x"], ["y"], name="/pool/GlobalAveragePool")]
    return _model(nodes, [("x", (2, 3, 4, 5))], [("y", (2, 1, 1, 1))], [], 11, 1)


def save(model, path) -> str:
    import onnx

    onnx.save(model, str(path))
    return str(path)


def run_onnxruntime(path, inputs):
    """Outputs of the ONNX file at ``path`` for ``inputs`` (name -> array), by onnxruntime (defaults)."""
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(names, inputs)))
