"""Small example models, built with NNabla and saved with NNabla's own writer (``nnabla.utils.save``).

They cover the topologies graph surgery must survive: a chain, a residual block (one output feeding two
consumers), a multi-output function, several networks with executors/optimizer/monitor/dataset, and types
from no list. ``nnsurgeon example NAME -o FILE`` writes one; the tests and benchmarks use them too.
"""
import io
import os
import tempfile
import zipfile
from collections import OrderedDict
from typing import Callable, Dict

import numpy as np

from ._nnabla import nnabla_quiet


def _randomize(scope: "OrderedDict", seed: int) -> None:
    """Give every parameter seeded random values (positive for variances) so outputs are non-trivial."""
    rng = np.random.RandomState(seed)

    def walk(d, prefix=""):
        for k, v in d.items():
            if isinstance(v, dict):
                walk(v, prefix + k + "/")
            else:
                data = rng.randn(*v.shape).astype(np.float32) * 0.5
                if k.endswith("var"):
                    data = np.abs(data) + 0.5
                v.d = data

    walk(scope)


def _chain(F, PF, nn, batch):
    x = nn.Variable((batch, 1, 8, 8))
    h = F.relu(PF.convolution(x, 4, (3, 3), pad=(1, 1), name="conv1"))
    h = F.relu(PF.convolution(h, 4, (3, 3), pad=(1, 1), name="conv2"))
    y = PF.affine(h, 10, name="fc")
    return {"x": x}, {"y": y}


def _residual(F, PF, nn, batch):
    x = nn.Variable((batch, 1, 8, 8))
    h = F.relu(PF.convolution(x, 4, (3, 3), pad=(1, 1), name="stem"))  # feeds conv_a and the skip
    r = F.relu(PF.convolution(h, 4, (3, 3), pad=(1, 1), name="conv_a"))
    r = PF.convolution(r, 4, (3, 3), pad=(1, 1), name="conv_b")
    h = F.relu(F.add2(h, r))
    h = F.relu(PF.affine(h, 16, name="fc1"))
    y = PF.affine(h, 10, name="fc2")
    return {"x": x}, {"y": y}


def _multi_output(F, PF, nn, batch):
    x = nn.Variable((batch, 6))
    h = PF.affine(x, 8, name="fc")
    a, b = F.split(F.reshape(h, (batch, 2, 4)), axis=1)  # one function, two outputs
    ya = F.relu(a)
    yb = F.sigmoid(b)
    return {"x": x}, {"ya": ya, "yb": yb}


def _zoo(F, PF, nn, batch):
    """Types from no list: depthwise conv, batch norm, concatenate, add2, reshape, softmax."""
    x = nn.Variable((batch, 3, 8, 8))
    h = PF.convolution(x, 4, (3, 3), pad=(1, 1), name="conv")
    h = PF.batch_normalization(h, batch_stat=False, name="bn")
    h = F.relu(h)
    d = PF.depthwise_convolution(h, (3, 3), pad=(1, 1), name="dw")
    c = F.concatenate(h, d, axis=1)
    s = F.add2(c, F.concatenate(d, h, axis=1))
    s = F.reshape(s, (batch, 8 * 8 * 8))
    y = F.softmax(PF.affine(s, 10, name="fc"))
    return {"x": x}, {"y": y}


def classifier_body(F, PF, x, training_only: bool = True, activation=None, batch_norm: bool = True):
    """The "classifier" example's graph on ``x`` (N, 1, 8, 8). ``training_only`` adds ImageAugmentation and
    Dropout (what a deployment recipe strips); the tests build references with other settings."""
    act = activation or F.relu
    h = F.image_augmentation(x, shape=(1, 8, 8), seed=1) if training_only else x
    h = PF.convolution(h, 8, (3, 3), pad=(1, 1), name="conv1", with_bias=False)
    h = act(PF.batch_normalization(h, batch_stat=False, name="bn1") if batch_norm else h)
    if training_only:
        h = F.dropout(h, p=0.5, seed=3)
    h = PF.convolution(h, 8, (3, 3), pad=(1, 1), name="conv2")
    h = act(PF.batch_normalization(h, batch_stat=False, name="bn2") if batch_norm else h)
    h = act(PF.affine(h, 32, name="fc1"))
    return PF.affine(h, 10, name="fc2")


def _classifier(F, PF, nn, batch):
    x = nn.Variable((batch, 1, 8, 8))
    return {"x": x}, {"y": classifier_body(F, PF, x)}


ARCHITECTURES: Dict[str, Callable] = {"chain": _chain, "residual": _residual,
                                      "multi-output": _multi_output, "zoo": _zoo, "classifier": _classifier}


def build_example(name: str, path: str, batch: int = 2, seed: int = 0, layout: str = "nntxt+h5") -> str:
    """Write example ``name`` (one of :data:`EXAMPLES`) to ``path`` as a one-network .nnp with an executor.

    ``layout``: ``nntxt+h5`` (NNabla's default), ``protobuf+protobuf`` (binary network and parameters in two
    members) or ``protobuf`` (network and parameters in one binary member).
    """
    if name == "multi-network":
        return _multi_network(path, batch, seed)
    nn = nnabla_quiet()
    import nnabla.functions as F
    import nnabla.parametric_functions as PF

    scope = OrderedDict()
    with nn.parameter_scope("", scope):
        inputs, outputs = ARCHITECTURES[name](F, PF, nn, batch)
        _randomize(scope, seed)
        names = dict(inputs)
        names.update(outputs)
        contents = {
            "networks": [{"name": "Runtime", "batch_size": batch, "outputs": outputs, "names": names}],
            "executors": [{"name": "runtime", "network": "Runtime", "data": list(inputs),
                           "output": list(outputs)}],
        }
        _save(contents, path, layout)
    return path


def _save(contents, path, layout):
    from nnabla.utils.save import save

    nn = nnabla_quiet()
    if layout == "nntxt+h5":
        save(path, contents)
        return
    version = b"0.1\n"
    with tempfile.TemporaryDirectory() as tmp:
        if layout == "protobuf":
            net = os.path.join(tmp, "network.protobuf")
            save(net, contents, include_params=True)
            members = {"nnp_version.txt": version, "network.protobuf": open(net, "rb").read()}
        elif layout == "protobuf+protobuf":
            net = os.path.join(tmp, "network.protobuf")
            save(net, contents, include_params=False)
            params = io.BytesIO()
            nn.parameter.save_parameters(params, extension=".protobuf")
            members = {"nnp_version.txt": version, "network.protobuf": open(net, "rb").read(),
                       "parameter.protobuf": params.getvalue()}
        else:
            raise ValueError(f"unknown layout {layout}")
    with zipfile.ZipFile(path, "w") as zf:
        for member, data in members.items():
            zf.writestr(member, data)


def _multi_network(path, batch, seed):
    """Training, Validation and Runtime networks sharing parameters; two executors, an optimizer, a monitor,
    a dataset and a training config: the shape of a Neural Network Console project."""
    nn = nnabla_quiet()
    import nnabla.functions as F
    import nnabla.parametric_functions as PF
    import nnabla.solvers as S

    scope = OrderedDict()
    with nn.parameter_scope("", scope):
        def body(x):
            h = F.relu(PF.affine(x, 8, name="fc1"))
            return PF.affine(h, 3, name="fc2")

        x = nn.Variable((batch, 4))
        t = nn.Variable((batch, 1))
        loss_t = F.mean(F.softmax_cross_entropy(body(x), t))
        xv = nn.Variable((batch, 4))
        tv = nn.Variable((batch, 1))
        loss_v = F.mean(F.softmax_cross_entropy(body(xv), tv))
        xr = nn.Variable((batch, 4))
        y = F.softmax(body(xr))
        _randomize(scope, seed)
        solver = S.Sgd(0.01)
        solver.set_parameters(nn.get_parameters())
        contents = {
            "training_config": {"max_epoch": 1, "iter_per_epoch": 10, "save_best": True},
            "networks": [
                {"name": "Training", "batch_size": batch, "outputs": {"loss": loss_t},
                 "names": {"x": x, "t": t}},
                {"name": "Validation", "batch_size": batch, "outputs": {"loss": loss_v},
                 "names": {"x": xv, "t": tv}},
                {"name": "Runtime", "batch_size": batch, "outputs": {"y": y}, "names": {"x": xr}},
            ],
            "datasets": [{"name": "train_data", "uri": "train.csv", "cache_dir": "cache",
                          "variables": {"x": x, "t": t}, "shuffle": True, "batch_size": batch,
                          "no_image_normalization": True}],
            "optimizers": [{"name": "optimizer", "solver": solver, "network": "Training",
                            "dataset": "train_data", "weight_decay": 0, "lr_decay": 1,
                            "lr_decay_interval": 1, "update_interval": 1}],
            "monitors": [{"name": "valid_error", "network": "Validation", "dataset": "train_data"}],
            "executors": [
                {"name": "runtime", "network": "Runtime", "data": ["x"], "output": ["y"]},
                {"name": "validation", "network": "Validation", "data": ["x", "t"], "output": ["loss"]},
            ],
        }
        from nnabla.utils.save import save

        save(path, contents)
    return path


EXAMPLES = sorted(list(ARCHITECTURES) + ["multi-network"])



def build_deep(path: str, functions: int, batch: int = 1, seed: int = 0) -> str:
    """A long chain of ``functions`` functions for size tests and benchmarks: blocks ``block<i>`` of five
    Affine(8)+ReLU pairs (functions ``block<i>/fc<j>`` and ``block<i>/relu<j>``, parameters
    ``block<i>/fc<j>/W`` and ``/b``), every second block closed by a residual Add2, until the count is
    reached; input ``x`` (batch, 8), output ``y``. Written directly as NNabla's protobuf (one binary
    member), because NNabla's own ``save`` takes about a minute for 10,000 functions."""
    from nnabla.utils import nnabla_pb2

    rng = np.random.RandomState(seed)
    p = nnabla_pb2.NNablaProtoBuf()
    net = p.network.add()
    net.name, net.batch_size = "Runtime", batch

    def variable(name, shape, kind="Buffer"):
        v = net.variable.add()
        v.name, v.type = name, kind
        v.shape.dim.extend(shape)
        return name

    def function(name, type_name, inputs, param_field):
        f = net.function.add()
        f.name, f.type = name, type_name
        f.input.extend(inputs)
        f.output.append(variable(name + "_out", [batch, 8]))
        getattr(f, param_field).SetInParent()
        return f

    h = variable("x", [batch, 8])
    made, block = 0, 0
    while made < functions:
        start = h
        for j in range(5):
            for kind in ("fc", "relu"):
                if made >= functions:
                    break
                name = f"block{block}/{kind}{j}"
                if kind == "fc":
                    w, b = variable(name + "/W", [8, 8], "Parameter"), variable(name + "/b", [8], "Parameter")
                    for pname, shape in ((w, [8, 8]), (b, [8])):
                        prm = p.parameter.add()
                        prm.variable_name, prm.need_grad = pname, True
                        prm.shape.dim.extend(shape)
                        prm.data.extend((rng.randn(*shape) * 0.35).astype(np.float32).ravel().tolist())
                    f = function(name, "Affine", [h, w, b], "affine_param")
                    f.affine_param.base_axis = 1
                else:
                    f = function(name, "ReLU", [h], "relu_param")
                h = f.output[0]
                made += 1
        if block % 2 and made < functions and h != start:
            h = function(f"block{block}/add", "Add2", [h, start], "add2_param").output[0]
            made += 1
        block += 1
    for v in net.variable:
        if v.name == h:
            v.name = "y"
    for f in net.function:
        f.output[:] = ["y" if o == h else o for o in f.output]
    e = p.executor.add()
    e.name, e.network_name = "runtime", "Runtime"
    d = e.data_variable.add()
    d.variable_name = d.data_name = "x"
    o = e.output_variable.add()
    o.variable_name = o.data_name = "y"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("nnp_version.txt", "0.1\n")
        zf.writestr("network.protobuf", p.SerializeToString())
    return path
