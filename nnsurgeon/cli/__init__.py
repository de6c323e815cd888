"""The command line: click only. Parses, calls the library, renders; the error boundary lives here.

Exit codes: 0 success, 1 a check failed (compare thresholds, expectations), 2 bad input or usage,
3 internal error, 130 interrupted (Ctrl-C; nothing written).
"""
import logging
import sys

import click

from .. import __version__
from ..errors import NnsurgeonError

COMMANDS = {  # name -> (module, function): loaded on use, so --help never imports NNabla
    "list-layers": ("nnsurgeon.cli.inspect_cmds", "list_layers"),
    "info": ("nnsurgeon.cli.inspect_cmds", "info"),
    "models": ("nnsurgeon.cli.inspect_cmds", "models"),
    "example": ("nnsurgeon.cli.inspect_cmds", "example"),
    "convert": ("nnsurgeon.cli.edit_cmds", "convert"),
    "quantize": ("nnsurgeon.cli.edit_cmds", "quantize"),
    "compare": ("nnsurgeon.cli.compare_cmd", "compare"),
    "sensitivity": ("nnsurgeon.cli.sensitivity_cmd", "sensitivity"),
    "extract": ("nnsurgeon.cli.activation_cmds", "extract"),
    "featuremaps": ("nnsurgeon.cli.activation_cmds", "featuremaps"),
    "report": ("nnsurgeon.cli.report_cmds", "report"),
    "draw": ("nnsurgeon.cli.report_cmds", "draw"),
    "apply": ("nnsurgeon.cli.recipe_cmds", "apply"),
    "check": ("nnsurgeon.cli.recipe_cmds", "check"),
    "export": ("nnsurgeon.cli.export_cmd", "export"),
}


class Group(click.Group):
    """Loads commands lazily and turns library errors into one ``Error:`` line and an exit code."""

    def parse_args(self, ctx, args):
        """``-v``/``--verbose`` is accepted anywhere on the line (before or after the command), up to ``--``."""
        args = list(args)
        end = args.index("--") if "--" in args else len(args)
        flags = [a for a in args[:end] if a in ("-v", "--verbose")]
        if flags:
            args = ["--verbose"] + [a for i, a in enumerate(args) if i >= end or a not in ("-v", "--verbose")]
        return super().parse_args(ctx, args)

    def list_commands(self, ctx):
        return list(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        import importlib

        module, attr = COMMANDS[name]
        return getattr(importlib.import_module(module), attr)

    def _memory_hint(self, ctx) -> str:
        command = self.get_command(ctx, ctx.invoked_subcommand) if ctx.invoked_subcommand else None
        if command is not None and any(p.name == "batch_size" for p in command.params):
            return "use a smaller --batch-size"
        return "the model or its data is too large for this machine's memory"

    def invoke(self, ctx):
        from ..errors import dialect
        from ..interrupt import install, interrupted, restore
        from ..model.output import committed

        committed.clear()  # what this command writes (an interrupt after a write is reported so)
        previous = install()
        try:
            with dialect("cli"):
                result = super().invoke(ctx)
                from .common import flush

                flush()
            if interrupted():  # an interrupt Python swallowed somewhere: still stop with 130
                raise KeyboardInterrupt
            return result
        except NnsurgeonError as e:
            click.echo(f"Error: {e}", err=True)
            ctx.exit(e.exit_code)
        except BrokenPipeError:  # output piped into `head` and the like: stop quietly, as Unix tools do
            import os

            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            ctx.exit(141)
        except KeyboardInterrupt:
            import signal

            signal.signal(signal.SIGINT, signal.SIG_IGN)  # more Ctrl-C while exiting must not break the exit
            click.echo(interrupted_message(), err=True)
            ctx.exit(130)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except MemoryError:
            click.echo(f"Error: out of memory; nothing was written; {self._memory_hint(ctx)}", err=True)
            ctx.exit(2)
        except Exception as e:  # our bug: one line, traceback only with -v
            from .._nnabla import is_out_of_memory

            if is_out_of_memory(e):
                click.echo(f"Error: out of memory; nothing was written; {self._memory_hint(ctx)}", err=True)
                ctx.exit(2)
            if ctx.obj and ctx.obj.get("verbose"):
                raise
            click.echo(f"Error: internal error ({type(e).__name__}: {e}); rerun with -v for the traceback "
                       "and report it", err=True)
            ctx.exit(3)
        finally:
            restore(previous)


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", prog_name="nnsurgeon")
@click.option("-v", "--verbose", is_flag=True, help="Show NNabla's log messages and tracebacks.")
@click.pass_context
def cli(ctx, verbose):
    """Graph surgery for NNabla .nnp models.

    MODEL is a path to an .nnp file, an .onnx file (converted in memory and checked against onnxruntime)
    or a pretrained name such as nnabla.models:imagenet/MobileNet (see 'nnsurgeon models').
    """
    ctx.obj = {"verbose": verbose}
    _show_notes(verbose)
    if verbose:
        from .._nnabla import set_verbose

        set_verbose(True)


class _NoteHandler(logging.Handler):
    """The library's warnings (``nnsurgeon`` logger) as ``note:`` lines on stderr; with -v its info too."""

    def emit(self, record):
        click.echo(f"note: {record.getMessage()}", err=True)


def _show_notes(verbose: bool) -> None:
    log = logging.getLogger("nnsurgeon")
    log.handlers = [h for h in log.handlers if not isinstance(h, _NoteHandler)] + [_NoteHandler()]
    log.setLevel(logging.INFO if verbose else logging.WARNING)
    log.propagate = False


def interrupted_message() -> str:
    from ..model.output import committed

    if committed:
        return f"Error: interrupted after {', '.join(committed)} had been written whole; nothing else was written"
    return "Error: interrupted; nothing was written"


def main(argv=None):
    """Console entry point: Ctrl-C at any point (also while the options are parsed) exits 130."""
    from ..interrupt import install, interrupted

    install()
    try:
        code = cli.main(args=argv, prog_name="nnsurgeon", standalone_mode=False)
        import signal

        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the work is done: a late Ctrl-C must not undo the exit
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo(interrupted_message(), err=True)
        code = 130
    except click.ClickException as e:
        e.show()
        code = e.exit_code
    if code == 130 or interrupted():
        # An interrupt can land inside a half-done import of NNabla, whose exit handler then fails noisily;
        # nothing is left to finish, so leave without running exit handlers.
        import os
        import signal

        signal.signal(signal.SIGINT, signal.SIG_IGN)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(130)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
