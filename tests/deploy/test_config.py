"""The deployment configuration, validated by Dagster's own config schema."""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

import pytest
import yaml
from dagster._config import validate_config
from dagster._core.instance.config import dagster_instance_config
from dagster._core.storage.config import pg_config
from dagster._serdes.config_class import ConfigurableClassData

ROOT = Path(__file__).parents[2]
PG_ENV = {"DAGSTER_PG_HOST": "db", "DAGSTER_PG_PORT": "5432", "DAGSTER_PG_USERNAME": "dagster",
          "DAGSTER_PG_PASSWORD": "secret", "DAGSTER_PG_DB": "dagster"}


def _instance_config(tmp_path: Path, source: Path, monkeypatch) -> dict:
    for k, v in PG_ENV.items():
        monkeypatch.setenv(k, v)
    home = tmp_path / source.parent.name
    home.mkdir()
    shutil.copy(source, home / "dagster.yaml")
    config, custom_class = dagster_instance_config(str(home))  # raises on any schema error
    assert custom_class is None
    return config


@pytest.mark.parametrize("path", ["deploy/dagster.yaml", "deploy/k8s/dagster.yaml"])
def test_instance_config_is_valid(path, tmp_path, monkeypatch):
    config = _instance_config(tmp_path, ROOT / path, monkeypatch)
    assert config["telemetry"] == {"enabled": False}
    pg = config["storage"]["postgres"]
    assert validate_config(pg_config(), pg).success
    assert pg["postgres_db"]["scheme"] == "postgresql+psycopg2"
    assert config["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert {"key": "townstat/refresh", "limit": 1} in config["concurrency"]["runs"]["tag_concurrency_limits"]
    # Every class the profile names exists and accepts its config. The K8sRunLauncher can only be
    # built inside a cluster (it loads the in-cluster credentials): its config is validated against
    # its schema by test_k8s_run_launcher_config_is_valid instead.
    for section in ("run_coordinator", "run_launcher", "scheduler"):
        if section not in config:
            continue
        spec = config[section]
        if spec["module"] == "dagster_k8s":
            assert importlib.util.find_spec("dagster_k8s") is not None
            continue
        # Dagster's own loader: imports the class, validates its config, builds it.
        ConfigurableClassData(spec["module"], spec["class"],
                              yaml.safe_dump(spec.get("config") or {})).rehydrate(as_type=object)


def test_local_profile_uses_env_for_every_connection_value():
    raw = yaml.safe_load((ROOT / "deploy/dagster.yaml").read_text())
    db = raw["storage"]["postgres"]["postgres_db"]
    assert {db[k]["env"] for k in ("hostname", "port", "username", "password", "db_name")} == set(PG_ENV)
    assert raw["run_launcher"]["class"] == "DefaultRunLauncher"


def test_a_wrong_key_is_rejected(tmp_path, monkeypatch):
    bad = tmp_path / "bad.yaml"
    bad.write_text((ROOT / "deploy/dagster.yaml").read_text().replace("run_monitoring:", "run_monitor:"))
    with pytest.raises(Exception, match="run_monitor"):
        _instance_config(tmp_path, bad, monkeypatch)


def test_helm_values_describe_the_townstat_deployment():
    values = yaml.safe_load((ROOT / "deploy/k8s/values.yaml").read_text())
    (dep,) = values["dagster-user-deployments"]["deployments"]
    assert dep["dagsterApiGrpcArgs"] == ["--module-name", "pipelines.definitions", "--attribute", "defs"]
    assert dep["image"]["repository"] and dep["image"]["tag"]
    assert {"name": "TOWNSTAT_ENV", "value": "production"} in dep["env"]
    assert {"name": "TOWNSTAT_EXECUTOR", "value": "k8s"} in dep["env"]
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    assert values["postgresql"]["enabled"] is False and values["postgresql"]["postgresqlHost"]
    coord = values["dagsterDaemon"]["runCoordinator"]
    assert coord["type"] == "QueuedRunCoordinator"
    assert {"key": "townstat/refresh", "limit": 1} in coord["config"]["queuedRunCoordinator"]["tagConcurrencyLimits"]
    assert values["telemetry"]["enabled"] is False


def test_start_script_is_executable_and_documented():
    script = ROOT / "deploy/start-production.sh"
    assert os.access(script, os.X_OK)
    assert "deploy/start-production.sh" in (ROOT / "docs/deployment.md").read_text(encoding="utf-8")


K8S_ENV = {"TOWNSTAT_EXECUTOR": "k8s"}


def test_k8s_run_launcher_config_is_valid(tmp_path, monkeypatch):
    """deploy/k8s/dagster.yaml's K8sRunLauncher config against dagster-k8s's own schema."""
    from dagster_k8s import K8sRunLauncher

    config = _instance_config(tmp_path, ROOT / "deploy/k8s/dagster.yaml", monkeypatch)
    launcher = config["run_launcher"]
    assert (launcher["module"], launcher["class"]) == ("dagster_k8s", "K8sRunLauncher")
    result = validate_config(K8sRunLauncher.config_type(), launcher["config"])
    assert result.success, [e.message for e in result.errors]
    assert result.value["job_namespace"] == "townstat"
    # the schema is real: a misspelt key fails
    bad = {**launcher["config"], "job_namespaces": "x"}
    assert not validate_config(K8sRunLauncher.config_type(), bad).success


K8S_CHECK = r"""
import json, sys
import yaml
from dagster import validate_run_config
from dagster_k8s import k8s_job_executor
from pipelines.definitions import build_definitions

defs = build_definitions(raw_dir="raw", warehouse_url="sqlite:///w.sqlite")
run_config = yaml.safe_load(open(sys.argv[1], encoding="utf-8"))
out = {}
for name in ("refresh", "recompute_year", "recompute_county_year"):
    job = defs.resolve_job_def(name)
    validated = validate_run_config(job, run_config)
    bad = {**run_config, "execution": {"config": {**run_config["execution"]["config"], "max_concurent": 8}}}
    try:
        validate_run_config(job, bad)
        rejected = ""
    except Exception as exc:
        rejected = str(exc)
    out[name] = {"k8s": job.executor_def is k8s_job_executor,
                 "max_concurrent": validated["execution"]["k8s"]["max_concurrent"],
                 "employment_step": validated["execution"]["k8s"]["per_step_k8s_config"]["ingest__employment"],
                 "typo_rejected": "max_concurent" in rejected}
print(json.dumps(out))
"""


def test_k8s_run_config_is_valid_for_every_job():
    """With TOWNSTAT_EXECUTOR=k8s the jobs run on dagster-k8s's executor and run_config.yaml fits.

    In a fresh interpreter: the executor is chosen when the code location is imported.
    """
    import json
    import subprocess
    import sys

    env = {**os.environ, **K8S_ENV}
    proc = subprocess.run([sys.executable, "-c", K8S_CHECK, str(ROOT / "deploy/k8s/run_config.yaml")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(result) == {"refresh", "recompute_year", "recompute_county_year"}
    for name, r in result.items():
        assert r["k8s"], name
        assert r["max_concurrent"] == 8, name
        assert r["employment_step"]["container_config"]["resources"]["limits"] == {"memory": "12Gi"}, name
        assert r["typo_rejected"], name


def test_an_unknown_executor_is_refused(monkeypatch):
    from pipelines.defs.executors import job_executor

    monkeypatch.setenv("TOWNSTAT_EXECUTOR", "kubernetes")
    with pytest.raises(ValueError, match="multiprocess, in_process, k8s"):
        job_executor()


def test_county_year_partitions_are_in_the_code_location():
    # without resolving the Definitions in this process (that binds Dagster's load context to a
    # throwaway instance, which later materialize() calls in the same worker then trip over)
    from pipelines.definitions import build_definitions
    from pipelines.defs.backfill import county_year_recomputed, recompute_county_year_job

    defs = build_definitions(raw_dir="raw", warehouse_url="sqlite:///w.sqlite")
    assert recompute_county_year_job in list(defs.jobs)
    assert county_year_recomputed in list(defs.assets)
    parts = county_year_recomputed.partitions_def
    assert parts is not None and set(parts.partition_dimension_names) == {"county", "year"}
    assert "140823" in parts.get_partitions_def_for_dimension("county").get_partition_keys()
