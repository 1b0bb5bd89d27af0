"""The warehouse data dictionary (`docs/data-dictionary.md`), rendered from `tables.py`.

Regenerate with `python -m pipelines.warehouse.dictionary`.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.dialects import postgresql

from .tables import READER_ROLE, SPECS, TABLES, reader_can_read

DOC_PATH = Path(__file__).resolve().parents[2] / "docs" / "data-dictionary.md"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_data_dictionary() -> str:
    """Markdown: every table and column with type, key, nullability, comments, readability."""
    dialect = postgresql.dialect()
    out = [
        "# Warehouse data dictionary",
        "",
        "Generated from `pipelines/warehouse/tables.py` by `python -m pipelines.warehouse.dictionary`;",
        "do not edit by hand. Types are PostgreSQL's (SQLite stores the same values: dates as",
        "`YYYY-MM-DD` text, timestamps as UTC text, booleans as 0/1). Money is in yuan.",
        f"`{READER_ROLE}` is the role other departments' tools connect as (contract section 3).",
        "",
        f"| table | key | {READER_ROLE} reads | content |",
        "|---|---|---|---|",
    ]
    for spec in SPECS:
        out.append(
            f"| [{spec.name}](#{spec.name}) | {', '.join(spec.key)} | "
            f"{'yes' if reader_can_read(spec.name) else 'no'} | {_cell(spec.zh)} / {_cell(spec.en)} |"
        )
    for spec in SPECS:
        table = TABLES[spec.name]
        out += [
            "",
            f"## {spec.name}",
            "",
            f"{spec.zh} / {spec.en}.",
            "",
            f"Key: ({', '.join(spec.key)}). Indexes: "
            + (", ".join("(" + ", ".join(ix) + ")" for ix in spec.indexes) or "none")
            + f". Readable by `{READER_ROLE}`: {'yes' if reader_can_read(spec.name) else 'no'}.",
            "",
            "| # | column | type | key | nullable | 说明 | description |",
            "|---|---|---|---|---|---|---|",
        ]
        for i, col in enumerate(spec.columns, 1):
            sql_type = table.c[col.name].type.compile(dialect=dialect)
            out.append(
                f"| {i} | `{col.name}` | {sql_type} | {'PK' if col.name in spec.key else ''} | "
                f"{'no' if col.required else 'yes'} | {_cell(col.zh)} | {_cell(col.en)} |"
            )
    return "\n".join(out) + "\n"


def write_data_dictionary(path: Path = DOC_PATH) -> Path:
    path.write_text(render_data_dictionary(), encoding="utf-8")
    return path


if __name__ == "__main__":  # pragma: no cover
    print(write_data_dictionary())
