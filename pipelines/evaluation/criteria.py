"""Criteria sets (contract section 6): YAML files in ``schemas/criteria/``, validated on load.

A criteria set file names its criteria; each criterion gives the indicator(s) of
ind_specialty_town_year it reads, the comparison, the threshold (one number, or one per
category), the heritage and national-market exceptions and a weight (default 1, i.e. equal
weights). A criterion reading several indicators (concentration) has one threshold per
indicator; its value is min(value_i / threshold_i) and its threshold 1.

A malformed file is refused with a message naming the file and the line, in Chinese and
English. Adding a file to the folder adds a criteria set; no code changes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from pipelines.indicators.catalogue import SPECIALTY_TOWN_YEAR

CRITERIA_DIR = Path(__file__).resolve().parents[2] / "schemas" / "criteria"
CATEGORIES = ("manufacturing", "agriculture", "light_industry")
COMPARISONS = (">=", ">")
_INDICATORS = {i.name for i in SPECIALTY_TOWN_YEAR}
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")

_SET_KEYS = {"criteria_set", "name_zh", "description", "source", "criteria"}
_CRITERION_KEYS = {"criterion", "name_zh", "description", "reads", "comparison", "threshold",
                   "exceptions", "weight"}


class CriteriaFileError(ValueError):
    """A criteria-set file that cannot be used; the message names the file and line."""


@dataclass(frozen=True)
class Criterion:
    """One criterion. ``thresholds`` maps each indicator read to {category: threshold}."""

    name: str
    reads: tuple[str, ...]
    comparison: str
    thresholds: dict[str, dict[str, float]]
    heritage_threshold: dict[str, float] | None = None
    national_market_met: bool = False
    weight: float = 1.0
    name_zh: str = ""

    @property
    def composite(self) -> bool:
        """Reads several indicators: value = min(v_i / t_i), threshold 1."""
        return len(self.reads) > 1


@dataclass(frozen=True)
class CriteriaSet:
    """A named set of criteria loaded from one file."""

    name: str
    criteria: tuple[Criterion, ...]
    path: Path | None = None
    name_zh: str = ""
    source: str = ""
    extra: dict = field(default_factory=dict)


def _fail(path: Path, node: yaml.Node | None, zh: str, en: str) -> CriteriaFileError:
    line = f"第 {node.start_mark.line + 1} 行" if node is not None else ""
    line_en = f"line {node.start_mark.line + 1}" if node is not None else "file"
    return CriteriaFileError(f"{path}: {line_en} / {line}: 准则集文件错误：{zh} / criteria-set file error: {en}")


def _scalar(path: Path, node: yaml.Node, what: str) -> str:
    if not isinstance(node, yaml.ScalarNode):
        raise _fail(path, node, f"{what} 应为单个值", f"{what} must be a single value")
    return node.value


def _number(path: Path, node: yaml.Node, what: str, positive: bool = True) -> float:
    text = _scalar(path, node, what).replace("_", "")
    try:
        value = float(text)
    except ValueError:
        raise _fail(path, node, f"{what} 不是数字：{text!r}", f"{what} is not a number: {text!r}") from None
    if positive and not value > 0:
        raise _fail(path, node, f"{what} 必须大于 0", f"{what} must be greater than 0")
    return value


def _mapping(path: Path, node: yaml.Node, what: str) -> dict[str, tuple[yaml.Node, yaml.Node]]:
    if not isinstance(node, yaml.MappingNode):
        raise _fail(path, node, f"{what} 应为键值映射", f"{what} must be a mapping")
    out: dict[str, tuple[yaml.Node, yaml.Node]] = {}
    for key, value in node.value:
        name = _scalar(path, key, f"{what} 的键 / key of {what}")
        if name in out:
            raise _fail(path, key, f"{what} 中键 {name!r} 重复", f"duplicate key {name!r} in {what}")
        out[name] = (key, value)
    return out


def _check_keys(path: Path, node: yaml.Node, keys: dict, allowed: set, required: set, what: str) -> None:
    for name, (key, _) in keys.items():
        if name not in allowed:
            raise _fail(path, key, f"{what} 中有未知的键 {name!r}（允许：{sorted(allowed)}）",
                        f"unknown key {name!r} in {what} (allowed: {sorted(allowed)})")
    for name in sorted(required - keys.keys()):
        raise _fail(path, node, f"{what} 缺少 {name!r}", f"{what} lacks {name!r}")


def _per_category(path: Path, node: yaml.Node, what: str, anchor: yaml.Node | None = None) -> dict[str, float]:
    """A threshold: one number for every category, or a mapping category -> number
    (every category covered, or a ``default``)."""
    if isinstance(node, yaml.ScalarNode):
        value = _number(path, node, what)
        return dict.fromkeys(CATEGORIES, value)
    items = _mapping(path, node, what)
    for name, (key, _) in items.items():
        if name not in (*CATEGORIES, "default"):
            raise _fail(path, key, f"{what} 中类别 {name!r} 未知（应为 {', '.join(CATEGORIES)} 或 default）",
                        f"unknown category {name!r} in {what} (expected {', '.join(CATEGORIES)} or default)")
    values = {name: _number(path, v, f"{what}.{name}") for name, (_, v) in items.items()}
    missing = [c for c in CATEGORIES if c not in values and "default" not in values]
    if missing:
        raise _fail(path, anchor or node, f"{what} 缺少类别 {missing} 的阈值", f"{what} lacks a threshold for {missing}")
    return {c: values.get(c, values.get("default")) for c in CATEGORIES}


def _criterion(path: Path, node: yaml.Node) -> Criterion:
    keys = _mapping(path, node, "criterion")
    _check_keys(path, node, keys, _CRITERION_KEYS, {"criterion", "reads", "comparison", "threshold"}, "criterion")
    name = _scalar(path, keys["criterion"][1], "criterion")
    if not _NAME.match(name):
        raise _fail(path, keys["criterion"][1], f"准则名 {name!r} 应为小写字母、数字和下划线",
                    f"criterion name {name!r} must be lower-case letters, digits and '_'")
    where = f"criterion {name}"
    reads_node = keys["reads"][1]
    if isinstance(reads_node, yaml.SequenceNode):
        reads = tuple(_scalar(path, n, f"{where}.reads") for n in reads_node.value)
        read_nodes = reads_node.value
    else:
        reads = (_scalar(path, reads_node, f"{where}.reads"),)
        read_nodes = [reads_node]
    if not reads:
        raise _fail(path, reads_node, f"{where}.reads 为空", f"{where}.reads is empty")
    for indicator, n in zip(reads, read_nodes, strict=True):
        if indicator not in _INDICATORS:
            raise _fail(path, n, f"{where} 读取的指标 {indicator!r} 不在 ind_specialty_town_year 中",
                        f"{where} reads {indicator!r}, which is not an ind_specialty_town_year column")
    comparison = _scalar(path, keys["comparison"][1], f"{where}.comparison")
    if comparison not in COMPARISONS:
        raise _fail(path, keys["comparison"][1], f"{where}.comparison 应为 {' 或 '.join(COMPARISONS)}",
                    f"{where}.comparison must be one of {', '.join(COMPARISONS)}")
    threshold_node = keys["threshold"][1]
    if len(reads) == 1:
        thresholds = {reads[0]: _per_category(path, threshold_node, f"{where}.threshold", keys["threshold"][0])}
    else:
        items = _mapping(path, threshold_node, f"{where}.threshold")
        for indicator in reads:
            if indicator not in items:
                raise _fail(path, keys["threshold"][0], f"{where}.threshold 缺少 {indicator!r} 的阈值",
                            f"{where}.threshold lacks a threshold for {indicator!r}")
        for extra, (key, _) in items.items():
            if extra not in reads:
                raise _fail(path, key, f"{where}.threshold 中 {extra!r} 不在 reads 中",
                            f"{where}.threshold names {extra!r}, which the criterion does not read")
        thresholds = {i: _per_category(path, items[i][1], f"{where}.threshold.{i}", items[i][0]) for i in reads}
    heritage, national = None, False
    if "exceptions" in keys:
        exc = _mapping(path, keys["exceptions"][1], f"{where}.exceptions")
        _check_keys(path, keys["exceptions"][1], exc, {"heritage", "national_market"}, set(), f"{where}.exceptions")
        if "heritage" in exc:
            if len(reads) > 1:
                raise _fail(path, exc["heritage"][0], f"{where}：heritage 例外只适用于单一指标的准则",
                            f"{where}: a heritage exception needs a criterion reading one indicator")
            heritage = _per_category(path, exc["heritage"][1], f"{where}.exceptions.heritage", exc["heritage"][0])
        if "national_market" in exc:
            if _scalar(path, exc["national_market"][1], f"{where}.exceptions.national_market") != "met":
                raise _fail(path, exc["national_market"][1], f"{where}.exceptions.national_market 只能为 met",
                            f"{where}.exceptions.national_market must be 'met'")
            national = True
    weight = _number(path, keys["weight"][1], f"{where}.weight") if "weight" in keys else 1.0
    name_zh = _scalar(path, keys["name_zh"][1], f"{where}.name_zh") if "name_zh" in keys else ""
    return Criterion(name, reads, comparison, thresholds, heritage, national, weight, name_zh)


def load_criteria_set(path: str | Path) -> CriteriaSet:
    """Load and validate one criteria-set file; raise CriteriaFileError naming file and line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CriteriaFileError(f"{path}: 无法读取准则集文件 / cannot read the criteria-set file: {exc}") from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark is not None else "?"
        problem = getattr(exc, "problem", None) or str(exc)
        raise CriteriaFileError(
            f"{path}: line {line} / 第 {line} 行: 准则集文件不是合法的 YAML：{problem} / "
            f"criteria-set file is not valid YAML: {problem}"
        ) from None
    if root is None:
        raise CriteriaFileError(f"{path}: line 1 / 第 1 行: 准则集文件为空 / criteria-set file is empty")
    keys = _mapping(path, root, "criteria set")
    _check_keys(path, root, keys, _SET_KEYS, {"criteria"}, "criteria set")
    name = _scalar(path, keys["criteria_set"][1], "criteria_set") if "criteria_set" in keys else path.stem
    if not _NAME.match(name):
        raise _fail(path, keys["criteria_set"][1], f"准则集名 {name!r} 应为小写字母、数字和下划线",
                    f"criteria_set {name!r} must be lower-case letters, digits and '_'")
    crit_node = keys["criteria"][1]
    if not isinstance(crit_node, yaml.SequenceNode) or not crit_node.value:
        raise _fail(path, crit_node, "criteria 应为非空列表", "criteria must be a non-empty list")
    criteria = []
    for node in crit_node.value:
        criterion = _criterion(path, node)
        if any(c.name == criterion.name for c in criteria):
            raise _fail(path, node, f"准则 {criterion.name!r} 重复", f"duplicate criterion {criterion.name!r}")
        criteria.append(criterion)
    meta = {k: _scalar(path, keys[k][1], k) for k in ("name_zh", "source") if k in keys}
    return CriteriaSet(name, tuple(criteria), path, meta.get("name_zh", ""), meta.get("source", ""))


def load_criteria_sets(directory: str | Path | None = None) -> list[CriteriaSet]:
    """Every ``*.yaml``/``*.yml`` criteria set in ``directory`` (default schemas/criteria/),
    sorted by file name; two files naming the same set are refused."""
    directory = Path(directory) if directory is not None else CRITERIA_DIR
    files = sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])
    sets: list[CriteriaSet] = []
    for f in files:
        s = load_criteria_set(f)
        for other in sets:
            if other.name == s.name:
                raise CriteriaFileError(f"{f}: 准则集 {s.name!r} 已在 {other.path} 中定义 / "
                                        f"criteria set {s.name!r} is already defined in {other.path}")
        sets.append(s)
    return sets
