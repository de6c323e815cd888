"""Check an ONNX model against NNabla: both run on the same inputs (seeded random, or given data), output by
output: max abs difference, mean abs difference, cosine similarity, and whether every value is within
``atol + rtol * |nnabla|``.

onnxruntime runs with graph optimizations off, so the check compares arithmetic, not onnxruntime's integer
fusions of QuantizeLinear/DequantizeLinear.

Default tolerances (:func:`default_tolerances`): float models atol 1e-4, rtol 1e-3 (float32 convolution and
matrix products summed in another order differ by about 1e-6 relative); quantized models add one
quantization step (the largest scale of any quantizer) to atol: a value that lands within float rounding
of a level boundary may round to the neighbouring level on one side only.
"""
from typing import Dict, List, Optional

import numpy as np

from ..errors import DataError, ModelError
from .compare import Diff
from .data import DataSource
from .runner import Runner

FLOAT_ATOL = 1e-4
FLOAT_RTOL = 1e-3


def default_tolerances(step: float = 0.0, atol: Optional[float] = None, rtol: Optional[float] = None):
    """(atol, rtol): the given values, else the documented defaults for a model whose coarsest quantization
    step is ``step`` (0 for float models)."""
    return (FLOAT_ATOL + step if atol is None else float(atol)), (FLOAT_RTOL if rtol is None else float(rtol))


def session(onnx_model):
    """An onnxruntime CPU session with graph optimizations off (``onnx_model``: a path, bytes or ModelProto)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.log_severity_level = 3
    if not isinstance(onnx_model, (str, bytes)):
        onnx_model = onnx_model.SerializeToString()
    try:
        return ort.InferenceSession(onnx_model, options, providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime raises its own exception types for invalid models
        raise ModelError(f"onnxruntime cannot load the ONNX model ({' '.join(str(e).split())[:300]})") from None


def _input_shapes(sess) -> Dict[str, tuple]:
    out = {}
    for i in sess.get_inputs():
        if i.type != "tensor(float)":
            raise DataError(f"ONNX input '{i.name}' is {i.type}; the check feeds float32 inputs only")
        out[i.name] = tuple(d if isinstance(d, int) and d > 0 else 1 for d in i.shape)
    return out


def _batches(shapes: Dict[str, tuple], data: Optional[str], samples: int, seed: int):
    """Batches of exactly the ONNX batch size (the last one padded by repeating its last sample); yields
    (batch, number of real samples)."""
    batch = next(iter(shapes.values()))[0] if shapes else 1
    if data is None:
        rng = np.random.RandomState(seed)
        total = max(batch, -(-samples // batch) * batch)
        arrays = {k: rng.randn(total, *s[1:]).astype(np.float32) for k, s in shapes.items()}
        for start in range(0, total, batch):
            yield {k: v[start:start + batch] for k, v in arrays.items()}, batch
        return
    for part in DataSource(data, {k: s[1:] for k, s in shapes.items()}).batches(batch):
        n = len(next(iter(part.values())))
        if n < batch:
            part = {k: np.concatenate([v, np.repeat(v[-1:], batch - n, axis=0)]) for k, v in part.items()}
        yield part, n


def check_onnx(onnx_model, model, network: str, outputs: Optional[Dict[str, str]] = None,
               data: Optional[str] = None, samples: int = 8, seed: int = 0, atol: Optional[float] = None,
               rtol: Optional[float] = None, step: float = 0.0, context: str = "cpu") -> Dict:
    """Run ``onnx_model`` (onnxruntime) and network ``network`` of ``model`` (NNabla) on the same inputs.
    ``outputs``: ONNX output name -> NNabla variable (default: the same names). Returns a report with one
    entry per output and ``ok``.

    Example::

        report = check_onnx("m.onnx", load_model("m.nnp"), "Runtime")
        assert report["ok"], report["summary"]
    """
    atol, rtol = default_tolerances(step, atol, rtol)
    sess = session(onnx_model)
    shapes = _input_shapes(sess)
    names = [o.name for o in sess.get_outputs()]
    outputs = outputs or {n: n for n in names}
    nn_inputs = model.view(network).inputs
    missing = [k for k in shapes if k not in nn_inputs]
    if missing:
        raise ModelError(f"the ONNX inputs ({', '.join(shapes)}) are not those of network '{network}' "
                         f"({', '.join(nn_inputs)})")
    runner = Runner(model, network, watch=[outputs[n] for n in names], context=context)
    stats = {n: Diff() for n in names}
    seen = 0
    for batch, real in _batches(shapes, data, samples, seed):
        try:
            got = dict(zip(names, sess.run(names, batch)))
        except Exception as e:  # onnxruntime's own exception types: a model it loads but cannot run
            raise ModelError(f"onnxruntime cannot run the ONNX model ({' '.join(str(e).split())[:300]})") from None
        feed = {k: batch[k] for k in nn_inputs if k in batch}
        want = runner.run(feed)
        size = len(next(iter(batch.values())))
        for n in names:
            a = np.asarray(want[outputs[n]], np.float32)
            b = np.asarray(got[n], np.float32)
            if a.size != b.size:
                raise ModelError(f"output '{n}' has shape {tuple(b.shape)} in onnxruntime but "
                                 f"{tuple(a.shape)} in NNabla")
            b = b.reshape(a.shape)
            if a.ndim and a.shape[0] == size:
                a, b = a[:real], b[:real]
            stats[n].update(a, b, atol, rtol)
        seen += real
    rows = [stats[n].report("output", n, atol) for n in names]
    for r in rows:
        r.pop("kind", None)
        r.pop("top1", None)
    bad = [r["name"] for r in rows if not r["ok"]]
    report = {"network": network, "samples": seen, "atol": atol, "rtol": rtol, "outputs": rows, "ok": not bad,
              "notes": list(runner.notes)}
    if bad:
        worst = max((r for r in rows if not r["ok"]), key=lambda r: r["max_abs"])
        report["summary"] = (f"onnxruntime and NNabla differ on output(s) {', '.join(bad)} (max abs diff "
                             f"{worst['max_abs']:.3g} > atol {atol:.3g} + rtol {rtol:g} * |value|, {seen} samples)")
    else:
        report["summary"] = (f"{len(rows)} output(s) match NNabla on {seen} sample(s) within atol {atol:.3g}, "
                             f"rtol {rtol:g}")
    return report


def check_import(onnx_proto, model, path: str) -> List[str]:
    """Raise :class:`ModelError` naming the first output whose values NNabla's conversion of ``onnx_proto``
    changed (random inputs, float tolerances); returns notes (e.g. how the network ran)."""
    from ..model.onnx_import import safe_name

    net = model.network_names[0]
    names = [o.name for o in onnx_proto.graph.output]
    produced = set(model.view(net).variables)
    outputs = {n: safe_name(n) for n in names}
    lost = [n for n, m in outputs.items() if m not in produced]
    if lost:
        raise ModelError(f"{path}: output '{lost[0]}' is missing after NNabla's conversion; NNabla's importer "
                         "cannot convert this model faithfully")
    report = check_onnx(onnx_proto, model, net, outputs, samples=2, seed=0)
    for r in report["outputs"]:
        if not r["ok"]:
            raise ModelError(
                f"{path}: NNabla's conversion changes output '{r['name']}' (max abs diff {r['max_abs']:.3g}, "
                f"cosine {r['cosine']:.6f} against onnxruntime on random inputs); NNabla's importer misreads "
                "this model, so it is refused")
    return report["notes"]


def export_checked(model, output: str, network: Optional[str] = None, executor: Optional[str] = None,
                   opset: Optional[int] = None, batch_size: Optional[int] = None, check: bool = True,
                   data: Optional[str] = None, samples: int = 8, seed: int = 0, atol: Optional[float] = None,
                   rtol: Optional[float] = None, symmetric: bool = False, keep_failed: bool = False,
                   force: bool = False, context: str = "cpu", inputs=()) -> Dict:
    """Export one network of the loaded ``model`` to ``output`` through the one writer and check it (see
    :func:`nnsurgeon.export`, which documents the arguments); ``inputs``: files the caller read, refused as
    the output."""
    from ..errors import CheckFailed, opt
    from ..model.onnx_export import export_onnx
    from ..model.output import atomic_file

    exported = export_onnx(model, network, executor, opset, batch_size, symmetric)
    report = {"output": output, "network": exported.network, "executor": exported.executor,
              "opset": exported.opset, "batch_size": exported.batch_size,
              "quantizers": len(exported.quantizers), "notes": list(exported.notes), "check": None}
    what = (f"network '{exported.network}', opset {exported.opset}, batch size {exported.batch_size}"
            + (f", {len(exported.quantizers)} quantizer(s)" if exported.quantizers else ""))
    failed = None
    with atomic_file(output, inputs=list(inputs) + [model.source], force=force, extensions=(".onnx",)) as tmp:
        with open(tmp, "wb") as f:
            f.write(exported.proto.SerializeToString())
        if check:
            result = check_onnx(tmp, exported.reference, exported.network, data=data, samples=samples, seed=seed,
                                atol=atol, rtol=rtol, step=exported.step, context=context)
            report["check"] = result
            report["notes"] += result["notes"]
            if not result["ok"]:
                failed = result["summary"]
                report["summary"] = f"{failed}; " + (f"kept {output} ({opt('keep-failed')})" if keep_failed
                                                     else f"nothing written ({opt('keep-failed')} keeps it)")
                if not keep_failed:
                    e = CheckFailed(report["summary"])
                    e.report = report
                    raise e
    if failed:
        e = CheckFailed(report["summary"])
        e.report = report
        raise e
    report["summary"] = f"wrote {output} ({what}); " + (report["check"]["summary"] if check else "not checked")
    return report
