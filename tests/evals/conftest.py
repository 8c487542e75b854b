"""Catalogs for the eval runner's tests: a tiny inline one and the dev set's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals.dataset import SETS, Catalog, load_catalog
from tests.evals.builders import TINY


@pytest.fixture
def tiny(tmp_path: Path) -> Catalog:
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(TINY))
    return load_catalog(path)


@pytest.fixture(scope="module")
def dev() -> Catalog:
    return load_catalog(SETS["dev"].catalog_path)
