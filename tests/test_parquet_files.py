"""The pipeline's Parquet files: zstd at the level chosen in pipelines/parquet.py, rows intact."""

import polars as pl
import pyarrow.parquet as pq

from pipelines.parquet import write_parquet


def test_frames_and_lazy_frames_are_written_with_the_chosen_codec(tmp_path):
    df = pl.DataFrame({"period": ["2024-01", None, "2024-03"], "n": [1, 2, None]})
    for name, frame in (("eager", df), ("lazy", df.lazy())):
        path = tmp_path / f"{name}.parquet"
        write_parquet(frame, path)
        assert pl.read_parquet(path).equals(df)
        meta = pq.ParquetFile(path).metadata
        assert {meta.row_group(0).column(i).compression for i in range(meta.num_columns)} == {"ZSTD"}
