"""fold-batchnorm: fold an inference-mode BatchNormalization into the Convolution, DepthwiseConvolution,
Deconvolution or Affine that feeds it.

y = gamma * (W x + b - mean) / sqrt(var + eps) + beta  =  (s W) x + (b - mean) s + beta,  s = gamma / sqrt(var + eps)

The scaled weights and bias are new parameters, ``<producer name>/folded/W`` and ``.../b``: the originals may
be shared with another network (a Training network next to the Runtime one) that must not change. The
producer then writes the BatchNormalization's output variable directly.

Skipped, and reported: a BatchNormalization with batch_stat=True (training mode), without all four
statistics inputs (no_scale/no_bias), normalising other axes than the producer's output channels; a producer
whose output also feeds something else (a fork: folding would change that other use), that is not one of
the three types, or whose weights are not parameters.
"""
from typing import List

import numpy as np

from ..graph.naming import unique_name
from ..graph.network import Network
from ..model.nnp import Parameter
from .base import Change, Pass
from .options import ALLOW_EMPTY, EXCLUDE, NAMES, NETWORKS

PRODUCERS = ("Convolution", "DepthwiseConvolution", "Deconvolution", "Affine")


class FoldBatchnorm(Pass):
    name = "fold-batchnorm"
    help = "Fold inference-mode BatchNormalization into the Convolution, DepthwiseConvolution, Deconvolution or " \
           "Affine before it."
    verbs = ("folded", "would fold")
    noun = "BatchNormalization"
    prunes = True
    options = (NAMES, EXCLUDE, NETWORKS, ALLOW_EMPTY)

    def select(self, model, opts):
        from ..rules import Selector, select

        return select(model, Selector(["BatchNormalization"], list(opts.names), list(opts.exclude),
                                      list(opts.networks)), opts.allow_empty)

    def match(self, model, net: Network, functions, opts, notes) -> List[Change]:
        changes = []
        for bn in functions:
            reason = _why_not(model, net, bn)
            if reason:
                notes.append(f"{net.name}: {bn.name} not folded: {reason}")
                continue
            producer, _ = net.producer(bn.input[0])
            changes.append(Change({"network": net.name, "batchnorm": bn.name, "into": producer.name,
                                   "type": producer.type}))
        return changes

    def rewrite(self, model, net: Network, changes: List[Change], opts) -> None:
        taken = set(model.parameters) | net.taken_names()
        for change in changes:
            bn = net.functions[change.record["batchnorm"]]
            _fold(model, net, net.functions[change.record["into"]], bn, taken)
        net.remove_functions({c.record["batchnorm"] for c in changes})


def _why_not(model, net, bn):
    p = bn.batch_normalization_param
    if p.batch_stat:
        return "batch_stat is True (training mode)"
    if len(bn.input) != 5 or p.no_scale or p.no_bias:
        return "it lacks beta, gamma, mean or variance"
    if not all(net.is_parameter(n) and n in model.parameters for n in bn.input[1:]):
        return "its statistics are not stored parameters"
    use = net.producer(bn.input[0])
    if use is None:
        return "its input is a network input"
    producer, _ = use
    if producer.type not in PRODUCERS:
        return f"its input comes from {producer.type}, not {', '.join(PRODUCERS)}"
    if len(net.consumers(bn.input[0])) != 1:
        return f"the output of {producer.name} also feeds other functions (a fork)"
    if not all(net.is_parameter(n) and n in model.parameters for n in producer.input[1:]):
        return f"the weights of {producer.name} are not stored parameters"
    out_shape = list(net.variables[bn.input[0]].shape.dim)
    axis = _channel_axis(producer, len(out_shape))
    if list(p.axes) != [axis]:
        return f"it normalises axes {list(p.axes)}, the producer's channels are axis {axis}"
    if producer.type == "Deconvolution" and producer.deconvolution_param.group != 1:
        return "grouped deconvolution"
    return None


def _channel_axis(producer, ndim):
    if producer.type == "Affine":
        return producer.affine_param.base_axis
    if producer.type == "DepthwiseConvolution":
        return producer.depthwise_convolution_param.base_axis
    param = producer.convolution_param if producer.type == "Convolution" else producer.deconvolution_param
    return ndim - 1 if param.channel_last else param.base_axis


def _fold(model, net: Network, producer, bn, taken) -> None:
    beta, gamma, mean, var = (model.parameters[n].data.astype(np.float64).ravel() for n in bn.input[1:])
    s = gamma / np.sqrt(var + bn.batch_normalization_param.eps)
    w = model.parameters[producer.input[1]].data.astype(np.float64)
    b = model.parameters[producer.input[2]].data.astype(np.float64).ravel() if len(producer.input) > 2 else 0.0
    if producer.type == "Affine":  # W: (inputs..., outputs...) flattened outputs last
        w2 = w.reshape(-1, s.size) * s[None, :]
    elif producer.type in ("Convolution", "DepthwiseConvolution"):
        # W: (O, I/g, kh, kw), channel_last (O, kh, kw, I/g), depthwise (C * multiplier, kh, kw): O on axis 0
        w2 = w * s.reshape((-1,) + (1,) * (w.ndim - 1))
    else:  # Deconvolution W: (I, O, kh, kw) (group 1)
        w2 = w * s.reshape((1, -1) + (1,) * (w.ndim - 2))
    b2 = (b - mean) * s + beta
    w_name = unique_name(f"{producer.name}/folded/W", taken)
    b_name = unique_name(f"{producer.name}/folded/b", taken)
    w_src = model.parameters[producer.input[1]]
    model.parameters[w_name] = Parameter(w2.reshape(w.shape).astype(np.float32), w_src.need_grad)
    model.parameters[b_name] = Parameter(b2.astype(np.float32), w_src.need_grad)
    net.add_variable(w_name, list(w.shape), kind="Parameter", taken=set())
    net.add_variable(b_name, [s.size], kind="Parameter", taken=set())
    del producer.input[1:]
    producer.input.extend([w_name, b_name])
    producer.output[0] = bn.output[0]  # the producer now writes what the BatchNormalization wrote
