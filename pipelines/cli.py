"""`townstat`: the bureau's command line.

    townstat refresh      read the raw area, validate, compute, publish (through Dagster)
    townstat demo-data    write a realistic demo raw area (county, city or province)
    townstat status       what the warehouse holds: last refresh, files, rejected rows
    townstat doctor       what is installed and working, and what to do about each problem
    townstat targets      progress towards the county's yearly targets; --template: the xlsx to fill in
    townstat db grant-reader   create the read-only PostgreSQL role for other departments

The subcommands import what they need when they run: `townstat --help` answers at once,
without loading Dagster, Great Expectations or the report libraries (the documented
exception to top-level imports).

Exit codes of `refresh` (contract section 9): 0 published, 1 a blocking check stopped the
refresh (the previous warehouse is untouched), 2 bad arguments.
"""

import argparse
import sys
import time
from pathlib import Path

from pipelines import doctor, settings

EXIT_PUBLISHED, EXIT_BLOCKED, EXIT_USAGE = 0, 1, 2


def _print(msg: str) -> None:
    print(msg, flush=True)


def cmd_refresh(args: argparse.Namespace) -> int:
    raw = Path(args.raw or settings.raw_dir())
    if not raw.is_dir():
        print(f"错误：原始区文件夹不存在：{raw} / error: raw area folder not found: {raw}", file=sys.stderr)
        return EXIT_USAGE
    url = _url(args)
    from pipelines.refresh import run_refresh

    outcome = run_refresh(raw, url, progress=None if args.quiet else _print)
    _print(outcome.summary_text())
    return EXIT_PUBLISHED if outcome.published else EXIT_BLOCKED


def cmd_demo_data(args: argparse.Namespace) -> int:
    from pipelines.demo import write_demo_raw_area
    from pipelines.demo.spec import MIN_FRACTION

    out = Path(args.out)
    t0 = time.time()
    if args.fraction != 1.0 and args.scale != "province":
        print("错误：--fraction 只用于 --scale province / error: --fraction goes with --scale province",
              file=sys.stderr)
        return EXIT_USAGE
    if not MIN_FRACTION <= args.fraction <= 1.0:
        print(f"错误：--fraction 应在 {MIN_FRACTION} 与 1 之间 / error: --fraction must be {MIN_FRACTION} to 1, "
              f"not {args.fraction}", file=sys.stderr)
        return EXIT_USAGE
    summary = write_demo_raw_area(out, scale=args.scale, seed=args.seed, fraction=args.fraction,
                                  progress=None if args.quiet else _print)
    what = args.scale if args.fraction == 1.0 else f"{args.scale} × {args.fraction}"
    _print(f"演示数据已写入 {out}（{what}，种子 {args.seed}），用时 {time.time() - t0:.1f} 秒 / "
           f"demo raw area written to {out} ({what}, seed {args.seed}) in {time.time() - t0:.1f}s")
    if summary is not None and hasattr(summary, "truth_dir"):
        _print(f"真值 ground truth: {summary.truth_dir}")
    return 0


def _url(args: argparse.Namespace) -> str:
    """--warehouse, else WAREHOUSE_URL, else the default SQLite file."""
    from pipelines.warehouse.engine import warehouse_url

    return warehouse_url(args.warehouse)


def cmd_evaluate(args: argparse.Namespace) -> int:
    from pipelines.evaluation.terminal import evaluation_years, render_evaluation

    url = _url(args)
    _print(render_evaluation(url, args.year, args.criteria))
    return 0 if args.year in evaluation_years(url) else 1


def cmd_explain(args: argparse.Namespace) -> int:
    from pipelines.lineage.explain import LineageError, explain, render_explanation

    if bool(args.town) == bool(args.specialty_town):
        print("错误：请给出 --town 或 --specialty-town 之一 / error: give exactly one of --town or "
              "--specialty-town", file=sys.stderr)
        return EXIT_USAGE
    try:
        e = explain(_url(args), args.indicator, args.year, town=args.town,
                    specialty_town=args.specialty_town, raw_dir=args.raw)
    except LineageError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_USAGE
    _print(render_explanation(e, limit=args.limit))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from pipelines.reports.workbook import write_evaluation_workbook

    out = write_evaluation_workbook(_url(args), args.year, Path(args.out))
    _print(f"评价工作簿已写入 / evaluation workbook written: {out}")
    return 0


def _usage_error(zh: str, en: str) -> int:
    print(f"错误：{zh} / error: {en}", file=sys.stderr)
    return EXIT_USAGE


def cmd_targets(args: argparse.Namespace) -> int:
    if args.template:
        return _targets_template(args)
    if args.out is not None:
        return _usage_error("--out 只用于 --template", "--out goes with --template")
    if args.year is None:
        return _usage_error("请给出 --year（或用 --template 生成填报模板）",
                            "give --year (or --template to write the template)")
    from pipelines.evaluation.target_terminal import render_targets
    from pipelines.ingest.references import TARGET_LEVELS  # the spellings the targets file accepts

    if args.level is not None and args.level not in TARGET_LEVELS:
        valid = ", ".join(TARGET_LEVELS)
        return _usage_error(f"--level 只能是 {valid}", f"--level is one of {valid}")
    raw = args.raw or settings.raw_dir()
    view = render_targets(_url(args), args.year, TARGET_LEVELS[args.level] if args.level else None,
                          raw_hint=str(raw).rstrip("/"))
    _print(view.text.rstrip("\n"))
    return 0 if view.count else 1


def _targets_template(args: argparse.Namespace) -> int:
    if args.level is not None:
        return _usage_error("--level 不用于 --template", "--level does not go with --template")
    if args.out is None:
        return _usage_error("--template 需要 --out 文件名.xlsx", "--template needs --out FILE.xlsx")
    out = Path(args.out)
    if out.suffix.lower() != ".xlsx":
        return _usage_error(f"模板须保存为 .xlsx 文件：{out}", f"the template is an .xlsx file: {out}")
    raw = Path(args.raw or settings.raw_dir())
    try:
        inside = out.resolve().is_relative_to(raw.resolve())
    except OSError:
        inside = False
    if inside:
        # an empty targets.xlsx there would be in force at the next refresh: no targets at all
        return _usage_error(f"不要把空模板直接写进原始区 {raw}：请在别处生成、填好后再放入 {raw}/reference/targets.xlsx",
                            f"do not write the empty template into the raw area {raw}: write it elsewhere, "
                            f"fill it in, then put it in {raw}/reference/targets.xlsx")
    import datetime as dt

    from pipelines.evaluation.target_template import template_choices, write_target_template

    choices = template_choices(_url(args), raw)
    year = args.year or dt.date.today().year
    path = write_target_template(out, choices, year)
    _print(f"年度目标填报模板已写入 / targets template written: {path}\n"
           f"编号来源 / ids from: {choices.source_zh} / {choices.source_en}\n"
           f"填好后放入 / when filled in, put it in: {raw}/reference/targets.xlsx，再运行 / then run: townstat refresh")
    return 0


def cmd_quality_report(args: argparse.Namespace) -> int:
    from pipelines.reports.bureau import DASHBOARD, QUALITY
    from pipelines.reports.dashboard import write_dashboard
    from pipelines.reports.quality_report import write_quality_report

    folder = Path(args.out)
    folder.mkdir(parents=True, exist_ok=True)
    q = write_quality_report(_url(args), folder / QUALITY)
    d = write_dashboard(_url(args), folder / DASHBOARD)
    _print(f"数据质量报告 quality report: {q}\n图表 dashboard: {d}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from pipelines.refresh import warehouse_status
    from pipelines.status import open_instance, status_report

    url = _url(args)
    raw = Path(args.raw or settings.raw_dir())
    with open_instance() as instance:  # the instance `townstat refresh` and `make ui` share
        _print(status_report(url, raw, instance=instance))
    _print(warehouse_status(url))
    return 0


def cmd_grant_reader(args: argparse.Namespace) -> int:
    from pipelines.warehouse.roles import ReaderRoleError, grant_reader

    url = args.warehouse or settings.warehouse_url_given()
    if not url.startswith("postgresql"):
        print("错误：只读角色只适用于 PostgreSQL（用 --warehouse 或 WAREHOUSE_URL 指定）/ "
              "error: the reader role exists on PostgreSQL only (give --warehouse or WAREHOUSE_URL)",
              file=sys.stderr)
        return EXIT_USAGE
    try:
        granted = grant_reader(url, args.password or settings.reader_password())
    except ReaderRoleError as exc:
        print(f"错误 error: {exc}", file=sys.stderr)
        return 1
    _print("townstat_reader 可读 / may read: " + ", ".join(granted))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="townstat",
        description="专业镇统计数据管道 / specialty-town statistics pipeline for a Shanxi county "
                    "statistics bureau: raw files -> validated facts -> indicators -> evaluation -> "
                    "disclosure-controlled tables in a SQL warehouse.",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    r = sub.add_parser("refresh", help="刷新数据仓库 / refresh the warehouse from the raw area",
                       description="读取原始区全部文件，校验、计算指标、评价、披露控制后原子发布到数据仓库。"
                                   " / Read every file of the raw area, validate, compute indicators, "
                                   "evaluate, apply disclosure control and publish atomically. Exit 0: "
                                   "published; 1: a blocking check stopped it (previous state kept); 2: bad "
                                   "arguments.")
    r.add_argument("--raw", metavar="DIR", help="原始区文件夹 raw area (default: TOWNSTAT_RAW_DIR or ./raw)")
    r.add_argument("--warehouse", metavar="URL",
                   help="SQLAlchemy URL (default: WAREHOUSE_URL or sqlite:///warehouse/warehouse.sqlite)")
    r.add_argument("--quiet", action="store_true", help="只打印摘要 / print the summary only")
    r.set_defaults(func=cmd_refresh)

    d = sub.add_parser("demo-data", help="生成演示原始区 / write a realistic demo raw area",
                       description="按真实区划代码和 GB/T 4754-2017 行业生成确定性的演示数据（含约1%%错误行），"
                                   "并写出真值汇总。 / Write a deterministic demo raw area with real codes "
                                   "(about 1%% bad rows) and a ground-truth summary beside it.")
    d.add_argument("--scale", choices=["county", "city", "province"], default="county",
                   help="county = 闻喜县; city = 运城市 13 counties; province = 山西省 1,352 towns")
    d.add_argument("--fraction", type=float, default=1.0, metavar="F",
                   help="省的一部分（仅 province，0.01–1）：按代码排序的前 ceil(F×121) 个县级单位，各数量乘以 F / "
                        "part of the province (--scale province only, 0.01 to 1): the first ceil(F x 121) "
                        "county-level codes by code (117 counties and 4 development zones) and every count "
                        "times F; same files and formats, rows about F times the province's. E.g. "
                        "--fraction 0.25 for a quarter (default 1: the whole province, identical to no "
                        "--fraction)")
    d.add_argument("--seed", type=int, default=7, help="随机种子 random seed (default 7)")
    d.add_argument("--out", default="raw", metavar="DIR", help="输出文件夹 output folder (default ./raw)")
    d.add_argument("--quiet", action="store_true")
    d.set_defaults(func=cmd_demo_data)

    ev = sub.add_parser("evaluate", help="在终端打印专业镇评价 / print the specialty-town evaluation",
                        description="按认定标准打印某年度的专业镇评价（中文在前），供县领导小组办公室阅读。 / "
                                    "Print one year's evaluation against each criteria set.")
    ev.add_argument("--year", type=int, required=True, help="统计年度 statistical year")
    ev.add_argument("--criteria", metavar="SET", help="认定标准 criteria set (default: all), e.g. "
                                                      "municipal_yuncheng")
    ev.add_argument("--warehouse", metavar="URL")
    ev.set_defaults(func=cmd_evaluate)

    ex = sub.add_parser("explain", help="一个数字的来源行 / the rows behind one indicator value",
                        description="列出某个指标数值背后的原始行（文件、行号、数值）及其合计；只读事实表，不显示身份证号。"
                                    " / List the source rows (file, row, value) behind one indicator value "
                                    "and their sum. For staff: reads the fact tables, never shows a person ID.")
    ex.add_argument("--indicator", required=True, help="指标名 indicator, e.g. output_value, tax_total")
    ex.add_argument("--year", type=int, required=True)
    ex.add_argument("--town", help="乡镇代码或名称 town code or name")
    ex.add_argument("--specialty-town", dest="specialty_town", help="专业镇编号 specialty-town id")
    ex.add_argument("--limit", type=int, default=50, help="最多显示行数 rows shown (the sum covers all)")
    ex.add_argument("--raw", metavar="DIR", help="原始区 raw area (for the leading-enterprise list)")
    ex.add_argument("--warehouse", metavar="URL")
    ex.set_defaults(func=cmd_explain)

    rp = sub.add_parser("report", help="评价工作簿 (xlsx) / the evaluation workbook",
                        description="写出评价工作簿：每个认定标准一页，另有乡镇指标（公开版）和专业镇指标。 / "
                                    "Write the evaluation workbook: one sheet per criteria set, town and "
                                    "specialty-town indicators.")
    rp.add_argument("--year", type=int, required=True)
    rp.add_argument("--out", required=True, metavar="FILE.xlsx")
    rp.add_argument("--warehouse", metavar="URL")
    rp.set_defaults(func=cmd_report)

    tg = sub.add_parser(
        "targets", help="年度目标完成进度；--template 生成填报模板 / progress towards the yearly targets",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="按年度打印县里下达给各乡镇、专业镇的年度目标及完成进度（eval_target）：目标、完成值"
                    "（全年实际值，或年内截至最新月份的累计税收/参保人数）、完成率、累计同比和状态（已达标、未达标、"
                    "进度正常、进度落后、暂无数据）；金额单位万元。用 --template 生成带下拉列表和填写说明的 Excel 填报"
                    "模板，填好后放入 raw/reference/targets.xlsx 并刷新。\n\n"
                    "Print the progress towards one year's targets for towns and specialty towns (eval_target): "
                    "target, value reached (the year's actual, else tax to date / persons insured in the latest "
                    "month), completion, cumulative year-on-year change and status; money in 10,000 yuan. "
                    "With --template, write an Excel template (drop-down lists, instructions) to fill in and put "
                    "in raw/reference/targets.xlsx before a refresh.\n\n"
                    "退出码 exit codes: 0 该年有目标 the year has targets (or the template was written); "
                    "1 没有目标 no targets for that year; 2 参数错误 bad arguments.",
        epilog="示例 examples:\n"
               "  townstat targets --year 2025\n"
               "  townstat targets --year 2025 --level specialty_town\n"
               "  townstat targets --template --out targets.xlsx --year 2026",
    )
    tg.add_argument("--year", type=int, metavar="YEAR",
                    help="统计年度 statistical year (required without --template; with it, the year of the "
                         "examples)")
    tg.add_argument("--level", metavar="LEVEL",
                    help="只看乡镇或专业镇 only town (乡镇) or specialty_town (专业镇) targets")
    tg.add_argument("--template", action="store_true",
                    help="生成填报模板 write the targets template (.xlsx) instead of printing progress")
    tg.add_argument("--out", metavar="FILE.xlsx", help="模板文件 template file (with --template)")
    tg.add_argument("--raw", metavar="DIR",
                    help="原始区 raw area: where targets go, and the reference files the template's ids come "
                         "from when the warehouse has none (default: TOWNSTAT_RAW_DIR or ./raw)")
    tg.add_argument("--warehouse", metavar="URL",
                    help="SQLAlchemy URL (default: WAREHOUSE_URL or sqlite:///warehouse/warehouse.sqlite)")
    tg.set_defaults(func=cmd_targets)

    qr = sub.add_parser("quality-report", help="数据质量报告和图表 (HTML) / quality report and dashboard",
                        description="写出数据质量报告（每个文件的状态、按规则分组的拒收行、预警）和指标图表。 / "
                                    "Write the data-quality report and the dashboard as offline HTML.")
    qr.add_argument("--out", default="warehouse/reports", metavar="DIR")
    qr.add_argument("--warehouse", metavar="URL")
    qr.set_defaults(func=cmd_quality_report)

    s = sub.add_parser("status", help="数据仓库状态 / last refresh, failures, pending files",
                       description="上次成功刷新、最近一次失败的原因、原始区中待处理的文件，以及仓库中的表。 / The "
                                   "last successful refresh, what failed last, which files are pending, and "
                                   "what the warehouse holds.")
    s.add_argument("--warehouse", metavar="URL")
    s.add_argument("--raw", metavar="DIR")
    s.set_defaults(func=cmd_status)

    db = sub.add_parser("db", help="数据库管理 / database administration")
    dbsub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    g = dbsub.add_parser("grant-reader", help="创建只读角色 townstat_reader（PostgreSQL）/ create the read-only role",
                         description="创建 townstat_reader：只能读 dim_*、pub_*、eval_* 和 dq_file。 / Create "
                                     "townstat_reader, which reads dim_*, pub_*, eval_* and dq_file only.")
    g.add_argument("--warehouse", metavar="URL")
    g.add_argument("--password", help="登录密码 login password (or TOWNSTAT_READER_PASSWORD)")
    g.set_defaults(func=cmd_grant_reader)

    doctor.add_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on bad arguments, 0 on --help
        return int(exc.code or 0)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
