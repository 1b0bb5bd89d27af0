"""One Dagster instance (issue 15, item 1): what `townstat refresh` records is what the Dagster UI
shows. A refresh through the CLI into a DAGSTER_HOME made from the shipped
`dagster_home/dagster.yaml`, then the real `dagster-webserver` over that instance, asked through
its GraphQL API: every asset of the refresh materialised by that run with its metadata, every
asset check evaluated; after a second refresh, two runs."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from pipelines import cli
from pipelines.definitions import ASSETS
from pipelines.status import open_instance, status_report
from pipelines.warehouse.read import read_table
from tests.evaluation.test_goals_refresh import _write_area

ROOT = Path(__file__).parents[2]
WEBSERVER = Path(sys.executable).with_name("dagster-webserver")
START_TIMEOUT_S = 240  # loading the code location takes a while on the shared CI machine

QUERY = """
query {
  runsOrError { __typename ... on Runs { results { runId status } } }
  assetNodes(loadMaterializations: true) {
    assetKey { path }
    assetMaterializations(limit: 1) {
      runId
      metadataEntries { label ... on IntMetadataEntry { intValue intRepr } }
    }
    assetChecksOrError {
      __typename
      ... on AssetChecks { checks { name executionForLatestMaterialization { runId status } } }
    }
  }
}
"""


def test_the_shipped_instance_config():
    """Local storage in the folder itself, no telemetry, the sensor's skipped ticks purged,
    and valid for Dagster's own schema."""
    from dagster._core.instance.config import dagster_instance_config

    raw = yaml.safe_load((ROOT / "dagster_home" / "dagster.yaml").read_text(encoding="utf-8"))
    assert "storage" not in raw and "run_storage" not in raw  # SQLite files under DAGSTER_HOME
    assert raw["telemetry"] == {"enabled": False}
    assert raw["retention"]["sensor"]["purge_after_days"]["skipped"] > 0
    config, custom_class = dagster_instance_config(str(ROOT / "dagster_home"))  # raises if invalid
    assert custom_class is None and config["telemetry"] == {"enabled": False}


def test_open_instance_makes_the_folder_and_keeps_history(monkeypatch, tmp_path):
    """`open_instance()`: the folder DAGSTER_HOME names (made absolute; the default, `dagster_home`
    in the working directory, is tested in tests/test_settings.py), persistent; made with the
    shipped `dagster.yaml` if missing; an existing folder's configuration is left alone."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DAGSTER_HOME", "elsewhere")
    with open_instance() as instance:
        assert instance.is_persistent and instance.root_directory == str(tmp_path / "elsewhere")
        assert instance.get_settings("telemetry") == {"enabled": False}
    assert (tmp_path / "elsewhere" / "history" / "runs.db").is_file()
    assert (tmp_path / "elsewhere" / "dagster.yaml").read_bytes() == (
        ROOT / "dagster_home" / "dagster.yaml").read_bytes()
    (tmp_path / "own").mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "own"))
    with open_instance() as instance:
        assert instance.root_directory == str(tmp_path / "own")
    assert not (tmp_path / "own" / "dagster.yaml").exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _graphql(port: int, query: str) -> dict:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/graphql", method="POST",
                                     data=json.dumps({"query": query}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        body = json.load(response)
    assert "errors" not in body, body["errors"]
    return body["data"]


def _wait_until_it_answers(server: subprocess.Popen, port: int, log: Path) -> None:
    """Until the code location is loaded (its asset nodes are listed) or the server died."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"dagster-webserver exited {server.returncode}:\n{log.read_text()[-4000:]}")
        try:
            if _graphql(port, "query { assetNodes { id } }")["assetNodes"]:
                return
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(1)
    pytest.fail(f"dagster-webserver did not answer in {START_TIMEOUT_S}s:\n{log.read_text()[-4000:]}")


def _stop(server: subprocess.Popen) -> None:
    """The webserver and its code server (its process group): TERM, then KILL what is left."""
    try:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        pass
    except ProcessLookupError:
        return
    try:
        os.killpg(server.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    server.wait(timeout=30)


def _seen(port: int) -> tuple[list[dict], dict[str, dict]]:
    """The runs, and the asset nodes by key (`raw/files`)."""
    data = _graphql(port, QUERY)
    assert data["runsOrError"]["__typename"] == "Runs", data["runsOrError"]
    return data["runsOrError"]["results"], {"/".join(n["assetKey"]["path"]): n for n in data["assetNodes"]}


def _assert_all_from(run_id: str, nodes: dict[str, dict], url: str) -> None:
    """Every asset of the refresh materialised by `run_id`, with metadata; every check evaluated
    (and passed) for that materialisation; the row count shown equals the warehouse's."""
    for asset in ASSETS:
        for key in asset.keys:
            node = nodes[key.to_user_string()]
            mats = node["assetMaterializations"]
            assert mats and mats[0]["runId"] == run_id, (key, mats)
            assert mats[0]["metadataEntries"], key
            checks = node["assetChecksOrError"]
            assert checks["__typename"] == "AssetChecks", (key, checks)
            shown = {c["name"]: c["executionForLatestMaterialization"] for c in checks["checks"]}
            expected = {ck.name for ck in asset.check_keys if ck.asset_key == key}
            assert set(shown) == expected, key
            for name, execution in shown.items():
                assert execution == {"runId": run_id, "status": "SUCCEEDED"}, (key, name, execution)
    assert sum(len(a.check_keys) for a in ASSETS) >= 8  # the blocking checks are all there
    rows = {e["label"]: e for e in nodes["pub/town_year"]["assetMaterializations"][0]["metadataEntries"]}
    published = read_table(url, "pub_town_year").height
    assert published > 0 and int(rows["dagster/row_count"]["intRepr"]) == published


def test_the_ui_shows_what_the_cli_refresh_recorded(project_instance, tmp_path, monkeypatch, capsys):
    raw, url = tmp_path / "raw", f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    _write_area(raw)
    monkeypatch.setenv("TOWNSTAT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("TOWNSTAT_REPORTS_DIR", str(tmp_path / "reports"))
    assert cli.main(["refresh", "--raw", str(raw), "--warehouse", url, "--quiet"]) == 0, capsys.readouterr()
    assert (project_instance / "history" / "runs.db").is_file()  # recorded in the instance's folder

    port, log = _free_port(), tmp_path / "webserver.log"
    env = {**os.environ, "DAGSTER_HOME": str(project_instance), "WAREHOUSE_URL": url,
           "TOWNSTAT_RAW_DIR": str(raw), "TOWNSTAT_STAGING_DIR": str(tmp_path / "staging")}
    with log.open("wb") as out:
        server = subprocess.Popen([str(WEBSERVER), "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
                                  cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                  start_new_session=True)  # its own process group: the code server too
    try:
        _wait_until_it_answers(server, port, log)
        runs, nodes = _seen(port)
        assert [r["status"] for r in runs] == ["SUCCESS"], runs
        first = runs[0]["runId"]
        _assert_all_from(first, nodes, url)

        # A second refresh (nothing new) while the UI runs: the UI shows both runs.
        assert cli.main(["refresh", "--raw", str(raw), "--warehouse", url, "--quiet"]) == 0
        runs, nodes = _seen(port)
        assert [r["status"] for r in runs] == ["SUCCESS", "SUCCESS"], runs
        second = runs[0]["runId"]  # newest first
        assert runs[1]["runId"] == first and second != first
        _assert_all_from(second, nodes, url)
    finally:
        _stop(server)

    # `townstat status` reads the same instance (pipelines.status.open_instance).
    with open_instance() as instance:
        report = status_report(url, raw, instance=instance)
    assert f"run {second}" in report and "最近一次失败的刷新：无" in report, report
