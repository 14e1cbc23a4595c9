"""The Superset dashboard of dashboards/superset is one consistent bundle (bench/superset_check.py
imports it into a real Superset and runs every chart)."""

from __future__ import annotations

import importlib.util
import zipfile
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

BUNDLE_DIR = Path(__file__).resolve().parents[1] / "dashboards" / "superset"


def _load(folder: str) -> dict[str, dict[str, Any]]:
    """{file name: content} of the YAML files of one folder of the bundle."""
    return {p.name: yaml.safe_load(p.read_text()) for p in (BUNDLE_DIR / folder).rglob("*.yaml")}


@pytest.fixture(scope="module")
def bundle_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("superset_bundle", BUNDLE_DIR / "bundle.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _params_columns(params: dict[str, Any]) -> set[str]:
    """The dataset columns a chart's parameters name."""
    names = set(params.get("groupby", [])) | set(params.get("all_columns", []))
    names |= {params[k] for k in ("x_axis", "entity", "series") if params.get(k)}
    names |= {f["subject"] for f in params.get("adhoc_filters", [])
              if f["expressionType"] == "SIMPLE"}
    return names


def _params_metrics(params: dict[str, Any]) -> set[str]:
    names = set(params.get("metrics", []))
    names |= {params[k] for k in ("metric", "x", "y", "size", "timeseries_limit_metric")
              if isinstance(params.get(k), str)}
    return names


def test_every_chart_uses_its_datasets_columns_and_metrics() -> None:
    datasets = {d["uuid"]: d for d in _load("datasets").values()}
    (database,) = _load("databases").values()
    assert {d["database_uuid"] for d in datasets.values()} == {database["uuid"]}
    charts = _load("charts")
    assert len(charts) >= 7
    for name, chart in charts.items():
        dataset = datasets[chart["dataset_uuid"]]
        columns = {c["column_name"] for c in dataset["columns"]}
        metrics = {m["metric_name"] for m in dataset["metrics"]}
        assert chart["params"]["viz_type"] == chart["viz_type"], name
        assert _params_columns(chart["params"]) <= columns, name
        assert _params_metrics(chart["params"]) <= metrics, name


def test_the_dashboard_places_every_chart_once() -> None:
    (dashboard,) = _load("dashboards").values()
    placed = [node["meta"]["uuid"] for node in dashboard["position"].values()
              if isinstance(node, dict) and node.get("type") == "CHART"]
    assert sorted(placed) == sorted(c["uuid"] for c in _load("charts").values())
    assert dashboard["slug"] == "ctmirror"
    # every row's charts fill the 12 columns of Superset's grid
    for node in dashboard["position"].values():
        if isinstance(node, dict) and node.get("type") == "ROW":
            widths = [dashboard["position"][c]["meta"]["width"] for c in node["children"]]
            assert sum(widths) == 12, node["id"]


def test_the_committed_connection_holds_no_password() -> None:
    (database,) = _load("databases").values()
    uri = sa.make_url(database["sqlalchemy_uri"])
    assert (uri.username, uri.password) == ("ctmirror_reader", "XXXXXXXXXX")
    assert "password" not in database


def test_bundle_fills_in_the_warehouse(bundle_script: ModuleType, tmp_path: Path) -> None:
    uri = "postgresql+psycopg2://ctmirror_reader:s3cret@db.example:6543/warehouse"
    out = bundle_script.write_bundle(tmp_path / "dashboard.zip", uri)
    with zipfile.ZipFile(out) as bundle:
        names = set(bundle.namelist())
        database = yaml.safe_load(bundle.read("ctmirror_dashboard/databases/ctmirror.yaml"))
        charts = {n for n in names if n.startswith("ctmirror_dashboard/charts/")}
    # one root folder (Superset strips it), every YAML file of the folder, and nothing else
    committed = {f"ctmirror_dashboard/{p.relative_to(BUNDLE_DIR).as_posix()}"
                 for p in BUNDLE_DIR.rglob("*.yaml")}
    assert names == committed
    assert "ctmirror_dashboard/metadata.yaml" in names and len(charts) == len(_load("charts"))
    assert database["sqlalchemy_uri"] == uri
    assert database["uuid"] == next(iter(_load("databases").values()))["uuid"]


def test_datasets_name_the_analyst_views_columns() -> None:
    """The datasets on analyst views use their names and columns as `ctmirror.schema.analyst`
    defines them (the one source of the views)."""
    analyst = pytest.importorskip("ctmirror.schema.analyst")
    views = {v.name: {c.name for c in v.columns} for v in analyst.ANALYST_VIEWS}
    on_views = {d["table_name"]: d for d in _load("datasets").values()
                if d["table_name"] != "ephys_features_comparison"}
    assert set(on_views) == {"cells", "fi_curves", "glif_models"}
    for name, dataset in on_views.items():
        assert name in views
        assert {c["column_name"] for c in dataset["columns"]} <= views[name], name
