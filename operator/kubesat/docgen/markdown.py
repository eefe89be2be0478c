"""Small helpers that write Markdown the same way on every run (tables, escaping)."""

from __future__ import annotations

import html
from collections.abc import Sequence


def cell(text: str) -> str:
    """Text for one table cell: one line, pipes and HTML escaped, emphasis markers literal."""
    flat = " ".join(text.split())
    return html.escape(flat, quote=False).replace("|", "\\|").replace("*", "\\*")


def code(text: str) -> str:
    """Inline code that survives a table cell (a pipe inside code still ends the cell)."""
    flat = " ".join(text.split())
    ticks = "``" if "`" in flat else "`"
    pad = " " if ticks == "``" else ""
    escaped = flat.replace("|", "\\|")
    return f"{ticks}{pad}{escaped}{pad}{ticks}"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """A Markdown table whose cells are already escaped (see :func:`cell`, :func:`code`)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def banner(sources: Sequence[str]) -> str:
    """The line that says a page is generated, from what, and how to regenerate it."""
    named = ", ".join(f"`{source}`" for source in sources)
    return (
        f"<!-- Generated from {named} by `make reference` (python -m kubesat.docgen). "
        "Do not edit: change the source and regenerate. -->"
    )
