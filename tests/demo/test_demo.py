"""Tests of the demo raw-area generator (county scale only; < 60 s)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from pipelines.demo import scale_spec, write_demo_raw_area
from pipelines.demo.identifiers import (
    make_person_ids,
    make_usccs,
    person_id_is_valid,
    uscc_is_valid,
)

RULES = {"uscc_invalid", "person_id_invalid", "unknown_town", "industry_invalid", "duplicate_key",
         "required_missing", "value_invalid", "out_of_range"}

# ---------------------------------------------------------------- independent pure-Python checks
CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def py_uscc_ok(s: str) -> bool:
    if len(s) != 18 or any(c not in CHARSET for c in s):
        return False
    total = sum(CHARSET.index(c) * (3**i % 31) for i, c in enumerate(s[:17]))
    return CHARSET[(31 - total % 31) % 31] == s[17]


def py_pid_ok(s: str) -> bool:
    if len(s) != 18 or not s[:17].isdigit():
        return False
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    total = sum(int(c) * w for c, w in zip(s[:17], weights, strict=True))
    return "10X98765432"[total % 11] == s[17]


def norm_pid(s: str) -> str:
    s = s.replace(" ", "").translate({0xFF10 + d: str(d) for d in range(10)} | {ord("Ｘ"): "X"})
    return s.upper()


def sha_tree(root: Path) -> dict[str, tuple[str, int]]:
    return {
        str(p.relative_to(root)): (hashlib.sha256(p.read_bytes()).hexdigest(), int(p.stat().st_mtime))
        for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def areas(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("demo")
    out = {}
    for name, seed in [("a", 7), ("b", 7), ("c", 8)]:
        write_demo_raw_area(base / name / "raw", "county", seed)
        out[name] = base / name
    return out


@pytest.fixture(scope="module")
def truth(areas) -> dict:
    t = areas["a"] / "raw_truth"
    return dict(
        town_year=pl.read_csv(t / "town_year.csv", infer_schema=False),
        bad=pl.read_csv(t / "bad_rows.csv", infer_schema=False),
        files=pl.read_csv(t / "files.csv", infer_schema=False),
        summary=json.loads((t / "summary.json").read_text(encoding="utf-8")),
        raw=areas["a"] / "raw",
    )


# ---------------------------------------------------------------- identifiers


def test_published_examples():
    assert py_pid_ok("11010519491231002X")
    assert py_uscc_ok("91350100M000100Y43")
    assert person_id_is_valid(["11010519491231002X", "110105194912310021", "11010519491231002"]).tolist() == [
        True, False, False]
    assert uscc_is_valid(["91350100M000100Y43", "91350100M000100Y44", "91350100M000100Y4"]).tolist() == [
        True, False, False]
    assert make_person_ids(np.array(["110105"]), np.array(["19491231"]), np.array([2]))[0] == "11010519491231002X"


def test_generated_identifiers_valid():
    rng = np.random.default_rng(3)
    u = make_usccs(2000, rng, np.array(["140823"] * 2000), rng.integers(1, 4, 2000))
    assert len(set(u.tolist())) == 2000
    assert all(py_uscc_ok(x) for x in u)
    p = make_person_ids(np.array(["140823"] * 500), np.array(["19800101"] * 500), np.arange(500))
    assert all(py_pid_ok(x) for x in p)
    assert uscc_is_valid(u).all() and person_id_is_valid(p).all()


# ---------------------------------------------------------------- determinism


def test_same_seed_same_bytes_and_mtimes(areas):
    a, b = sha_tree(areas["a"]), sha_tree(areas["b"])
    assert a == b
    assert len(a) > 80


def test_other_seed_differs(areas):
    a, c = sha_tree(areas["a"]), sha_tree(areas["c"])
    assert {k: v[0] for k, v in a.items()} != {k: v[0] for k, v in c.items()}


def test_truth_outside_raw(areas):
    raw = areas["a"] / "raw"
    assert not any("truth" in str(p) for p in raw.rglob("*"))
    assert (areas["a"] / "raw_truth" / "town_year.csv").exists()


def test_refuses_non_empty_out(areas):
    with pytest.raises(FileExistsError):
        write_demo_raw_area(areas["a"] / "raw", "county", 7)


# ---------------------------------------------------------------- sizes


def test_county_sizes(truth):
    s = truth["summary"]
    assert s["specialty_town_ids"] == ["140823-01", "140823-02", "140823-03"]
    for y, v in s["per_year"].items():
        assert v["enterprise_reports"] >= 600, y
        assert v["taxpayers"] >= 1500, y
        assert v["insured_persons_december"] >= 15000, y


def test_larger_scale_plans():
    for scale, mins in [("city", (6000, 15000, 150000)), ("province", (60000, 150000, 1_000_000))]:
        sp = scale_spec(scale)
        assert (sp.min_reports, sp.min_taxpayers, sp.min_insured) == mins
        assert sp.reporters >= 1.1 * sp.min_reports
        assert sp.reporters + sp.taxpayer_others >= 1.2 * sp.min_taxpayers
        assert sp.persons >= 1.1 * sp.min_insured
    assert scale_spec("province").register >= 300_000
    assert len(scale_spec("city").county_codes) == 13
    with pytest.raises(ValueError):
        scale_spec("nation")


# ---------------------------------------------------------------- bad rows and files


def test_every_rule_present(truth):
    bad = truth["bad"]
    assert set(bad["rule"].unique()) == RULES
    for source in ["enterprise", "tax", "employment", "registry"]:
        assert bad.filter(pl.col("path").str.starts_with(source + "/")).height > 0
    dup = bad.filter(pl.col("rule") == "duplicate_key")
    assert set(dup["column"]) >= {"year;uscc", "period;uscc", "period;person_id;employer_uscc", "uscc"}
    # both rows of each duplicate pair are listed
    assert dup.group_by("path").len()["len"].min() % 2 == 0
    ratio = bad.height / truth["files"]["rows_read"].cast(pl.Int64).sum()
    assert 0.005 < ratio < 0.03


def _read_rows(path: Path) -> list[list[str]]:
    data = path.read_bytes()
    for enc in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    return list(csv.reader(io.StringIO(text)))


def test_bad_rows_point_at_broken_cells(truth):
    raw = truth["raw"]
    bad = truth["bad"].filter(pl.col("path").str.ends_with(".csv") & pl.col("path").str.starts_with("employment/"))
    path = bad["path"][0]
    rows = _read_rows(raw / path)
    sub = bad.filter(pl.col("path") == path)
    header_idx = next(i for i, r in enumerate(rows) if sum(1 for c in r if c in {
        "所属期", "税款所属期", "期间", "费款所属期", "公民身份号码", "身份证号", "户籍地区划代码", "户籍地代码",
        "单位统一社会信用代码", "参保单位信用代码", "统一社会信用代码"}) >= 3)
    header = rows[header_idx]
    pid_col = next(i for i, h in enumerate(header) if h in ("公民身份号码", "身份证号"))
    good_rows = set(range(header_idx + 2, len(rows) + 1)) - set(sub["source_row"].cast(pl.Int64).to_list())
    for r in sub.filter(pl.col("rule") == "person_id_invalid")["source_row"].cast(pl.Int64):
        assert not py_pid_ok(norm_pid(rows[r - 1][pid_col]))
    for r in sorted(good_rows)[:2000]:
        if any(rows[r - 1]):
            assert py_pid_ok(norm_pid(rows[r - 1][pid_col])), r


def test_file_statuses(truth):
    f = truth["files"]
    st = dict(zip(f["path"], f["status"], strict=True))
    assert "duplicate" in st.values()
    assert sum(1 for v in st.values() if v == "rejected") >= 4
    assert any(p.endswith(".pdf") for p, v in st.items() if v == "rejected")
    assert any("/" not in p for p, v in st.items() if v == "rejected")  # top of raw/
    assert not any(p.split("/")[-1].startswith(("~$", ".")) or p.endswith(".tmp") for p in st)
    raw = truth["raw"]
    assert (raw / "tax/.hidden.csv").exists()
    # the duplicate has the same bytes and a later mtime than its original
    dup = next(p for p, v in st.items() if v == "duplicate")
    orig = dup.replace(" - 副本", "")
    assert (raw / dup).read_bytes() == (raw / orig).read_bytes()
    assert (raw / dup).stat().st_mtime > (raw / orig).stat().st_mtime
    # the revision is later than the file it corrects
    rev = next(p for p in st if "更正" in p)
    year = rev.split("/")[1]
    originals = [p for p in st if p.startswith(f"enterprise/{year}/") and p != rev and st[p] == "loaded"]
    assert all((raw / rev).stat().st_mtime > (raw / o).stat().st_mtime for o in originals)
    # every file on disk that is not ignored is listed
    on_disk = {str(p.relative_to(raw)) for p in raw.rglob("*") if p.is_file()}
    ignored = {p for p in on_disk if p.split("/")[-1].startswith(("~$", ".")) or p.endswith(".tmp")}
    assert on_disk - ignored == set(st)
    loaded = f.filter(pl.col("status") == "loaded").with_columns(pl.col("^rows_.*$").cast(pl.Int64))
    assert (loaded["rows_read"] - loaded["rows_loaded"] == loaded["rows_rejected"]).all()


# ---------------------------------------------------------------- formats


def test_formats_present(truth):
    raw = truth["raw"]
    files = truth["files"].filter(pl.col("status") == "loaded")
    fmts = set(files["format"])
    assert {"csv-utf8", "csv-bom", "csv-gbk", "csv-gb18030", "xlsx"} <= fmts
    boms = [p for p in files["path"] if p.endswith(".csv") and (raw / p).read_bytes().startswith(b"\xef\xbb\xbf")]
    assert boms
    gbk = [p for p, f in zip(files["path"], files["format"], strict=True) if f == "csv-gbk"]
    with pytest.raises(UnicodeDecodeError):
        (raw / gbk[0]).read_bytes().decode("utf-8")
    texts = []
    for p in files["path"]:
        if p.endswith(".csv") and not p.startswith("reference/"):
            texts.append("\n".join(",".join(r) for r in _read_rows(raw / p)))
    blob = "\n".join(texts)
    for needle in ["单位：", "金额单位：", "（元）", "(元)", "(万元)", "（万元）", "(千元)", "(亿元)", "合计",
                   "000,", "—", "／".replace("／", "/"), "年", "月", "日"]:
        assert needle in blob, needle
    import re

    period_patterns = {
        "dash2": r"\n20\d\d-\d\d,", "dash1": r"\n20\d\d-[1-9],", "compact": r"\n20\d\d(0[1-9]|1[0-2]),",
        "slash1": r"\n20\d\d/[1-9],", "slash2": r"\n20\d\d/\d\d,", "cn1": r"\n20\d\d年[1-9]月,",
        "cn2": r"\n20\d\d年\d\d月,",
    }
    for name, pat in period_patterns.items():
        assert re.search(pat, blob) or re.search(pat.replace(r"\n", r"\n\d+,"), blob), name
    assert re.search(r",[CFAEH]\d{4},", blob)  # industry with section letter
    assert re.search(r"\d{1,3},\d{3}(,\d{3})*\.\d", blob) or '"' in blob  # thousands separators
    assert any(ch in blob for ch in "０１２３４５６７８９")  # full-width digits
    assert re.search(r"\d{17}x", blob)  # lowercase x
    assert re.search(r"\d{6} \d{8} \d{3}[\dX]", blob)  # person id with spaces
    assert re.search(r"[0-9a-z]{18}", blob) and re.search(r"9[0-9a-z]{5} ", blob)  # uscc variants
    assert ",,,,," in blob  # an entirely blank row


def test_xlsx_date_cells_and_title_rows(truth):
    raw = truth["raw"]
    xlsx = [p for p in truth["files"].filter(pl.col("status") == "loaded")["path"] if p.endswith(".xlsx")]
    assert xlsx
    found_date = False
    for p in xlsx:
        with zipfile.ZipFile(raw / p) as z:
            styles = z.read("xl/styles.xml").decode()
            sheet = z.read("xl/worksheets/sheet1.xml").decode()
        if "yyyy-mm-dd" in styles and ' s="1"' in sheet:
            found_date = True
    assert found_date
    first = pl.read_excel(raw / xlsx[0], has_header=False, engine="openpyxl")
    assert "年报" in str(first[0, 0])


# ---------------------------------------------------------------- truth consistency


def test_truth_consistency(truth):
    ty = truth["town_year"].with_columns(
        pl.col("year", "enterprises", "employees", "insured_persons", "market_entities").cast(pl.Int64))
    s = truth["summary"]
    assert ty["enterprises"].sum() == s["sources"]["enterprise"]["current_rows"]
    for y, v in s["per_year"].items():
        assert ty.filter(pl.col("year") == int(y))["enterprises"].sum() == v["enterprise_reports"]
        assert ty.filter(pl.col("year") == int(y))["insured_persons"].sum() >= v["insured_persons_december"] * 0.9
    files = truth["files"].with_columns(pl.col("^rows_.*$").cast(pl.Int64))
    ent = files.filter((pl.col("source") == "enterprise") & (pl.col("status") == "loaded"))
    assert ent["rows_loaded"].sum() == s["sources"]["enterprise"]["valid_rows"]
    assert s["sources"]["enterprise"]["current_rows"] == (
        s["sources"]["enterprise"]["valid_rows"] - s["sources"]["enterprise"]["revised_rows"])
    # money has exactly two decimals; town codes are known 9-digit Wenxi towns
    assert ty["output_value"].str.contains(r"^-?\d+\.\d\d$").all()
    assert ty["town_code"].str.starts_with("140823").all()
    bad = truth["bad"]
    n_bad_ent = bad.filter(pl.col("path").str.starts_with("enterprise/")).height
    assert ent["rows_rejected"].sum() == n_bad_ent


def test_specialty_towns_plausible(truth):
    t = truth["raw"].parent / "raw_truth" / "specialty_town_year.csv"
    sy = pl.read_csv(t)
    glass = sy.filter(pl.col("specialty_town_id") == "140823-01")
    assert (glass["leading_enterprises"] >= 1).all() and (glass["supporting_enterprises"] >= 10).all()
    assert (glass["output_value"] >= 500_000_000).all() and (glass["employees"] >= 2000).all()
    assert (glass["market_share"] >= 0.5).all()
    herbs = sy.filter(pl.col("specialty_town_id") == "140823-03")
    assert (herbs["output_value"] < 200_000_000).all()
    ref = pl.read_csv(truth["raw"] / "reference" / "specialty_towns.csv", infer_schema=False)
    assert set(ref.columns) == {"id", "name", "county_code", "host_town_codes", "category", "heritage",
                                "national_market", "core_industry_codes", "supporting_industry_codes"}
    lead = pl.read_csv(truth["raw"] / "reference" / "leading_enterprises.csv", infer_schema=False)
    assert all(py_uscc_ok(u) for u in lead["uscc"])
