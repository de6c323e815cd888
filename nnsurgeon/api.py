"""The Python API: what the CLI does, callable from Python. Each function takes a model path/name or a
loaded :class:`~nnsurgeon.model.NnpModel`."""
import os
from typing import Dict, List, Optional, Sequence, Union

from .errors import NnsurgeonError
from .model import NnpModel, load_model, write_nnp
from .passes import PassResult

ModelLike = Union[str, NnpModel]


def load(model: ModelLike) -> NnpModel:
    """Load an .nnp path or ``nnabla.models:CATEGORY/NAME`` (a loaded model is returned as is).

    Example::

        m = nnsurgeon.load("model.nnp")
    """
    return model if isinstance(model, NnpModel) else load_model(model)


def save(model: NnpModel, path: str, network_format: Optional[str] = None, param_format: Optional[str] = None,
         force: bool = False) -> str:
    """Write ``model`` to ``path`` atomically (see :func:`nnsurgeon.model.write_nnp`): every network NNabla
    can build, the file read back before it appears.

    Example::

        nnsurgeon.save(model, "model.q.nnp")
    """
    from .plan import check_buildable

    check_buildable(model, model.network_names)
    return write_nnp(model, path, network_format, param_format, force)


def list_layers(model: ModelLike, network=None, types: Sequence[str] = (), names: Sequence[str] = (),
                batch_size: Optional[int] = None, exclude: Sequence[str] = ()) -> List[Dict]:
    """One dict per function, as ``nnsurgeon list-layers --format json`` prints them. ``network``: a name, a
    list of names, or None for every network.

    Example::

        [r["name"] for r in nnsurgeon.list_layers("m.nnp", types=["ReLU"])]
    """
    from types import SimpleNamespace

    from .graph.layers import layer_rows
    from .rules.selector import compile_selector

    matches = compile_selector(types, names, exclude)
    m = load(model)
    networks = [network] if isinstance(network, str) else list(network or [None])
    rows = [r for n in networks for r in layer_rows(m, n, batch_size)]
    return [r for r in rows if matches(SimpleNamespace(type=r["type"], name=r["name"]))]


def info(model: ModelLike) -> Dict:
    """The summary ``nnsurgeon info`` prints."""
    from .model.summary import summarize

    return summarize(load(model))


def _run(step: str, model: NnpModel, options: Dict) -> PassResult:
    from .plan import Plan, Step

    if not isinstance(model, NnpModel):
        raise NnsurgeonError(f"{step} changes a loaded model in place: pass nnsurgeon.load(path), then "
                             "nnsurgeon.save(model, out_path)")
    work = model.copy()  # all or nothing: the caller's model changes only when the step succeeds
    result = Plan([Step(step, options)], base_dir=os.getcwd()).apply(work)[0]
    model.replace_contents(work)
    return result


def _step_function(step: str):
    def run(model: NnpModel, **options) -> PassResult:
        return _run(step, model, options)

    from .passes import PASSES

    p = PASSES[step]
    args = "\n".join(f"    ``{o.attr}``: {o.help}" + (f" Default: {o.default!r}." if o.default not in (None, ()) else "")
                     for o in p.options)
    run.__name__ = step.replace("-", "_")
    run.__doc__ = (f"{p.help} In place, through the same plan as the CLI and recipes (same values accepted; "
                   f"lists may also be comma-separated strings). Returns a :class:`PassResult`.\n\n{args}\n")
    return run


quantize = _step_function("quantize")
remove = _step_function("remove")
replace = _step_function("replace")
fold_batchnorm = _step_function("fold-batchnorm")
cut = _step_function("cut")
rename = _step_function("rename")
set_batch_size = _step_function("set-batch-size")


def apply(recipe: str, model: Optional[ModelLike] = None, output: Optional[str] = None, dry_run: bool = False,
          force: bool = False, networks: Optional[Sequence[str]] = None):
    """Apply the recipe file ``recipe`` to ``model`` (default: the recipe's ``model:``); write ``output`` when
    given; ``networks`` replaces the recipe's ``networks:`` (they scope every step and expectation). Returns
    ``(results, model, checks)`` as :func:`nnsurgeon.plan.run_plan` does; raises
    :class:`~nnsurgeon.errors.CheckFailed` when one of the recipe's expectations fails (a loaded ``model`` is then
    left unchanged and ``output`` is not written).

    Example::

        results, model, checks = nnsurgeon.apply("recipes/ptq-8bit.yaml", "model.nnp")
    """
    from .errors import CheckFailed, dialect
    from .plan import run_plan
    from .recipe import load_recipe

    r = load_recipe(recipe)
    spec = model if model is not None else r.model_path()
    if spec is None:
        raise NnsurgeonError(f"{recipe}: the recipe names no model; pass model=")
    plan = r.plan()
    if networks:
        from .passes.options import as_list

        plan.default_networks = as_list(networks)
    with dialect("recipe"):
        if isinstance(spec, NnpModel):
            from .expectations import check_expectations

            work = spec.copy()
            results = plan.apply(work, dry_run=dry_run)
            checks = [] if dry_run or not r.expect else check_expectations(spec, work, r.expect, r.base_dir,
                                                                          plan.default_networks)
            if not dry_run and all(c["ok"] for c in checks):
                spec.replace_contents(work)
                if output:
                    write_nnp(spec, output, force=force, inputs=[recipe])
            outcome = (results, spec, checks)
        else:
            outcome = run_plan(spec, plan, output, force=force, dry_run=dry_run, expect=r.expect, inputs=[recipe])
    failed = [c["check"] for c in outcome[2] if not c["ok"]]
    if failed:
        raise CheckFailed(f"{len(failed)} expectation(s) failed ({', '.join(failed)}); the model was not changed"
                          + (f" and {output} was not written" if output else ""))
    return outcome


def compare(a: ModelLike, b: Optional[ModelLike] = None, **options):
    """Run two models on the same inputs (or ``a`` against ``reference="ref.npz"``, outputs saved earlier with
    ``save_outputs=``) and return per-output statistics (see :mod:`nnsurgeon.runtime.compare`)."""
    from .runtime.compare import compare_models

    return compare_models(load(a), load(b) if b is not None else None, **options)


AUTO_EXCLUDE_KEYS = ("auto-exclude", "min-sqnr", "max-accuracy-drop", "labels", "eval-input", "fallback-bits")


def sensitivity(model: ModelLike, data: Optional[str] = None, labels: Optional[str] = None, cumulative: bool = False,
                network: Optional[str] = None, progress: bool = False, **quantize) -> Dict:
    """Which quantizer costs the most: quantize a copy of ``model`` with the ``quantize`` step's options (as
    :func:`quantize` takes them; ``calibrate`` is required: one calibration shared by every trial), then
    measure each quantizer alone (and with ``cumulative`` every quantizer but it, plus all of them) against
    the float model on ``data`` (default: the calibration data), worst first. ``labels``: see
    :mod:`nnsurgeon.runtime.labels`. The model is not changed.

    Example::

        report = nnsurgeon.sensitivity("model.nnp", after=["ReLU", "Affine"], bits=4, calibrate="calib.npz")
        print(report["quantizers"][0]["quantizer"], report["quantizers"][0]["sqnr_db"])
    """
    import time

    from .errors import OptionError, opt
    from .plan import Plan, Step, parse_step
    from .runtime.data import DataSource
    from .runtime.labels import load_labels
    from .runtime.sensitivity import Evaluator, Variants, added_functions, find_quantizers, sweep

    float_model = load(model)
    given = {k.replace("_", "-") for k, v in quantize.items() if v not in (None, False, (), [])}
    if given & set(AUTO_EXCLUDE_KEYS):
        raise OptionError(f"sensitivity measures every quantizer; {opt('auto-exclude')} and its options belong to "
                          "quantize")
    step = Step("quantize", quantize)
    _, opts = parse_step(step, os.getcwd())
    if opts.calibrate is None:
        raise OptionError(f"sensitivity needs calibration data: give {opt('calibrate')} DATA (one calibration, "
                          "shared by every trial)")
    start = time.perf_counter()
    quantized = float_model.copy()
    result = Plan([step], base_dir=os.getcwd()).apply(quantized, progress=progress)[0]
    calibration_s = time.perf_counter() - start
    changed = sorted({r["network"] for r in result.records})
    if network is None:
        if len(changed) > 1:
            raise OptionError(f"the quantize step changed networks {', '.join(changed)}: choose the one to measure "
                              f"with {opt('networks')}")
        network = changed[0] if changed else float_model.network(None).name
    quantizers = find_quantizers(quantized, network, added_functions(float_model, quantized, network))
    if not quantizers:
        raise OptionError(f"the quantize step added no quantizer to network '{network}': nothing to measure")
    data = data or opts.calibrate
    variants = Variants(quantized, network, quantizers)
    label_array, key = load_labels(labels, data) if labels else (None, None)
    source = DataSource(data, variants.base.view(network).input_shapes(), ignore=(key,) if key else ())
    evaluator = Evaluator(variants, source, opts.batch_size, label_array, opts.context, progress)
    start = time.perf_counter()
    report = sweep(evaluator, [q.name for q in quantizers], cumulative)
    report["forward_passes"] = evaluator.passes
    report["seconds"] = {"quantize_and_calibrate": calibration_s, "sweep": time.perf_counter() - start}
    report["summary"] = (f"{len(quantizers)} quantizer(s) of network '{network}' measured on {source.count} "
                         f"sample(s) in {evaluator.passes} forward pass(es) of the evaluation data; worst: "
                         f"{report['quantizers'][0]['quantizer']}")
    return report


def extract(model, inputs, names: Optional[Sequence[str]] = None, network: Optional[str] = None,
            batch_size: int = 32, context: str = "cpu", types: Sequence[str] = (), exclude: Sequence[str] = (),
            layers: Optional[Sequence[str]] = None) -> Dict[str, object]:
    """Outputs of the chosen functions (every function when no selector is given) for ``inputs``, keyed by
    stable name (``NAME:i`` for output i of a multi-output function). ``names``, ``types``, ``exclude``: the
    selectors of every command (``layers`` is the old spelling of ``names``). ``network``: default the one the
    file's first executor runs.

    ``model``: an .nnp path, a pretrained name, a loaded model, or a graph built in Python (an
    ``nn.Variable`` output, or a list/dict of them). ``inputs``: a path (.npy/.npz/image/folder), one array
    (one-input networks), a dict name -> array, or for a graph built in Python a dict ``nn.Variable`` ->
    array.

    Example::

        x = nn.Variable((1, 3, 32, 32)); y = F.relu(PF.convolution(x, 8, (3, 3)))
        acts = nnsurgeon.extract(y, {x: np.random.randn(4, 3, 32, 32)})
    """
    import numpy as np

    from .rules.selector import split_list
    from .runtime.data import ArraySource, open_source
    from .runtime.extract import layer_runner, resolve_layers, run_layers
    from .runtime.networks import data_network

    m, inputs = _as_model(model, inputs)
    net, _ = data_network(m, network)
    chosen = resolve_layers(m, net, split_list(list(names or ()) + list(layers or ())), split_list(types),
                            split_list(exclude))
    shapes = layer_runner(m, net, chosen, context).input_shapes
    if isinstance(inputs, str):
        source = open_source(inputs, shapes)
    else:
        if not isinstance(inputs, dict):
            if len(shapes) != 1:
                raise NnsurgeonError(f"network '{net}' has inputs {', '.join(shapes)}: pass a dict name -> array")
            inputs = {next(iter(shapes)): inputs}
        source = ArraySource(inputs, shapes)
    parts: Dict[str, list] = {}
    for values in run_layers(m, net, chosen, source.batches(batch_size), context):
        for k, v in values.items():
            parts.setdefault(k, []).append(np.array(v, copy=True))
    return {k: np.concatenate(v) for k, v in parts.items()}


def _as_model(model, inputs):
    """(NnpModel, inputs): a graph built in Python becomes a one-network model named 'network' whose inputs
    are the ``nn.Variable`` keys of ``inputs``, renamed input0, input1, ..."""
    if isinstance(model, (str, NnpModel)):
        return load(model), inputs
    import nnabla as nn

    from .model.reader import model_from_proto

    outputs = model if isinstance(model, (list, tuple)) else list(model.values()) if isinstance(model, dict) \
        else [model]
    if not all(isinstance(o, nn.Variable) for o in outputs):
        raise NnsurgeonError("model must be a path, a pretrained name, a loaded model or nn.Variable output(s)")
    if not isinstance(inputs, dict) or not all(isinstance(k, nn.Variable) for k in inputs):
        raise NnsurgeonError("for a graph built in Python, pass inputs as a dict {nn.Variable: array}")
    from .graph.live_rewrite import PYTHON_GRAPH_NETWORK

    names = {f"input{i}": v for i, v in enumerate(inputs)}
    graph = nn.graph_def.create_graph_from_variable(PYTHON_GRAPH_NETWORK, outputs, names=names)
    proto = graph.as_proto(include_parameter=True)
    return model_from_proto(proto, "<graph built in Python>"), {
        name: inputs[v] for name, v in names.items()}


def quantize_graph(outputs, after: Sequence[str], **options) -> List[Dict]:
    """Insert MinMaxQuantize into a graph built in Python, in place (rebuild + ``rewire_on``; see
    :func:`nnsurgeon.graph.live_rewrite.quantize_graph`)."""
    from .graph.live_rewrite import quantize_graph as run

    return run(outputs, after, **options)


def export(model: ModelLike, output: str, network: Optional[str] = None, executor: Optional[str] = None,
           opset: Optional[int] = None, batch_size: Optional[int] = None, check: bool = True,
           data: Optional[str] = None, samples: int = 8, seed: int = 0, atol: Optional[float] = None,
           rtol: Optional[float] = None, symmetric: bool = False, keep_failed: bool = False, force: bool = False,
           context: str = "cpu") -> Dict:
    """Write one network of ``model`` as ONNX to ``output`` and (``check``) run it with onnxruntime and NNabla
    on the same inputs (``data``, else ``samples`` seeded random ones). A check outside ``atol``/``rtol``
    (defaults: :mod:`nnsurgeon.runtime.onnx_check`) raises :class:`~nnsurgeon.errors.CheckFailed` (with the
    report as ``.report``) and leaves nothing written unless ``keep_failed``. Returns the report. The same
    function runs the recipe step ``export``.

    Example::

        report = nnsurgeon.export("model.q.nnp", "model.q.onnx", opset=13)
        print(report["summary"])
    """
    from .model.onnx_support import require_onnx
    from .model.output import check_output
    from .runtime.onnx_check import export_checked

    require_onnx()
    model = os.fspath(model) if isinstance(model, os.PathLike) else model
    output = os.fspath(output)
    data = os.fspath(data) if data is not None else None
    inputs = [x for x in (model if isinstance(model, str) else None, data) if x]
    check_output(output, inputs=inputs + ([] if isinstance(model, str) else [model.source]), force=force,
                 extensions=(".onnx",))
    return export_checked(load(model), output, network=network, executor=executor, opset=opset,
                          batch_size=batch_size, check=check, data=data, samples=samples, seed=seed, atol=atol,
                          rtol=rtol, symmetric=symmetric, keep_failed=keep_failed, force=force, context=context,
                          inputs=inputs)
