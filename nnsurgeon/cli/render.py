"""Printing rows as a table, JSON or CSV."""
import csv
import io
import json
from typing import Dict, List, Sequence

import click


def shape_text(shape) -> str:
    return "?" if shape is None else "(" + ",".join(str(d) for d in shape) + ")"


def ports_text(ports: Sequence[Dict]) -> str:
    return " ".join(f"{p['name']}{shape_text(p['shape'])}" for p in ports)


def args_text(args: Dict) -> str:
    return " ".join(f"{k}={_compact(v)}" for k, v in args.items())


def _compact(v) -> str:
    if isinstance(v, (list, tuple)):
        return "(" + ",".join(str(x) for x in v) + ")"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def table(headers: Sequence[str], rows: List[Sequence], out=None) -> None:
    """A plain aligned text table: header, a rule, rows."""
    cells = [[str(c) for c in r] for r in rows]
    widths = [len(h) for h in headers]
    for r in cells:
        widths = [max(w, len(c)) for w, c in zip(widths, r)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip(),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells]
    click.echo("\n".join(lines), file=out)


def print_json(data) -> None:
    click.echo(json.dumps(data, indent=2))


def print_csv(headers: Sequence[str], rows: List[Sequence]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(headers)
    writer.writerows(rows)
    click.echo(buffer.getvalue(), nl=False)
