"""apply and check: recipes from the command line."""
import click

from ..rules.selector import split_list
from .common import network_option, output_options
from .render import print_json, table


@click.command()
@click.argument("recipe", metavar="RECIPE")
@click.argument("model", metavar="[MODEL]", required=False)
@click.option("-o", "--output", default=None, metavar="OUT.nnp",
              help="The new .nnp. Default: MODEL.<recipe name>.nnp beside the input.")
@network_option(multiple=True, help="Networks every step and expectation looks at (repeat or comma-separate); "
                                    "replaces the recipe's 'networks'.")
@click.option("--dry-run", is_flag=True, help="Run the steps on a copy and show what they would do; write nothing.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@output_options
def apply(recipe, model, output, networks, dry_run, fmt, force, network_format, param_format):
    """Apply the steps of RECIPE to MODEL (default: the recipe's 'model') and check its 'expect'.

    Exit 1 when an expectation fails (nothing is written then), 2 for a bad recipe or model.
    """
    from ..errors import CheckFailed, dialect
    from ..plan import run_plan
    from ..recipe import load_recipe

    r = load_recipe(recipe)
    model = model or r.model_path()
    if not model:
        raise click.UsageError("give MODEL, or set 'model:' in the recipe")
    if not output and not dry_run:
        import os

        from .edit_cmds import default_output

        output = default_output(model, "." + os.path.splitext(os.path.basename(recipe))[0] + ".nnp")
    plan = r.plan()
    if networks:
        plan.default_networks = split_list(networks)
    with dialect("recipe"):
        results, _, checks = run_plan(model, plan, output, network_format, param_format, force, dry_run,
                                      r.expect, inputs=[recipe])
    failed = [c for c in checks if not c["ok"]]
    if fmt == "json":
        print_json({"recipe": recipe, "model": model, "output": None if dry_run or failed else output,
                    "steps": [{"step": res.name, "changed": res.changed, "summary": res.summary,
                               "records": res.records, "notes": res.notes} for res in results],
                    "expect": checks})
    else:
        table(["step", "summary"], [[f"{i}. {res.name}", res.summary] for i, res in enumerate(results, 1)])
        for res in results:
            for note in res.notes:
                click.echo(f"{res.name}: {note}", err=True)
        if checks:
            click.echo("")
            table(["expect", "ok", "detail"], [[c["check"], "yes" if c["ok"] else "NO", c["detail"]] for c in checks])
    if failed:
        raise CheckFailed(f"{len(failed)} expectation(s) failed ({', '.join(c['check'] for c in failed)}); "
                          f"{output or 'nothing'} was not written")
    if dry_run:
        if r.expect:
            click.echo("expectations are checked only when the recipe is applied for real", err=True)
    else:
        click.echo(f"applied {len(results)} step(s) of {recipe} to {model}; wrote {output}", err=True)


@click.command()
@click.argument("recipe", metavar="RECIPE")
def check(recipe):
    """Validate RECIPE without a model: keys, value types and ranges, step names, function types and
    arguments, and that the files it names exist."""
    from ..recipe import load_recipe

    r = load_recipe(recipe)
    click.echo(f"{recipe}: valid recipe, {len(r.steps)} step(s): {', '.join(s.name for s in r.steps)}"
               + (f"; {len(r.expect)} expectation group(s)" if r.expect else ""))
