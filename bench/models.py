"""Models the benchmarks build for themselves: generated chain/DAG networks of any size (nntxt + h5, as
Neural Network Console writes them), a ResNet-18-shaped network with real-sized parameters built with
NNabla's parametric functions and saved with NNabla's own writer, and the digits CNN."""
import io
import os
import sys
import zipfile
from collections import OrderedDict

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from nnsurgeon._nnabla import nnabla_quiet  # noqa: E402

nn = nnabla_quiet()


def generate(path, n_functions, branchy, width=8):
    """A Runtime network of about n_functions: chain = Affine/ReLU/Tanh repeated; branchy (DAG) = residual
    blocks Affine -> ReLU -> Add2(skip) where each block input feeds two consumers. Written as nntxt + h5."""
    from google.protobuf import text_format
    from nnabla.utils import nnabla_pb2

    proto = nnabla_pb2.NNablaProtoBuf()
    net = proto.network.add(name="Runtime", batch_size=1)
    rng = np.random.RandomState(0)
    params = OrderedDict()

    def var(name, shape, kind="Buffer"):
        v = net.variable.add(name=name, type=kind)
        v.shape.dim.extend(shape)
        return name

    def fn(name, type_name, inputs, outputs):
        f = net.function.add(name=name, type=type_name)
        f.input.extend(inputs)
        f.output.extend(outputs)
        if type_name == "Affine":
            f.affine_param.base_axis = 1
        elif type_name == "ReLU":
            f.relu_param.SetInParent()
        elif type_name == "Add2":
            f.add2_param.SetInParent()

    h = var("x", [-1, width])
    i = 0
    while len(net.function) < n_functions:
        w = var(f"p{i}/W", [width, width], "Parameter")
        b = var(f"p{i}/b", [width], "Parameter")
        params[w] = (rng.randn(width, width) * 0.3).astype(np.float32)
        params[b] = np.zeros(width, np.float32)
        a = var(f"a{i}", [-1, width])
        fn(f"Affine_{i}", "Affine", [h, w, b], [a])
        r = var(f"r{i}", [-1, width])
        fn(f"ReLU_{i}", "ReLU", [a], [r])
        o = var(f"o{i}", [-1, width])
        fn(f"Add2_{i}", "Add2", [h, r], [o]) if branchy else fn(f"Tanh_{i}", "Tanh", [r], [o])
        h = o
        i += 1
    e = proto.executor.add(name="runtime", network_name="Runtime")
    e.data_variable.add(variable_name="x", data_name="x")
    e.output_variable.add(variable_name=h, data_name="y")
    buf = io.BytesIO()
    with nn.parameter_scope("", OrderedDict()):
        variables = OrderedDict((k, nn.Variable.from_numpy_array(v)) for k, v in params.items())
        nn.parameter.save_parameters(buf, variables, extension=".h5")
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("nnp_version.txt", "0.1\n")
        zf.writestr("network.nntxt", text_format.MessageToString(proto))
        zf.writestr("parameter.h5", buf.getvalue())
    return len(net.function)


def resnet18(path, batch_size=1, size=224):
    """ResNet-18 (ImageNet shape: 11.7M parameters, about 47 MB), random weights, BatchNormalization in
    inference mode, saved with ``nnabla.utils.save.save`` (nntxt + h5, Stored members, as NNabla writes)."""
    import nnabla.functions as F
    import nnabla.parametric_functions as PF
    from nnabla.utils.save import save

    rng = np.random.RandomState(0)

    def conv_bn(h, maps, k, stride, name, relu=True):
        h = PF.convolution(h, maps, (k, k), pad=(k // 2, k // 2), stride=(stride, stride), with_bias=False,
                           name=name + "/conv", rng=rng)
        h = PF.batch_normalization(h, batch_stat=False, name=name + "/bn")
        return F.relu(h) if relu else h

    with nn.parameter_scope("", OrderedDict()):
        x = nn.Variable((batch_size, 3, size, size))
        h = conv_bn(x, 64, 7, 2, "conv1")
        h = F.max_pooling(h, (3, 3), (2, 2), pad=(1, 1))
        inplanes = 64
        for stage, (maps, stride) in enumerate(((64, 1), (128, 2), (256, 2), (512, 2)), 1):
            for block in range(2):
                s = stride if block == 0 else 1
                name = f"layer{stage}/{block}"
                y = conv_bn(h, maps, 3, s, name + "/a")
                y = conv_bn(y, maps, 3, 1, name + "/b", relu=False)
                skip = conv_bn(h, maps, 1, s, name + "/down", relu=False) if (s != 1 or inplanes != maps) else h
                h = F.relu(y + skip)
                inplanes = maps
        h = F.average_pooling(h, (h.shape[2], h.shape[3]))
        y = PF.affine(h, 1000, name="fc", rng=rng)
        for p in nn.get_parameters(grad_only=False).values():
            if p.d.ndim > 1:
                p.d = rng.randn(*p.shape).astype(np.float32) * 0.05
        save(path, {"networks": [{"name": "Runtime", "batch_size": batch_size, "outputs": {"y": y},
                                  "names": {"x": x}}],
                    "executors": [{"name": "runtime", "network": "Runtime", "data": ["x"], "output": ["y"]}]})


def digits_cnn(path):
    """The digits CNN: a small conv classifier on 1x28x28 inputs, saved with NNabla's own writer."""
    import nnabla.functions as F
    import nnabla.parametric_functions as PF
    from nnabla.utils.save import save

    with nn.parameter_scope("", OrderedDict()):
        x = nn.Variable((1, 1, 28, 28))
        h = F.relu(PF.convolution(x, 16, (3, 3), pad=(1, 1), name="c1"))
        h = F.relu(PF.convolution(h, 16, (3, 3), pad=(1, 1), name="c2"))
        h = F.max_pooling(h, (2, 2))
        h = F.relu(PF.convolution(h, 32, (3, 3), pad=(1, 1), name="c3"))
        h = F.relu(PF.affine(h, 64, name="fc1"))
        y = PF.affine(h, 10, name="fc2")
        save(path, {"networks": [{"name": "Runtime", "batch_size": 1, "outputs": {"y": y}, "names": {"x": x}}],
                    "executors": [{"name": "runtime", "network": "Runtime", "data": ["x"], "output": ["y"]}]})
