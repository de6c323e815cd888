"""export: write one network of the model, as the plan has made it so far, as ONNX, checked against
onnxruntime (:func:`nnsurgeon.runtime.onnx_check.export_checked`, the function behind ``nnsurgeon export``).

The model itself is not changed, so later steps and the plan's own output go on from the same model. A dry
run writes nothing and says so. ``output`` is relative to the working folder.
"""
from typing import List

from ..errors import OptionError
from .base import Change, Context, Pass
from .options import Option


class Export(Pass):
    name = "export"
    help = "Write one network as ONNX, checked against onnxruntime (the model is not changed)."
    verbs = ("exported", "would export")
    noun = "network"
    options = (
        Option("output", "str", None, "The ONNX file to write.", metavar="OUT.onnx"),
        Option("network", "str", None, "Network to export. Default: the runtime executor's."),
        Option("executor", "str", None, "Export the network this executor runs, with its inputs and outputs."),
        Option("opset", "int", 13, "ONNX opset: 7, 9, 10, 11 or 13.", min=7, max=13),
        Option("batch-size", "int", None, "Batch size of the ONNX inputs. Default: the network's.", min=1,
               max=65536),
        Option("symmetric", "bool", False, "Quantizers as int8 with zero point 0 (TensorRT's form)."),
        Option("check", "bool", True, "Check against onnxruntime (fail when outside the tolerance)."),
        Option("samples", "int", 8, "Random samples for the check.", min=1, max=65536),
        Option("seed", "int", 0, "Seed for the random samples."),
        Option("atol", "number", None, "Absolute tolerance (default 1e-4, plus one quantization step).", min=0),
        Option("rtol", "number", None, "Relative tolerance (default 1e-3).", min=0),
        Option("force", "bool", False, "Replace the ONNX file if it exists."),
    )
    required = (("output",),)

    def check(self, opts) -> None:
        from ..model.onnx_support import EXPORT_OPSETS

        if opts.opset not in EXPORT_OPSETS:
            raise OptionError(f"opset {opts.opset} cannot be exported; use one of "
                              f"{', '.join(map(str, EXPORT_OPSETS))}")
        if not opts.output.lower().endswith(".onnx"):
            raise OptionError(f"output {opts.output} must end in .onnx")
        if opts.network and opts.executor:
            raise OptionError("give network or executor, not both")

    def select(self, model, opts):
        from ..model.onnx_export import choose_network

        name, _ = choose_network(model, opts.network, opts.executor)
        return {name: (model.view(name), [])}

    def match(self, model, net, functions, opts, notes: List[str]) -> List[Change]:
        return [Change({"network": net.name, "output": opts.output, "check": None})]

    def prepare(self, model, matched, opts, ctx: Context) -> None:
        if ctx.dry_run:
            ctx.notes.append(f"export to {opts.output} skipped in a dry run")
            return
        from ..runtime.onnx_check import export_checked

        for net_name, (_, changes) in matched.items():
            report = export_checked(model, opts.output, network=net_name if not opts.executor else None,
                                    executor=opts.executor, opset=opts.opset, batch_size=opts.batch_size,
                                    check=opts.check, samples=opts.samples, seed=opts.seed, atol=opts.atol,
                                    rtol=opts.rtol, symmetric=opts.symmetric, force=opts.force)
            for c in changes:
                c.record["check"] = report["check"]["summary"] if report["check"] else "not checked"
            ctx.notes.append(report["summary"])

    def rewrite(self, model, net, changes, opts) -> None:
        """Nothing: exporting leaves the model as it is."""
