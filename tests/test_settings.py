"""`pipelines/settings.py` is the one declaration of the environment, and the documentation
agrees with it: README.md's "Environment:" paragraph and docs/deployment.md's configuration
table name every declared variable, declare nothing else, and show the declared defaults;
no other module reads a townstat variable from `os.environ`."""

import ast
import re
from pathlib import Path

import pytest

from pipelines import settings

ROOT = Path(__file__).resolve().parent.parent
NAME = re.compile(r"\b((?:TOWNSTAT|DAGSTER)_[A-Z0-9_]*[A-Z0-9]|WAREHOUSE_URL)((?:/[A-Z0-9]+)*)")
OURS = re.compile(r"^(TOWNSTAT_|DAGSTER_|WAREHOUSE_URL$)")


def _names(text: str) -> set[str]:
    """Variable names in `text`; `DAGSTER_PG_HOST/PORT` stands for DAGSTER_PG_HOST and _PORT."""
    out = set()
    for m in NAME.finditer(text):
        first, more = m.group(1), m.group(2)
        out.add(first)
        stem = first.rsplit("_", 1)[0]
        out.update(f"{stem}_{part}" for part in more.split("/")[1:])
    return out


def _readme_environment() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("\nEnvironment:")
    return text[start:text.index("\n\n", start + 1)]


def _configuration_table() -> dict[str, str]:
    """{variable: default} from the table of docs/deployment.md, section 3."""
    text = (ROOT / "docs" / "deployment.md").read_text(encoding="utf-8")
    section = text[text.index("## 3. Configuration reference"):]
    section = section[:section.find("\n## ", 1)] if "\n## " in section[1:] else section
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not cells[0].startswith("`"):
            continue
        for name in _names(cells[0]):
            rows[name] = cells[1].strip("`")
    return rows


def test_the_readme_paragraph_and_the_table_are_found():
    assert "TOWNSTAT_RAW_DIR" in _names(_readme_environment())
    table = _configuration_table()
    assert table["TOWNSTAT_MEMORY_BOUND_MB"] == "6144"
    assert {"DAGSTER_PG_HOST", "DAGSTER_PG_DB"} <= set(table)


def test_names_are_unique():
    names = [s.name for s in settings.SETTINGS]
    assert len(names) == len(set(names))
    assert all(OURS.match(n) for n in names)


def test_every_declared_variable_is_documented():
    documented = _names(_readme_environment()) | set(_configuration_table())
    missing = sorted(s.name for s in settings.SETTINGS if s.name not in documented)
    assert not missing, f"declared in pipelines/settings.py, not in README.md or docs/deployment.md: {missing}"


def test_every_documented_variable_is_declared():
    mentioned = set(_configuration_table()) | _names(_readme_environment())
    for doc in ("README.md", "docs/deployment.md"):
        text = (ROOT / doc).read_text(encoding="utf-8")
        mentioned |= {n for n in _names(text) if n.startswith("TOWNSTAT_")}
    unknown = sorted(mentioned - set(settings.BY_NAME))
    assert not unknown, f"documented but not declared in pipelines/settings.py: {unknown}"


def test_the_table_shows_the_declared_defaults():
    wrong = {name: (shown, settings.BY_NAME[name].default)
             for name, shown in _configuration_table().items()
             if name in settings.BY_NAME and shown != settings.BY_NAME[name].default}
    assert not wrong, f"docs/deployment.md default != pipelines/settings.py default: {wrong}"


def _is_environ(node: ast.AST) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr == "environ") or (
        isinstance(node, ast.Name) and node.id == "environ")


def _env_reads(tree: ast.AST):
    """(line, key node) for every read of the environment: environ.get/pop/setdefault,
    getenv, environ[...] (not an assignment), `... in environ`."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args:
            f = node.func
            if isinstance(f, ast.Attribute) and f.attr in ("get", "pop", "setdefault") and _is_environ(f.value):
                yield node.lineno, node.args[0]
            elif (isinstance(f, ast.Attribute) and f.attr == "getenv") or (
                    isinstance(f, ast.Name) and f.id == "getenv"):
                yield node.lineno, node.args[0]
        elif isinstance(node, ast.Subscript) and _is_environ(node.value) and isinstance(node.ctx, ast.Load):
            yield node.lineno, node.slice
        elif isinstance(node, ast.Compare) and any(isinstance(o, ast.In | ast.NotIn) for o in node.ops) \
                and any(_is_environ(c) for c in node.comparators):
            yield node.lineno, node.left


def test_no_module_but_settings_reads_a_townstat_variable():
    found = []
    for folder in ("pipelines", "schemas"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path == ROOT / "pipelines" / "settings.py":
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for line, key in _env_reads(tree):
                rel = path.relative_to(ROOT)
                if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
                    found.append(f"{rel}:{line} reads a variable by a computed name")
                elif OURS.match(key.value):
                    found.append(f"{rel}:{line} reads {key.value}")
    assert not found, "read these through pipelines.settings:\n" + "\n".join(found)


def test_the_scan_sees_each_kind_of_read():
    code = ("import os\nfrom os import environ, getenv\n"
            "a = os.environ.get('TOWNSTAT_X', '1')\nb = os.getenv('WAREHOUSE_URL')\n"
            "c = environ['DAGSTER_HOME']\nd = 'TOWNSTAT_Y' in os.environ\n"
            "os.environ['POLARS_MAX_THREADS'] = '1'\ne = getenv('TOWNSTAT_Z')\n")
    keys = [k.value for _, k in _env_reads(ast.parse(code))]
    assert sorted(keys) == ["DAGSTER_HOME", "TOWNSTAT_X", "TOWNSTAT_Y", "TOWNSTAT_Z", "WAREHOUSE_URL"]


def test_values_are_read_when_asked_for(monkeypatch):
    monkeypatch.delenv("TOWNSTAT_RAW_DIR", raising=False)
    assert settings.raw_dir() == "raw"
    monkeypatch.setenv("TOWNSTAT_RAW_DIR", "/srv/raw")
    assert settings.raw_dir() == "/srv/raw"
    monkeypatch.setenv("TOWNSTAT_RAW_DIR", "")
    assert settings.raw_dir() == ""  # set but empty stays empty, as before


@pytest.mark.parametrize(("name", "value", "accessor", "expected"), [
    ("WAREHOUSE_URL", None, settings.warehouse_url, "sqlite:///warehouse/warehouse.sqlite"),
    ("WAREHOUSE_URL", "", settings.warehouse_url, "sqlite:///warehouse/warehouse.sqlite"),
    ("WAREHOUSE_URL", None, settings.warehouse_url_given, ""),
    ("TOWNSTAT_ENV", "Production", settings.production, True),
    ("TOWNSTAT_ENV", None, settings.production, False),
    ("TOWNSTAT_GX", "OFF", settings.expectations_enabled, False),
    ("TOWNSTAT_GX", None, settings.expectations_enabled, True),
    ("TOWNSTAT_GX", "", settings.expectations_enabled, True),
    ("TOWNSTAT_QUIET_SECONDS", "soon", settings.quiet_seconds, 60.0),
    ("TOWNSTAT_QUIET_SECONDS", "-5", settings.quiet_seconds, 0.0),
    ("TOWNSTAT_SENSOR_RETRIES", "x", settings.sensor_retries, 1),
    ("TOWNSTAT_RETRY_DELAY_SECONDS", None, settings.retry_delay, 600.0),
    ("TOWNSTAT_MEMORY_BOUND_MB", "lots", settings.memory_bound_mb, 6144),
    ("TOWNSTAT_MEMORY_BOUND_MB", "100", settings.memory_bound_mb, 100),
    ("TOWNSTAT_LOCK_TIMEOUT", " ", settings.lock_timeout, 30.0),
    ("TOWNSTAT_LOCK_TIMEOUT", "0", settings.lock_timeout, 0.0),
    ("TOWNSTAT_INGEST_WORKERS", "0", settings.ingest_workers, 1),
    ("TOWNSTAT_LOAD_WORKERS", "3", settings.load_workers, 3),
    ("TOWNSTAT_STAGING_DIR", None, settings.staging_dir, "warehouse/staging"),
    ("TOWNSTAT_STAGING_DIR", None, settings.staging_dir_given, None),
    ("TOWNSTAT_SCRATCH_DIR", None, settings.scratch_dir, None),
    ("TOWNSTAT_EXECUTOR", None, settings.executor, "in_process"),
])
def test_parsed_as_before(monkeypatch, name, value, accessor, expected):
    if value is None:
        monkeypatch.delenv(name, raising=False)
    else:
        monkeypatch.setenv(name, value)
    assert accessor() == expected


@pytest.mark.parametrize("value", ["-1", "nan", "soon"])
def test_a_bad_lock_timeout_is_refused(monkeypatch, value):
    monkeypatch.setenv("TOWNSTAT_LOCK_TIMEOUT", value)
    with pytest.raises(ValueError, match="TOWNSTAT_LOCK_TIMEOUT"):
        settings.lock_timeout()


def test_the_dagster_instance_folder(monkeypatch, tmp_path):
    """DAGSTER_HOME, made absolute; unset or empty: `dagster_home` in the working directory (the
    project root under `make`), the folder whose `dagster.yaml` the project ships."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    assert settings.dagster_home_dir() == str(tmp_path / "dagster_home")
    monkeypatch.setenv("DAGSTER_HOME", "")
    assert settings.dagster_home_dir() == str(tmp_path / "dagster_home")
    monkeypatch.setenv("DAGSTER_HOME", "/srv/townstat/dagster_home")
    assert settings.dagster_home_dir() == "/srv/townstat/dagster_home"
    assert (ROOT / settings.DEFAULT_DAGSTER_HOME / "dagster.yaml").is_file()


def test_worker_counts_default_to_the_cores(monkeypatch):
    import os

    monkeypatch.delenv("TOWNSTAT_INGEST_WORKERS", raising=False)
    assert settings.ingest_workers() == max(1, os.cpu_count() or 1)
