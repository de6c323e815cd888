"""sensitivity: quantize, calibrate once, then measure each quantizer alone (and all but one), worst first."""
import click

from ..api import AUTO_EXCLUDE_KEYS
from .common import model_argument
from .render import print_csv, print_json, table
from .step_options import given_options, step_options

OWN_FLAGS = ("--format", "--input", "--labels", "--cumulative")


def _skipped():
    from ..passes import PASSES

    return tuple(AUTO_EXCLUDE_KEYS) + tuple(o.key for o in PASSES["quantize"].options if o.flag in OWN_FLAGS)


def _f(x, spec: str) -> str:
    return "" if x is None else format(x, spec)


def _sqnr(x) -> str:
    return "inf" if x is None else f"{x:.2f}"


@click.command()
@model_argument
@step_options("quantize", skip=_skipped())
@click.option("--input", "data", default=None, metavar="DATA",
              help="Evaluation data (.npy/.npz/folder). Default: the calibration data.")
@click.option("--labels", default=None, metavar="LABELS",
              help="Class indices of the evaluation samples: .npy (N,) or one-hot (N, C), .npz, or an array name "
                   "of the --input .npz. Adds accuracy drops.")
@click.option("--cumulative", is_flag=True, help="Also measure every quantizer but one (and all of them).")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True)
def sensitivity(model, data, labels, cumulative, fmt, **options):
    """Quantize MODEL as `quantize` would (--calibrate required), then measure each quantizer alone against
    the float model: output SQNR (dB), cosine, top-1 agreement and, with --labels, accuracy drop in
    percentage points. Worst first. One calibration and one sweep of N+1 forward passes for N quantizers."""
    from ..api import sensitivity as run

    step = given_options("quantize", options)
    report = run(model, data=data, labels=labels, cumulative=cumulative, progress=True,
                 **{k.replace("-", "_"): v for k, v in step.items()})
    if fmt == "json":
        print_json(report)
        return
    with_acc = "float_accuracy" in report
    headers = ["rank", "quantizer", "after", "sqnr_db", "cosine", "top1"] + (["acc_drop_pt"] if with_acc else [])
    if cumulative:
        headers += ["without_sqnr_db", "without_top1"] + (["without_acc_drop_pt"] if with_acc else [])
    rows = []
    for i, r in enumerate(report["quantizers"], 1):
        row = [i, r["quantizer"], r["after"], _sqnr(r["sqnr_db"]), f"{r['cosine']:.6f}", _f(r["top1"], ".4f")]
        if with_acc:
            row.append(_f(r["accuracy_drop"], ".2f"))
        if cumulative:
            w = r["without"]
            row += [_sqnr(w["sqnr_db"]), _f(w["top1"], ".4f")] + ([_f(w["accuracy_drop"], ".2f")] if with_acc else [])
        rows.append(row)
    if fmt == "csv":
        print_csv(headers, rows)
    else:
        table(headers, rows)
    if cumulative:
        a = report["all"]
        click.echo(f"all quantizers: SQNR {_sqnr(a['sqnr_db'])} dB, cosine {a['cosine']:.6f}"
                   + (f", top1 {a['top1']:.4f}" if a["top1"] is not None else "")
                   + (f", accuracy drop {a['accuracy_drop']:.2f} pt" if a["accuracy_drop"] is not None else ""),
                   err=True)
    click.echo(report["summary"], err=True)
