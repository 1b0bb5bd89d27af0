"""`townstat`: the bureau's command line.

    townstat refresh      read the raw area, validate, compute, publish (through Dagster)
    townstat demo-data    write a realistic demo raw area (county, city or province)
    townstat status       what the warehouse holds: last refresh, files, rejected rows
    townstat db grant-reader   create the read-only PostgreSQL role for other departments

Exit codes of `refresh` (contract section 9): 0 published, 1 a blocking check stopped the
refresh (the previous warehouse is untouched), 2 bad arguments.
"""

import argparse
import os
import sys
import time
from pathlib import Path

EXIT_PUBLISHED, EXIT_BLOCKED, EXIT_USAGE = 0, 1, 2


def _print(msg: str) -> None:
    print(msg, flush=True)


def cmd_refresh(args: argparse.Namespace) -> int:
    raw = Path(args.raw or os.environ.get("TOWNSTAT_RAW_DIR", "raw"))
    if not raw.is_dir():
        print(f"错误：原始区文件夹不存在：{raw} / error: raw area folder not found: {raw}", file=sys.stderr)
        return EXIT_USAGE
    url = args.warehouse or os.environ.get("WAREHOUSE_URL", "sqlite:///warehouse/warehouse.sqlite")
    from pipelines.refresh import run_refresh

    outcome = run_refresh(raw, url, progress=None if args.quiet else _print)
    _print(outcome.summary_text())
    return EXIT_PUBLISHED if outcome.published else EXIT_BLOCKED


def cmd_demo_data(args: argparse.Namespace) -> int:
    from pipelines.demo import write_demo_raw_area

    out = Path(args.out)
    t0 = time.time()
    summary = write_demo_raw_area(out, scale=args.scale, seed=args.seed,
                                  progress=None if args.quiet else _print)
    _print(f"演示数据已写入 {out}（{args.scale}，种子 {args.seed}），用时 {time.time() - t0:.1f} 秒 / "
           f"demo raw area written to {out} ({args.scale}, seed {args.seed}) in {time.time() - t0:.1f}s")
    if summary is not None and hasattr(summary, "truth_dir"):
        _print(f"真值 ground truth: {summary.truth_dir}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from pipelines.refresh import warehouse_status

    url = args.warehouse or os.environ.get("WAREHOUSE_URL", "sqlite:///warehouse/warehouse.sqlite")
    _print(warehouse_status(url))
    return 0


def cmd_grant_reader(args: argparse.Namespace) -> int:
    from pipelines.warehouse.roles import grant_reader

    url = args.warehouse or os.environ.get("WAREHOUSE_URL", "")
    if not url.startswith("postgresql"):
        print("错误：只读角色只适用于 PostgreSQL（用 --warehouse 或 WAREHOUSE_URL 指定）/ "
              "error: the reader role exists on PostgreSQL only (give --warehouse or WAREHOUSE_URL)",
              file=sys.stderr)
        return EXIT_USAGE
    granted = grant_reader(url, args.password or os.environ.get("TOWNSTAT_READER_PASSWORD"))
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
    d.add_argument("--seed", type=int, default=7, help="随机种子 random seed (default 7)")
    d.add_argument("--out", default="raw", metavar="DIR", help="输出文件夹 output folder (default ./raw)")
    d.add_argument("--quiet", action="store_true")
    d.set_defaults(func=cmd_demo_data)

    s = sub.add_parser("status", help="数据仓库状态 / what the warehouse holds now")
    s.add_argument("--warehouse", metavar="URL")
    s.set_defaults(func=cmd_status)

    db = sub.add_parser("db", help="数据库管理 / database administration")
    dbsub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    g = dbsub.add_parser("grant-reader", help="创建只读角色 townstat_reader（PostgreSQL）/ create the read-only role",
                         description="创建 townstat_reader：只能读 dim_*、pub_*、eval_* 和 dq_file。 / Create "
                                     "townstat_reader, which reads dim_*, pub_*, eval_* and dq_file only.")
    g.add_argument("--warehouse", metavar="URL")
    g.add_argument("--password", help="登录密码 login password (or TOWNSTAT_READER_PASSWORD)")
    g.set_defaults(func=cmd_grant_reader)
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
