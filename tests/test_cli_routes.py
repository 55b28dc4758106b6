"""The set-up commands through the real CLI: `ssbfab routes | cell | materials | validate`.

Numbers are checked against hand computations from the YAML data (prices, yields,
molar masses), never against what the code just printed; `--json` must put exactly
one JSON document on stdout.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from ssbfab.cli import app

ROOT = Path(__file__).resolve().parents[1]
LINES = ROOT / "lines"
DATA = ROOT / "tests" / "data"
EXAMPLE = DATA / "example-route.yaml"
DOC = ROOT / "docs" / "lines.md"

BOM_KEYS = {"material", "quantity", "unit", "cost_per_kwh"}
CELL_KEYS = {"route", "capacity_ah", "nominal_v", "energy_wh", "mass_kg", "volume_l",
             "wh_per_kg", "wh_per_l", "materials_cost_per_kwh", "currency", "bom"}


def _run(*args: str):
    result = CliRunner().invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        repr(result.exception))
    return result


def _json(*args: str):
    """Run a --json command; stdout must be exactly one JSON document."""
    result = _run(*args)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)  # raises on anything but one document


def _pct(text: str) -> float:
    return float(text.strip().removesuffix("%")) / 100.0


def _value(x):
    """A number's text, whether written bare or as {value, source}."""
    return x["value"] if isinstance(x, dict) else x


# ----------------------------------------------------------------------------- routes


def test_routes_json_lists_every_route_file():
    rows = _json("routes", "--json")
    assert isinstance(rows, list) and rows
    files = {}
    for f in sorted((LINES / "routes").glob("*.yaml")):
        raw = yaml.safe_load(f.read_text())
        if raw.get("cell") is not None:  # a bare line (no cell design) is not a route
            files[raw["name"]] = (f, raw)
    assert sorted(r["name"] for r in rows) == sorted(files)
    for r in rows:
        assert {"name", "form", "electrolyte", "path"} <= set(r)
        f, raw = files[r["name"]]
        assert Path(r["path"]).resolve() == f.resolve()
        assert r["form"] == raw["form"] and r["form"] in ("liquid", "semi-solid", "all-solid")
        assert r["electrolyte"] == raw["electrolyte"]


def test_routes_with_another_data_folder(tmp_path):
    """--lines points at another folder: only its routes are listed."""
    for name in ("materials.yaml", "dry_rooms.yaml", "economics.yaml"):
        shutil.copy(LINES / name, tmp_path / name)
    (tmp_path / "routes").mkdir()
    shutil.copy(EXAMPLE, tmp_path / "routes" / "example-polymer.yaml")
    rows = _json("routes", "--json", "--lines", str(tmp_path))
    assert [r["name"] for r in rows] == ["example-polymer"]
    assert Path(rows[0]["path"]).resolve() == (tmp_path / "routes" / "example-polymer.yaml").resolve()
    # energy: 20 Ah x 3.7 V
    assert rows[0]["energy_kwh"] == pytest.approx(20 * 3.7 / 1000, rel=1e-12)


def test_routes_table_names_each_route():
    result = _run("routes")
    assert result.exit_code == 0, result.stderr
    for f in (LINES / "routes").glob("*.yaml"):
        if yaml.safe_load(f.read_text()).get("cell") is not None:
            assert f.stem in result.stdout


# ----------------------------------------------------------------------------- cell


@pytest.fixture(scope="module")
def sulfide_cell():
    return _json("cell", "sulfide-lpscl", "--json")


@pytest.fixture(scope="module")
def sulfide_yaml():
    return yaml.safe_load((LINES / "routes" / "sulfide-lpscl.yaml").read_text())


def test_cell_json_has_the_documented_keys(sulfide_cell):
    assert CELL_KEYS <= set(sulfide_cell)
    assert sulfide_cell["route"] == "sulfide-lpscl"
    assert sulfide_cell["currency"] == "USD"
    for b in sulfide_cell["bom"]:
        assert BOM_KEYS <= set(b)
        assert b["unit"] in ("kg", "m2", "m3")
    assert len({b["material"] for b in sulfide_cell["bom"]}) == len(sulfide_cell["bom"])


def test_cell_energy_and_ratios_from_the_route_file(sulfide_cell, sulfide_yaml):
    cap = float(sulfide_yaml["cell"]["capacity"].split()[0])  # "75 A*h"
    volt = float(sulfide_yaml["cell"]["nominal_voltage"].split()[0])  # "3.7 V"
    assert sulfide_cell["capacity_ah"] == pytest.approx(cap, rel=1e-12)
    assert sulfide_cell["nominal_v"] == pytest.approx(volt, rel=1e-12)
    assert sulfide_cell["energy_wh"] == pytest.approx(cap * volt, rel=1e-12)
    assert sulfide_cell["wh_per_kg"] == pytest.approx(cap * volt / sulfide_cell["mass_kg"])
    assert sulfide_cell["wh_per_l"] == pytest.approx(cap * volt / sulfide_cell["volume_l"])


def test_bom_costs_add_up_to_materials_cost(sulfide_cell):
    total = math.fsum(b["cost_per_kwh"] for b in sulfide_cell["bom"])
    assert total == pytest.approx(sulfide_cell["materials_cost_per_kwh"], rel=1e-9)


def test_one_bom_line_by_hand(sulfide_cell, sulfide_yaml):
    """Pouch laminate: bought at welding_packaging, so it is lost with every cell scrapped
    from there to the end of the line. Default yields: each step's first setting level,
    driest allowed dry room (no moisture step downstream of packaging here)."""
    line = sulfide_yaml["line"]
    names = [s["name"] for s in line]
    start = names.index("welding_packaging")
    survive = 1.0
    for s in line[start:]:
        assert "moisture" not in s
        y = _value(s["yield"]) if "yield" in s else s["levels"][0]["yield"]
        survive *= _pct(y)
    grams = float(sulfide_yaml["cell"]["packaging"]["pouch_laminate"].split()[0])  # "25 g"
    materials = yaml.safe_load((LINES / "materials.yaml").read_text())["materials"]
    price = float(materials["pouch_laminate"]["price"]["value"].split()[0])  # "8 USD/kg"
    # per kWh delivered: the design's 75 Ah x 3.7 V x the capacity the catholyte keeps
    # after the nominal dose at cathode_mixing in its zone's driest class: the powder
    # zone may run in argon, at dry_rooms.argon_dew_point -76 degC (ppmv by the Magnus
    # formula x 6 h x 1.5 %; retention linear to 45 % at 63.4 ppmv*h; capacity sqrt of it)
    assert yaml.safe_load((LINES / "dry_rooms.yaml").read_text())["argon_dew_point"]["value"] \
        == "-76 degC"
    zone = next(z for z in sulfide_yaml["zones"] if "cathode_mixing" in z["steps"])
    assert zone["argon"] is True
    ppmv = 6.112 * math.exp(22.46 * -76.0 / (272.62 - 76.0)) / 1013.25 * 1e6
    kept = math.sqrt(1.0 - 0.55 * ppmv * 6.0 * 0.015 / 63.4)
    energy_kwh = 75 * 3.7 / 1000 * kept
    assert sulfide_cell["delivered_energy_wh"] == pytest.approx(energy_kwh * 1000, rel=1e-12)
    bought = grams / 1000 / survive
    line_ = next(b for b in sulfide_cell["bom"] if b["material"] == "pouch_laminate")
    assert line_["unit"] == "kg"
    assert line_["quantity"] == pytest.approx(bought, rel=1e-12)
    assert line_["cost_per_kwh"] == pytest.approx(bought * price / energy_kwh, rel=1e-12)


def test_example_route_bom_line_by_hand():
    """Cu foil of the docs' example: priced per m², one foil per two anode faces;
    anode area = cathode area (no overhang given); cathode area from the loading."""
    doc = _json("cell", str(EXAMPLE), "--json")
    raw = yaml.safe_load(EXAMPLE.read_text())
    mats = yaml.safe_load((LINES / "materials.yaml").read_text())["materials"]
    rho = {"NMC811": 4650.0, "PEO": 1210.0, "LiTFSI": 1330.0, "carbon_black": 1950.0}  # kg/m³
    for n, r in rho.items():  # the densities above are those of materials.yaml
        assert float(_value(mats[n]["density"]).split()[0]) * 1000 == pytest.approx(r)
    w = {n: _pct(v) for n, v in raw["cell"]["cathode"]["components"].items()}
    rho_s = 1 / sum(w[n] / rho[n] for n in w)
    areal = 80e-6 * (1 - 0.05) * rho_s  # kg/m² per side
    q = areal * w["NMC811"] * 213.6  # Ah/m² (mAh/g = Ah/kg)
    area = 20 / q
    foil = area / 2  # m², double-sided sheets
    # Cu foil enters at anode_lamination (97 %, x 99 % moisture factor in dp-50, the
    # driest class the route allows), then stacking (98 %) and formation_test (97 %)
    bought = foil / (0.97 * 0.99 * 0.98 * 0.97)
    cu = next(b for b in doc["bom"] if b["material"] == "Cu_foil")
    assert cu["unit"] == "m2"
    assert cu["quantity"] == pytest.approx(bought, rel=1e-9)
    assert cu["cost_per_kwh"] == pytest.approx(bought * 1.2 / (20 * 3.7 / 1000), rel=1e-9)
    # the route overrides PEO's price: 9 USD/kg instead of the shared 10
    peo = next(b for b in doc["bom"] if b["material"] == "PEO")
    assert peo["cost_per_kwh"] == pytest.approx(peo["quantity"] * 9.0 / 0.074, rel=1e-12)


def test_route_named_by_path_equals_route_named_by_name(sulfide_cell):
    by_path = _json("cell", str(LINES / "routes" / "sulfide-lpscl.yaml"), "--json")
    assert by_path == sulfide_cell


def test_cell_table():
    result = _run("cell", "sulfide-lpscl")
    assert result.exit_code == 0, result.stderr
    assert "capacity_ah" in result.stdout and "Li2S" in result.stdout


def test_unknown_route_name_exits_2_with_closest_name():
    for cmd in ("cell", "materials"):
        result = _run(cmd, "sulfide-lpsc", "--json")
        assert result.exit_code == 2
        assert "did you mean 'sulfide-lpscl'" in result.stderr
        assert result.stdout == ""


# ----------------------------------------------------------------------------- materials


def test_materials_lpscl_raw_shares_by_hand():
    doc = _json("materials", "sulfide-lpscl", "--json")
    assert doc["route"] == "sulfide-lpscl"
    lpscl = next(m for m in doc["materials"] if m["name"] == "LPSCl")
    # Li6PS5Cl = 2.5 Li2S + 0.5 P2S5 + LiCl; molar masses and prices of materials.yaml
    mats = yaml.safe_load((LINES / "materials.yaml").read_text())["materials"]
    econ = yaml.safe_load((LINES / "economics.yaml").read_text())
    # a dated price converts at its own year's rates (Li2S: quoted 2025)
    year = _value(mats["Li2S"]["price"]) and mats["Li2S"]["price"]["currency_year"]
    usd_per_cny = float(econ["currency_rates_by_year"][year]["CNY"].split()[0])
    molar = {n: float(_value(mats[n]["molar_mass"]).split()[0]) for n in ("Li2S", "P2S5", "LiCl")}
    mol = {"Li2S": 2.5, "P2S5": 0.5, "LiCl": 1.0}
    li2s_cny_per_t = float(_value(mats["Li2S"]["price"]).split()[0])
    price = {"Li2S": li2s_cny_per_t * usd_per_cny / 1000,
             "P2S5": float(_value(mats["P2S5"]["price"]).split()[0]),
             "LiCl": float(_value(mats["LiCl"]["price"]).split()[0])}
    mass = {n: mol[n] * molar[n] for n in mol}
    total = sum(mass.values())
    cost = sum(mass[n] / total * price[n] for n in mol)
    raws = {r["name"]: r for r in lpscl["raw"]}
    assert set(raws) == set(mol)
    for n in mol:
        assert raws[n]["mass_fraction"] == pytest.approx(mass[n] / total, rel=1e-9)
        assert raws[n]["cost_share"] == pytest.approx(mass[n] / total * price[n] / cost, rel=1e-9)
    assert lpscl["cost_per_kg"] == pytest.approx(cost, rel=1e-9)
    assert lpscl["currency"] == "USD"
    # [qu-seed]'s mass figure holds by stoichiometry: > 30 % of the raw mass; its 82 %
    # cost share is a check reported by tests/test_price_deck.py, not asserted here
    assert raws["Li2S"]["mass_fraction"] > 0.30


def test_materials_of_a_route_that_makes_nothing():
    doc = _json("materials", str(EXAMPLE), "--json")
    assert doc == {"route": "example-polymer", "materials": [], "checks": [], "supply": []}
    result = _run("materials", str(EXAMPLE))
    assert result.exit_code == 0 and "makes no material" in result.stdout


# ----------------------------------------------------------------------------- validate and help


def test_validate_every_shipped_file():
    files = sorted(str(p) for p in [*LINES.glob("*.yaml"), *(LINES / "routes").glob("*.yaml")])
    result = _run("validate", *files)
    assert result.exit_code == 0, result.stdout + result.stderr
    for f in files:
        assert re.search(rf"^ok  {re.escape(f)}  \((route|materials|dry_rooms|economics|reuse|batpac5_scaling)\)$",
                         result.stdout, re.M), f


def test_help_of_the_real_process():
    env = {k: v for k, v in os.environ.items() if k != "SSBFAB_LINES"}
    r = subprocess.run([sys.executable, "-m", "ssbfab", "--help"], capture_output=True,
                       text=True, cwd=ROOT, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    for cmd in ("routes", "cell", "materials", "validate"):
        assert cmd in r.stdout
    assert "Traceback" not in r.stdout + r.stderr


def test_json_of_the_real_process_is_one_document():
    env = {k: v for k, v in os.environ.items() if k != "SSBFAB_LINES"}
    r = subprocess.run([sys.executable, "-m", "ssbfab", "cell", "sulfide-lpscl", "--json"],
                       capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert CELL_KEYS <= set(doc)


# ----------------------------------------------------------------------------- the docs' example


def _doc_example() -> str:
    """The YAML block that follows the marker in docs/lines.md."""
    text = DOC.read_text(encoding="utf-8")
    m = re.search(r"<!-- example-route: tests/data/example-route.yaml -->\s*```yaml\n(.*?)```",
                  text, re.S)
    assert m, "docs/lines.md lost its example block"
    return m.group(1)


def test_docs_example_is_the_tested_example():
    assert _doc_example() == EXAMPLE.read_text(encoding="utf-8")


def test_docs_example_validates(tmp_path):
    p = tmp_path / "from-docs.yaml"
    p.write_text(_doc_example(), encoding="utf-8")
    result = _run("validate", str(p))
    assert result.exit_code == 0, result.stderr
    assert f"ok  {p}  (route)" in result.stdout


def test_docs_name_every_field_of_the_schema():
    """Every key of every model appears in docs/lines.md as `key`, so the doc cannot
    silently fall behind the schema."""
    from ssbfab.data import schema as spec

    text = DOC.read_text(encoding="utf-8")
    models = [spec.Route, spec.CellDesign, spec.Layer, spec.MetalAnode, spec.LiquidFill,
              spec.Plant, spec.Step, spec.InputEdge, spec.MaterialUse, spec.Level,
              spec.EquipmentOption, spec.Maintenance, spec.Moisture, spec.Excursion,
              spec.Material, spec.DryRooms, spec.DryRoomClass, spec.Excursions,
              spec.Economics, spec.BatPaC5, spec.Annuity, spec.Price, spec.Supply,
              spec.SupplyOption, spec.Zone, spec.ArgonEnclosure]
    missing = [f"{m.__name__}.{fi.alias or n}" for m in models
               for n, fi in m.model_fields.items() if f"`{fi.alias or n}`" not in text]
    assert not missing, f"fields not documented in docs/lines.md: {missing}"
