"""One plain-text table: every row a measured figure, its comparison, the ratio and the budget."""

from __future__ import annotations

from collections.abc import Sequence

HEADERS = ("Measure", "Result", "Compared with", "Ratio", "Budget", "Met")


def render(title: Sequence[str], rows: Sequence[Sequence[str]], notes: Sequence[str]) -> str:
    widths = [max(len(str(row[i])) for row in (HEADERS, *rows) if len(row) > 1) for i in range(len(HEADERS))]
    rule = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    total = len(rule)

    def line(cells: Sequence[str]) -> str:
        if len(cells) == 1:  # a section heading across the whole table
            return "| " + cells[0].ljust(total - 4) + " |"
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    out = [rule, *(line([t]) for t in title), rule, line(HEADERS), rule]
    for row in rows:
        if len(row) == 1:
            out += [line(row), rule] if out[-1] == rule else [rule, line(row), rule]
        else:
            out.append(line(row))
    out.append(rule)
    out += [f"  {note}" for note in notes]
    return "\n".join(out)
