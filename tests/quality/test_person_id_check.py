"""The `no_clear_person_id` check of dq/files as a function (`clear_id_where`): which echoed
values read as a person ID (contract section 4), counted by table and column."""

from __future__ import annotations

import polars as pl

from pipelines.quality.person_ids import clear_id_where

ID18 = "110101199003078515"
ID15 = "110101900307851"


def dq_file(paths: list[str], messages: list[str], sha: str = "0" * 64) -> pl.DataFrame:
    return pl.DataFrame({"file_id": ["f"] * len(paths), "path": paths, "sha256": [sha] * len(paths),
                         "message": messages})


def rejected(values: list[str | None], messages: list[str] | None = None) -> pl.DataFrame:
    n = len(values)
    return pl.DataFrame({"path": ["employment/2024.csv"] * n, "column": ["person_id"] * n,
                         "value": values, "message": messages or ["身份证号无效 / invalid"] * n},
                        schema={"path": pl.String, "column": pl.String, "value": pl.String,
                                "message": pl.String})


def test_clean_echoes_pass():
    frames = {"dq_file": dq_file(["employment/2024.csv"], [""]),
              "dq_rejected_row": rejected(["***", None, "11010119900307851512"])}  # 20 digits
    assert clear_id_where(frames) == {}


def test_ids_found_by_column_and_hashes_not_scanned():
    frames = {
        # a person ID in a file name; the sha256 column's digits are not an echo
        "dq_file": dq_file([f"employment/{ID18}.csv", "tax/2024.csv"], ["", ""],
                           sha="9" * 18 + "a" * 46),
        # an 18-character ID with X, a 15-digit one, and one masked
        "dq_rejected_row": rejected([ID18[:17] + "X", f"值 {ID15} 无效", "***"]),
    }
    assert clear_id_where(frames) == {"dq_file.path": 1, "dq_rejected_row.value": 2}


def test_a_table_or_column_absent_is_skipped():
    frames = {"dq_rejected_row": rejected([ID18]).drop("message")}
    assert clear_id_where(frames) == {"dq_rejected_row.value": 1}
