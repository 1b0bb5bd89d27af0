"""Text laid out for a terminal: display widths of Chinese (double-width) characters.

A character whose East Asian Width is W (wide) or F (fullwidth) takes two columns, a
combining mark none, everything else one (ambiguous-width characters are taken as narrow,
as Western terminals show them; the tables here draw their borders in ASCII so that a
terminal in a CJK locale lays them out the same way).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

ELLIPSIS = "..."


def char_width(ch: str) -> int:
    """Columns one character takes on a terminal: 2 for wide/fullwidth, 0 for combining."""
    if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def display_width(text: str) -> int:
    """Columns ``text`` takes on a terminal."""
    return sum(char_width(ch) for ch in text)


def truncate(text: str, width: int) -> str:
    """``text`` cut to at most ``width`` columns, ending in ``...`` when cut."""
    if display_width(text) <= width:
        return text
    room = max(width - len(ELLIPSIS), 0)
    out, used = [], 0
    for ch in text:
        w = char_width(ch)
        if used + w > room:
            break
        out.append(ch)
        used += w
    return "".join(out) + ELLIPSIS[: max(width - used, 0)]


def pad(text: str, width: int, align: str = "left") -> str:
    """``text`` padded with spaces to exactly ``width`` columns (cut first if wider)."""
    text = truncate(text, width)
    gap = width - display_width(text)
    if align == "right":
        return " " * gap + text
    if align == "center":
        return " " * (gap // 2) + text + " " * (gap - gap // 2)
    return text + " " * gap


def wrap(text: str, width: int) -> list[str]:
    """``text`` broken into lines of at most ``width`` columns: at spaces when a line has
    one, anywhere between two characters otherwise (Chinese has no spaces between words)."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for ch in paragraph:
            if display_width(line) + char_width(ch) <= width:
                line += ch
                continue
            cut = line.rfind(" ")
            if ch != " " and cut > 0 and display_width(line[:cut]) >= width // 2:
                lines.append(line[:cut].rstrip())
                line = line[cut + 1 :] + ch
            else:
                lines.append(line.rstrip())
                line = "" if ch == " " else ch
        lines.append(line.rstrip())
    return lines


def table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    aligns: Sequence[str] | None = None,
    max_widths: Sequence[int | None] | None = None,
) -> list[str]:
    """An ASCII-bordered table; every line has the same display width.

    ``aligns`` per column: ``left`` (default), ``right`` or ``center``. ``max_widths`` cuts a
    column's cells (with ``...``) to at most that many columns.
    """
    n = len(headers)
    aligns = list(aligns or ["left"] * n)
    widths = [display_width(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], display_width(cell))
    if max_widths:
        widths = [
            min(w, max(m, display_width(h))) if m else w
            for w, m, h in zip(widths, max_widths, headers, strict=True)
        ]
    rule = "+" + "+".join("-" * (w + 2) for w in widths) + "+"

    def line(cells: Sequence[str], align: Sequence[str]) -> str:
        return "|" + "|".join(
            f" {pad(c, w, a)} " for c, w, a in zip(cells, widths, align, strict=True)
        ) + "|"

    out = [rule, line(headers, ["center"] * n), rule.replace("-", "=")]
    out += [line(row, aligns) for row in rows]
    out.append(rule)
    return out


def boxed(lines: Sequence[str], width: int) -> list[str]:
    """Text lines inside ``| ... |`` borders, wrapped to a box ``width`` columns wide."""
    inner = width - 4
    out = []
    for text in lines:
        for piece in wrap(text, inner):
            out.append(f"| {pad(piece, inner)} |")
    return out
