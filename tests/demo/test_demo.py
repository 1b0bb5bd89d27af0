"""Tests of the demo raw-area generator (county scale only; one refresh, shared with tests/lineage)."""

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


# ---------------------------------------------------------------- targets and progress within a year (contract 6.2)

TOWN_LEVELS = {"town": "town", "乡镇": "town", "specialty_town": "specialty_town", "专业镇": "specialty_town"}


def _accepted_targets(raw: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    """reference/targets.csv read here, by the contract's rules (not the pipeline's code): the
    rows it accepts (level and id normalised, target a number) and the source rows it rejects."""
    t = pl.read_csv(raw / "reference" / "targets.csv", infer_schema=False).with_row_index("i")
    towns = set(pl.read_csv(raw / "reference" / "towns.csv", infer_schema=False)["town_code"])
    specialty = set(pl.read_csv(raw / "reference" / "specialty_towns.csv", infer_schema=False)["id"])
    rows, rejected = [], []
    for r in t.iter_rows(named=True):
        level = TOWN_LEVELS.get(r["level"].strip().lower())
        ident = r["id"].strip()
        if level == "town" and len(ident) == 12 and ident.endswith("000"):
            ident = ident[:9]
        try:
            target = float(r["target"].replace(",", ""))
        except ValueError:
            target = None
        known = ident in (towns if level == "town" else specialty)
        if level is None or not known or target is None:
            rejected.append(r["i"] + 2)  # header on row 1
            continue
        rows.append(dict(level=level, id=ident, year=int(r["year"]), indicator=r["indicator"], target=target))
    return pl.DataFrame(rows), pl.DataFrame({"source_row": rejected})


def test_targets_file(truth):
    raw = truth["raw"]
    s = truth["summary"]
    y_last = max(int(y) for y in s["per_year"])
    text = (raw / "reference" / "targets.csv").read_bytes().decode("utf-8")  # UTF-8 (contract 6.2)
    assert text.splitlines()[0] == "level,id,year,indicator,target"
    acc, rej = _accepted_targets(raw)
    # 3 specialty towns x 7 targets (output_value, tax_total, supporting_enterprises for both
    # years, employees for the next) + 5 towns x 4 (tax_total, insured_persons, both years)
    assert acc.height == 3 * 7 + 5 * 4 == s["targets"]["accepted"]
    assert acc.select("level", "id", "year", "indicator").is_unique().all()
    assert set(acc["year"]) == {y_last, y_last + 1}
    # the two planted bad rows, recorded in the truth at their rows, and the file's counts
    bad = truth["bad"].filter(pl.col("path") == "reference/targets.csv")
    assert sorted(bad["source_row"].cast(pl.Int64).to_list()) == rej["source_row"].to_list()
    assert set(zip(bad["column"], bad["rule"], strict=True)) == {("id", "unknown_town"), ("target", "value_invalid")}
    f = truth["files"].filter(pl.col("path") == "reference/targets.csv").row(0, named=True)
    assert (f["status"], int(f["rows_read"]), int(f["rows_loaded"])) == ("loaded", acc.height + 2, acc.height)
    # the Chinese spellings of the level and a 12-digit town code are exercised
    assert {"乡镇", "专业镇"} <= set(pl.read_csv(raw / "reference" / "targets.csv", infer_schema=False)["level"])
    assert any(len(i) == 12 for i in pl.read_csv(raw / "reference" / "targets.csv", infer_schema=False)["id"])
    # every specialty town: output_value and tax_total for both years; towns: tax and insured
    spec = acc.filter(pl.col("level") == "specialty_town")
    assert set(spec["id"]) == set(s["specialty_town_ids"])
    for ind in ("output_value", "tax_total"):
        assert spec.filter(pl.col("indicator") == ind).height == 2 * len(s["specialty_town_ids"])
    towns = acc.filter(pl.col("level") == "town")
    assert set(towns["indicator"]) == {"tax_total", "insured_persons"} and towns["id"].n_unique() == 5
    # plausible against the demo's own numbers: the last report year's value x 0.9-1.15
    ty = truth["town_year"].filter(pl.col("year") == str(y_last)).select(
        pl.col("town_code").alias("id"), pl.col("tax_total").cast(pl.Float64),
        pl.col("insured_persons").cast(pl.Float64)).unpivot(index="id", variable_name="indicator",
                                                            value_name="base")
    sy = pl.read_csv(raw.parent / "raw_truth" / "specialty_town_year.csv").filter(pl.col("year") == y_last).select(
        pl.col("specialty_town_id").alias("id"), pl.col("output_value").cast(pl.Float64),
        pl.col("supporting_enterprises").cast(pl.Float64), pl.col("employees").cast(pl.Float64),
    ).unpivot(index="id", variable_name="indicator", value_name="base")
    ratio = acc.join(pl.concat([ty, sy]), on=["id", "indicator"], how="inner").with_columns(
        (pl.col("target") / pl.col("base")).alias("r"))
    assert ratio.height == acc.height - 2 * 3  # specialty towns' tax_total: not in the truth tables
    assert ratio["r"].min() >= 0.85 and ratio["r"].max() <= 1.2
    assert ratio.filter(pl.col("year") == y_last + 1)["r"].min() >= 1.0
    # some of the last year's targets are met, some missed
    last = ratio.filter(pl.col("year") == y_last)
    assert 0 < (last["r"] <= 1).sum() < last.height


def _tax_frame(path: Path, bad_rows: set[int]) -> pl.DataFrame:
    """A monthly tax CSV read with polars, by the contract's header and cell rules: period,
    uscc, total_tax (the given total, else the sum of the parts); planted bad rows dropped."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("gb18030")
    lines = text.splitlines()
    head = next(i for i, ln in enumerate(lines) if sum(h in ln for h in ("所属期", "增值税", "企业所得税")) >= 2)
    df = pl.read_csv(io.StringIO("\n".join(lines[head:])), infer_schema=False).with_row_index("source_row",
                                                                                            offset=head + 2)
    import re

    canon = {"所属期": "period", "税款所属期": "period", "期间": "period", "费款所属期": "period", "period": "period",
             "纳税人识别号": "uscc", "统一社会信用代码": "uscc", "信用代码": "uscc",
             "增值税": "vat", "企业所得税": "cit", "其他税收": "other", "税收合计": "total"}
    df = df.rename({c: canon[re.sub(r"[（(].*[)）]$", "", c)] for c in df.columns
                    if re.sub(r"[（(].*[)）]$", "", c) in canon})
    df = df.filter(~pl.col("source_row").is_in(sorted(bad_rows)) & pl.col("uscc").is_not_null())

    def num(c: str) -> pl.Expr:
        if c not in df.columns:
            return pl.lit(None, pl.Float64)
        v = pl.col(c).str.strip_chars()
        return pl.when(v.is_in(["", "-", "—", "——", "－", "/", "无"])).then(None).otherwise(
            v.str.replace_all(",", "")).cast(pl.Float64)

    parts = pl.when(num("vat").is_null() & num("cit").is_null() & num("other").is_null()).then(None).otherwise(
        pl.sum_horizontal(num("vat"), num("cit"), num("other")))
    digits = pl.col("period").str.replace_all(r"\D", "")
    return df.select(
        pl.concat_str([digits.str.slice(0, 4), pl.lit("-"), digits.str.slice(4).str.zfill(2)]).alias("period"),
        pl.col("uscc").str.replace_all(" ", "").str.to_uppercase(),
        pl.coalesce(num("total"), parts).alias("total_tax"),
    )


def test_progress_months_of_the_next_year(truth):
    raw = truth["raw"]
    s = truth["summary"]
    y_last = max(int(y) for y in s["per_year"])
    nxt = y_last + 1
    assert s["progress"] == {"year": nxt, "months": 3, "tax_rows": s["progress"]["tax_rows"]}
    files = truth["files"]
    for source, stem in (("tax", "税收明细"), ("employment", "参保明细")):
        names = sorted(p.name for p in (raw / source / str(nxt)).iterdir())
        assert names == [f"{stem}_{nxt}{m:02d}.csv" for m in (1, 2, 3)], names
        listed = files.filter(pl.col("path").str.starts_with(f"{source}/{nxt}/"))
        assert listed.height == 3 and (listed["status"] == "loaded").all()
    # the indicator truth stays with the report years
    assert set(truth["town_year"]["year"].cast(pl.Int64)) == {int(y) for y in s["per_year"]}
    # the same taxpayers, roughly, and plausible amounts: a quarter that is 15-35 % of last year's total
    bad = truth["bad"]
    frames = []
    for m in (1, 2, 3):
        rel = f"tax/{nxt}/税收明细_{nxt}{m:02d}.csv"
        rows = set(bad.filter(pl.col("path") == rel)["source_row"].cast(pl.Int64).to_list())
        frames.append(_tax_frame(raw / rel, rows))
    q1 = pl.concat(frames)
    assert set(q1["period"]) == {f"{nxt}-{m:02d}" for m in (1, 2, 3)}
    assert q1.height == s["progress"]["tax_rows"]
    last_total = truth["town_year"].filter(pl.col("year") == str(y_last))["tax_total"].cast(pl.Float64).sum()
    assert 0.15 < q1["total_tax"].sum() / last_total < 0.35
    per_month = q1.group_by("period").agg(pl.col("uscc").n_unique())["uscc"]
    assert per_month.min() > 0.9 * per_month.max() and per_month.min() > 1500


def _registry_towns(raw: Path, bad: pl.DataFrame) -> pl.DataFrame:
    """(uscc, town_code) of the register files as read here (xlsx with polars, CSV with csv),
    the planted bad rows dropped (a rejected register row gives its entity no register town)."""
    import re

    out = []
    for path in sorted((raw / "registry").iterdir()):
        rel = f"registry/{path.name}"
        dropped = set(bad.filter(pl.col("path") == rel)["source_row"].cast(pl.Int64).to_list())
        if path.suffix == ".xlsx":
            rows = [[None if v is None else str(v) for v in r] for r in
                    pl.read_excel(path, has_header=False, engine="openpyxl", infer_schema_length=0,
                                  drop_empty_rows=False, drop_empty_cols=False).rows()]
        else:
            rows = _read_rows(path)
        head = next(i for i, r in enumerate(rows) if sum(c in ("统一社会信用代码", "信用代码", "乡镇代码", "所在地区划代码",
                                                                "区划代码", "成立日期", "名称") for c in r) >= 3)
        header = rows[head]
        u = next(i for i, h in enumerate(header) if h in ("统一社会信用代码", "信用代码", "uscc"))
        t = next(i for i, h in enumerate(header) if h in ("乡镇代码", "所在地区划代码", "区划代码", "town_code"))
        for k, r in enumerate(rows[head + 1:], start=head + 2):
            if k in dropped or not r or not r[u]:
                continue
            town = re.sub(r"\D", "", r[t] or "")
            town = town[:9] if len(town) == 12 and town.endswith("000") else town
            out.append((r[u].replace(" ", "").upper(), town))
    return pl.DataFrame(out, schema=["uscc", "town_code"], orient="row")


@pytest.fixture(scope="module")
def refreshed_demo(request):
    """The county demo (seed 7) refreshed into SQLite: the warehouse tests/lineage,
    tests/indicators and tests/evaluation share in one test process (one 50 s refresh)."""
    from tests.lineage.demo_warehouse import published_demo

    return published_demo(request, "sqlite")


def test_refreshed_demo_shows_progress_within_the_year(refreshed_demo):
    from pipelines.warehouse.read import read_table

    demo = refreshed_demo
    raw, truth_dir = demo.raw, demo.truth
    summary = json.loads((truth_dir / "summary.json").read_text(encoding="utf-8"))
    nxt = summary["progress"]["year"]
    key = ["level", "id", "year", "indicator"]
    et = read_table(demo.url, "eval_target").with_columns(pl.col("year").cast(pl.Int64))
    acc, _ = _accepted_targets(raw)
    # every accepted row of the file is evaluated, and only those
    assert et.height == acc.height
    assert et.join(acc.with_columns(pl.col("year").cast(pl.Int64)), on=key, how="anti").height == 0
    rejected = read_table(demo.url, "dq_rejected_row").filter(pl.col("path") == "reference/targets.csv")
    assert rejected.height == 2
    assert read_table(demo.url, "eval_gap").height > 0
    # eval_target as the generator's own records say (its truth), every cell
    want = pl.read_csv(truth_dir / "targets.csv", schema_overrides={
        "id": pl.String, "year": pl.Int64, "target": pl.Float64, "actual": pl.Float64, "latest_period": pl.String,
        "to_date": pl.Float64, "to_date_prev": pl.Float64})
    joined = want.join(et, on=key, how="full", coalesce=True, suffix="_got")
    assert joined.height == want.height == et.height
    for c in ("target", "actual", "to_date", "to_date_prev"):
        off = joined.filter(((pl.col(c) - pl.col(f"{c}_got")).abs() > 0.005)
                            | (pl.col(c).is_null() != pl.col(f"{c}_got").is_null()))
        assert off.height == 0, (c, off.select(*key, c, f"{c}_got"))
    assert (joined["met"] == joined["met_got"]).all()
    assert (joined["latest_period"].fill_null("") == joined["latest_period_got"].fill_null("")).all()
    met = et.filter(pl.col("year") == nxt - 1)["met"]
    assert 0 < met.sum() < met.len()  # some towns met last year's targets, some lag
    # the next year's tax targets: progress to March, with the year's actual still unknown
    tax_next = et.filter((pl.col("year") == nxt) & (pl.col("indicator") == "tax_total"))
    assert tax_next.height == 3 + 5
    assert (tax_next["latest_period"] == f"{nxt}-03").all() and tax_next["to_date"].null_count() == 0
    assert tax_next["actual"].null_count() == tax_next.height and not tax_next["met"].any()
    ins_next = et.filter((pl.col("year") == nxt) & (pl.col("indicator") == "insured_persons"))
    assert (ins_next["latest_period"] == f"{nxt}-03").all() and (ins_next["to_date"] > 0).all()
    # a second method: each town's January-March total_tax, from the raw files with polars;
    # the town of a taxpayer in a year without reports is its register town (contract 5, 6.2)
    bad = pl.read_csv(truth_dir / "bad_rows.csv", infer_schema=False)
    q1 = []
    for m in (1, 2, 3):
        rel = f"tax/{nxt}/税收明细_{nxt}{m:02d}.csv"
        q1.append(_tax_frame(raw / rel, set(bad.filter(pl.col("path") == rel)["source_row"].cast(pl.Int64))))
    reg = _registry_towns(raw, bad)
    assert reg["uscc"].is_unique().all()
    by_town = pl.concat(q1).join(reg, on="uscc", how="inner").group_by("town_code").agg(pl.col("total_tax").sum())
    expected = dict(by_town.iter_rows())
    towns = tax_next.filter(pl.col("level") == "town")
    assert towns.height == 5
    for r in towns.iter_rows(named=True):
        assert r["to_date"] == pytest.approx(expected[r["id"]], abs=0.01), r["id"]
