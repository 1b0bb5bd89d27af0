"""The pipeline's own JSON files (`pipelines/kept_json.py`) are replaced whole or not at all."""

from __future__ import annotations

import json

import pytest

from pipelines.kept_json import write_kept_json


def test_written_whole_with_chinese_kept_and_nothing_left_beside(tmp_path):
    path = tmp_path / "index.json"
    write_kept_json(path, {"税收明细_202401.csv": [1, 2]})
    assert "税收明细" in path.read_text(encoding="utf-8")  # not escaped
    assert json.loads(path.read_text(encoding="utf-8")) == {"税收明细_202401.csv": [1, 2]}
    write_kept_json(path, {"b": 2})
    assert json.loads(path.read_text(encoding="utf-8")) == {"b": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["index.json"]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary_one(tmp_path):
    path = tmp_path / "memo.json"
    write_kept_json(path, {"key": "a"})
    with pytest.raises(TypeError):
        write_kept_json(path, {"key": object()})  # not serialisable: fails before the rename
    assert json.loads(path.read_text(encoding="utf-8")) == {"key": "a"}
    assert [p.name for p in tmp_path.iterdir()] == ["memo.json"]
