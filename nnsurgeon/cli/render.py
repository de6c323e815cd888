"""Printing rows as a table, JSON or CSV."""
import csv
import io
import json
import os
import shutil
import sys
from typing import Dict, List, Optional, Sequence

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


def terminal_width(wide: bool = False) -> Optional[int]:
    """The width tables fit: ``COLUMNS`` when set (as :func:`shutil.get_terminal_size` honours it), else the
    terminal's width when stdout is one; None (no limit) with ``wide`` or when piped with ``COLUMNS`` unset."""
    if wide:
        return None
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    if sys.stdout.isatty():
        return shutil.get_terminal_size().columns
    return None


def shorten(text: str, width: int) -> str:
    """``text`` cut in the middle to ``width`` characters (``abc...xyz``), so both ends stay readable."""
    if len(text) <= width:
        return text
    if width <= 3:
        return text[:width]
    keep = width - 3
    head = (keep + 1) // 2
    return text[:head] + "..." + (text[len(text) - (keep - head):] if keep - head else "")


def fit_widths(headers: Sequence[str], widths: List[int], limit: Optional[int], gap: int = 2,
               order: Optional[Sequence[Sequence[int]]] = None) -> List[int]:
    """Column widths whose total fits ``limit``: within each group of ``order`` (default: all columns), in
    turn, the widest column gives up a character at a time, none going below its header or 8 characters (a
    table may stay wider when even that does not fit)."""
    widths = list(widths)
    if limit is None:
        return widths
    floor = [min(w, max(len(h), 8)) for h, w in zip(headers, widths)]
    for group in order or [range(len(widths))]:
        while sum(widths) + gap * (len(widths) - 1) > limit:
            room = [i for i in group if widths[i] > floor[i]]
            if not room:
                break
            i = max(room, key=lambda j: (widths[j], j))
            widths[i] -= 1
    return widths


def table(headers: Sequence[str], rows: List[Sequence], out=None, wide: bool = False,
          width: Optional[int] = None, shrink: Optional[Sequence[Sequence[str]]] = None) -> bool:
    """A plain aligned text table: header, a rule, rows; fitted to the terminal (:func:`terminal_width`, or
    ``width``) by shortening long cells in the middle, unless ``wide``. ``shrink``: groups of column headers
    shortened first, in turn (then every column)."""
    cells = [[str(c) for c in r] for r in rows]
    widths = [len(h) for h in headers]
    for r in cells:
        widths = [max(w, len(c)) for w, c in zip(widths, r)]
    order = [[headers.index(h) for h in group if h in headers] for group in shrink or []]
    order.append(list(range(len(headers))))
    widths = fit_widths(headers, widths, None if wide else (width or terminal_width()), order=order)
    lines = ["  ".join(shorten(h, w).ljust(w) for h, w in zip(headers, widths)).rstrip(),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(shorten(c, w).ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells]
    click.echo("\n".join(lines), file=out)
    return any(len(c) > w for r in [list(headers)] + cells for c, w in zip(r, widths))


def print_json(data) -> None:
    click.echo(json.dumps(data, indent=2))


def print_csv(headers: Sequence[str], rows: List[Sequence]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(headers)
    writer.writerows(rows)
    click.echo(buffer.getvalue(), nl=False)
