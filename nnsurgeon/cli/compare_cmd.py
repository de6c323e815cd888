"""compare: run two models on the same inputs."""
import click

from .common import model_argument


@click.command()
@model_argument
@click.argument("other", metavar="MODEL_B")
@click.option("--input", "data", default=None, metavar="DATA", help=".npy/.npz keyed by input name, or a folder.")
@click.option("--random", "random_", is_flag=True, help="Random normal inputs instead of --input.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for --random.")
@click.option("--samples", type=click.IntRange(min=1), default=8, show_default=True, help="Samples for --random.")
@click.option("--network", default=None, metavar="NAME", help="Network to run (needed when there are several).")
@click.option("--batch-size", type=click.IntRange(min=1), default=32, show_default=True)
@click.option("--atol", type=float, default=None, help="Fail (exit 1) when |a-b| > atol + rtol*|a| anywhere.")
@click.option("--rtol", type=float, default=None,
              help="Relative tolerance; needs --atol (give --atol 0 for a purely relative one).")
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
def compare(model, other, data, random_, seed, samples, network, batch_size, atol, rtol, labels, min_cosine, min_top1,
            min_sqnr, max_accuracy_drop, per_layer, context, fmt):
    """Run MODEL and MODEL_B on the same inputs and compare their outputs."""
    from ..api import compare as run
    from ..errors import CheckFailed
    from .render import print_json, table

    if bool(data) == bool(random_):
        raise click.UsageError("give exactly one of --input DATA or --random")
    report = run(model, other, data=data, random=random_, seed=seed, samples=samples, network=network,
                 batch_size=batch_size, atol=atol, rtol=rtol, per_layer=per_layer, context=context, labels=labels,
                 min_cosine=min_cosine, min_top1=min_top1, min_sqnr=min_sqnr, max_accuracy_drop=max_accuracy_drop)
    if fmt == "json":
        print_json(report)
    else:
        rows = report["outputs"] + report.get("layers", [])
        acc = labels is not None
        table(["kind", "name", "max_abs", "mean_abs", "cosine", "sqnr_db", "top1"]
              + (["accuracy_a", "accuracy_b", "drop_pt"] if acc else []) + ["ok"],
              [[r["kind"], r["name"], f"{r['max_abs']:.3g}", f"{r['mean_abs']:.3g}", f"{r['cosine']:.6f}",
                "inf" if r["sqnr_db"] is None else f"{r['sqnr_db']:.2f}",
                "" if r["top1"] is None else f"{r['top1']:.4f}"]
               + ([f"{100 * r['accuracy_a']:.2f}%", f"{100 * r['accuracy_b']:.2f}%", f"{r['accuracy_drop']:.2f}"]
                  if acc and "accuracy_a" in r else ["", "", ""] if acc else [])
               + ["yes" if r["ok"] else "NO"] for r in rows])
        click.echo(report["summary"], err=True)
    if not report["ok"]:
        raise CheckFailed(report["summary"])
