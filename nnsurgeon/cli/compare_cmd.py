"""compare: run two models on the same inputs, or one model against outputs saved earlier."""
import click

from .common import data_options, flush, model_argument, network_option, open_data, pop_data, say, say_network


@click.command()
@model_argument
@click.argument("other", metavar="[MODEL_B]", required=False)
@data_options
@network_option(multiple=False)
@click.option("--batch-size", type=click.IntRange(min=1), default=32, show_default=True)
@click.option("--atol", multiple=True, metavar="[OUTPUT:]X",
              help="Fail (exit 1) when |a-b| > atol + rtol*|a| anywhere; OUTPUT:X for one output (repeatable).")
@click.option("--rtol", multiple=True, metavar="[OUTPUT:]X",
              help="Relative tolerance; needs --atol (give --atol 0 for a purely relative one).")
@click.option("--quantile", type=click.FloatRange(0, 1), default=0.99, show_default=True,
              help="Which quantile of |a-b| to report besides max, mean and median.")
@click.option("--check-finite", is_flag=True, help="Fail when an output holds NaN or Inf.")
@click.option("--save-outputs", default=None, metavar="REF.npz", help="Save MODEL's outputs to check against later.")
@click.option("--load-outputs", default=None, metavar="REF.npz",
              help="Compare MODEL with outputs saved earlier (instead of MODEL_B).")
@click.option("--labels", default=None, metavar="LABELS",
              help="Class indices of the --input samples: .npy (N,) or one-hot (N, C), .npz, or an array name of "
                   "the --input .npz. Reports each model's accuracy and the drop.")
@click.option("--min-cosine", type=float, default=None, help="Fail (exit 1) when an output's cosine is lower.")
@click.option("--min-top1", type=float, default=None, help="Fail (exit 1) when an output's top-1 agreement is lower.")
@click.option("--min-sqnr", type=float, default=None, metavar="DB", help="Fail (exit 1) when an output's SQNR is lower.")
@click.option("--max-accuracy-drop", type=float, default=None, metavar="PT",
              help="Fail (exit 1) when accuracy drops by more percentage points (needs --labels).")
@click.option("--per-layer", is_flag=True, help="Also compare every function output present in both by name.")
@click.option("--context", default="cpu", show_default=True, help="NNabla context (cpu, cudnn).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--force", is_flag=True, help="Replace --save-outputs if it exists.")
@click.pass_context
def compare(ctx, model, other, network, batch_size, atol, rtol, quantile, check_finite, save_outputs, load_outputs,
            labels, min_cosine, min_top1, min_sqnr, max_accuracy_drop, per_layer, context, fmt, force, **kwargs):
    """Run MODEL and MODEL_B on the same inputs and compare their outputs (or MODEL against --load-outputs);
    ends with PASSED or FAILED."""
    from ..api import load
    from ..errors import CheckFailed
    from ..model.output import check_output
    from ..runtime.compare import compare_models, parse_tolerances
    from ..runtime.data import parse_input_shapes, with_input_shapes
    from ..runtime.networks import data_network
    from ..runtime.runner import Runner
    from .render import print_json, table

    d = pop_data(kwargs)
    if bool(other) + bool(load_outputs) + (bool(save_outputs) and not other and not load_outputs) != 1:
        raise click.UsageError("give MODEL_B, or --load-outputs REF.npz, or (to only record) --save-outputs REF.npz")
    if save_outputs:
        check_output(save_outputs, inputs=[model, other, d["data"], load_outputs], force=force,
                     extensions=(".npz",))
    a = load(model)
    net, note = data_network(a, network)
    say_network(note)
    shapes = parse_input_shapes(d["input_shapes"])
    a = with_input_shapes(a, net, shapes)
    b = with_input_shapes(load(other), net, shapes) if other else None
    source = open_data(a, net, Runner(a, net, context=context).input_shapes, d, default_samples=8)
    report = compare_models(a, b, network=net, batch_size=batch_size, atol=parse_tolerances(atol, "atol"),
                            rtol=parse_tolerances(rtol, "rtol"), per_layer=per_layer, context=context,
                            source=source, reference=load_outputs, save_outputs=save_outputs, quantile=quantile,
                            check_finite=check_finite, force=force, inputs=[d["data"]], labels=labels,
                            data=d["data"], min_cosine=min_cosine, min_top1=min_top1, min_sqnr=min_sqnr,
                            max_accuracy_drop=max_accuracy_drop)
    if fmt == "json":
        print_json(report)
    else:
        for n in report["notes"]:
            if n not in getattr(source, "notes", []):
                say(f"note: {n}")
        rows = report["outputs"] + report.get("layers", [])
        if rows:
            q = f"q{quantile * 100:g}_abs"
            acc = labels is not None
            table(["kind", "name", "max_abs", "mean_abs", "median_abs", q, "cosine", "sqnr_db", "top1"]
                  + (["accuracy_a", "accuracy_b", "drop_pt"] if acc else []) + ["ok"],
                  [[r["kind"], r["name"], f"{r['max_abs']:.3g}", f"{r['mean_abs']:.3g}", _g(r["median_abs"]),
                    _g(r["quantile_abs"]), f"{r['cosine']:.6f}",
                    "inf" if r["sqnr_db"] is None else f"{r['sqnr_db']:.2f}",
                    "" if r["top1"] is None else f"{r['top1']:.4f}"]
                   + ([f"{100 * r['accuracy_a']:.2f}%", f"{100 * r['accuracy_b']:.2f}%", f"{r['accuracy_drop']:.2f}"]
                      if acc and "accuracy_a" in r else ["", "", ""] if acc else [])
                   + ["yes" if r["ok"] else "NO"] for r in rows])
    flush()
    click.echo(("PASSED: " if report["ok"] else "FAILED: ") + report["summary"], err=True)
    if not report["ok"]:
        ctx.exit(CheckFailed.exit_code)  # the FAILED line is the last word


def _g(x) -> str:
    return "" if x is None else f"{x:.3g}"
