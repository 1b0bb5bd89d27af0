"""The README's pictures are current (issue 15, item 4).

`docs/pictures.py` draws ``docs/images/dashboard.png`` and ``workbook.png`` from the county demo
and records in ``docs/images/pictures.json`` what each was made from: the module that draws it
and the published tables it shows. These tests compare that record with the checkout and with
the session's county demo warehouse (the same refresh the report tests use); they never
re-render a picture (slow, and the pixels depend on the machine's fonts and browser).
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "reports"))
from county_warehouse import county_warehouse  # noqa: E402

CHECKOUT = Path(__file__).resolve().parents[1]
SCRIPT = CHECKOUT / "docs" / "pictures.py"
RERUN = "run python docs/pictures.py"


def _script():
    spec = importlib.util.spec_from_file_location("townstat_docs_pictures", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


pictures = _script()


@pytest.fixture(scope="module")
def manifest() -> dict:
    assert pictures.MANIFEST.exists(), f"{pictures.MANIFEST.relative_to(CHECKOUT)} is missing: {RERUN}"
    return json.loads(pictures.MANIFEST.read_text(encoding="utf-8"))


def test_the_manifest_records_every_picture_the_script_draws(manifest):
    assert manifest["demo"] == pictures.DEMO, RERUN
    assert sorted(manifest["pictures"]) == sorted(pictures.PICTURES), RERUN
    for name, spec in pictures.PICTURES.items():
        entry = manifest["pictures"][name]
        assert entry["png"] == spec["png"], f"{name}: {RERUN}"
        assert sorted(entry["sources"]) == sorted(spec["sources"]), f"{name}: {RERUN}"
        assert sorted(entry["tables"]) == sorted(spec["tables"]), f"{name}: {RERUN}"


@pytest.mark.parametrize("name", sorted(pictures.PICTURES))
def test_the_png_is_the_one_recorded(manifest, name):
    png = CHECKOUT / pictures.PICTURES[name]["png"]
    assert png.exists(), f"{png.relative_to(CHECKOUT)} is missing: {RERUN}"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{png.name} is not a PNG"
    assert png.stat().st_size < pictures.PNG_LIMIT, f"{png.name}: {png.stat().st_size} bytes, too big for the README"
    assert pictures.file_digest(png) == manifest["pictures"][name]["png_sha256"], (
        f"{png.relative_to(CHECKOUT)} is not the picture the manifest records: {RERUN}")


@pytest.mark.parametrize("name", sorted(pictures.PICTURES))
def test_the_drawing_code_is_unchanged_since_the_picture(manifest, name):
    recorded = manifest["pictures"][name]["sources"]
    for rel, digest in recorded.items():
        assert pictures.source_digest(rel) == digest, (
            f"{rel} changed since docs/images/{name}.png was drawn: {RERUN}")


@pytest.mark.parametrize("name", sorted(pictures.PICTURES))
def test_the_demo_data_is_unchanged_since_the_picture(request, manifest, name):
    url = county_warehouse(request, "sqlite")
    recorded = manifest["pictures"][name]["tables"]
    changed = [t for t, digest in recorded.items() if pictures.table_digest(url, t) != digest]
    assert not changed, (f"the county demo's {', '.join(changed)} changed since "
                         f"docs/images/{name}.png was drawn: {RERUN}")


def test_the_readme_shows_both_pictures_on_its_first_screen():
    text = (CHECKOUT / "README.md").read_text(encoding="utf-8")
    # the first screen: everything before the first second-level heading
    first = re.split(r"^## ", text, maxsplit=1, flags=re.M)[0]
    for spec in pictures.PICTURES.values():
        assert re.search(r"!\[[^\]]+\]\(" + re.escape(spec["png"]) + r"\)", first), (
            f"README.md does not show {spec['png']} (with alt text) before its first ## heading")
