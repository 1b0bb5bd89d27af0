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
    # Every class the profile names exists and accepts its config (dagster-k8s is not installed:
    # the K8sRunLauncher config is checked only when it is).
    for section in ("run_coordinator", "run_launcher", "scheduler"):
        if section not in config:
            continue
        spec = config[section]
        if spec["module"] == "dagster_k8s" and importlib.util.find_spec("dagster_k8s") is None:
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
