"""Cell design rules on a cell whose every number is distinct and none is 0 or 100 %.

The shipped cells share values that hide mistakes (a liquid that fills all of the
pores, no anode thickness given, one material per layer); here every fraction, ratio
and thickness differs, a material appears in three layers, a mesh is bought by area
inside a composite, the liquid is bought by volume, and the anode thickness is given.
Every per-cell quantity the line data can reference (`refs`) is checked by hand, and
each design error names the field it comes from.
"""

from __future__ import annotations

import copy

import pytest
import yaml

from ssbfab.cell import design
from ssbfab.data import load_route
from ssbfab.errors import InputError

REL = 1e-12

MATERIALS = {
    "act": {"price": "21 USD/kg", "density": "4.4 g/cm^3", "specific_capacity": "190 mA*h/g"},
    "gr": {"price": "9 USD/kg", "density": "2.1 g/cm^3", "specific_capacity": "340 mA*h/g"},
    "bind": {"price": "14 USD/kg", "density": "1.7 g/cm^3"},
    "mesh": {"price": "0.7 USD/m^2", "density": "2.9 g/cm^3"},
    "sep": {"price": "30 USD/kg", "density": "1.9 g/cm^3"},
    "al": {"price": "0.5 USD/m^2", "density": "2.7 g/cm^3"},
    "cu": {"price": "1.1 USD/m^2", "density": "8.9 g/cm^3"},
    "liq": {"price": "13 USD/L", "density": "1.23 g/cm^3"},
    "pouch": {"price": "6 USD/kg"},
    "plate": {"price": "3 USD/kg"},
    "li": {"price": "90 USD/kg", "density": "0.534 g/cm^3"},
}

CELL = {
    "capacity": "47 A*h", "nominal_voltage": "3.61 V",
    "electrode_width": "0.21 m", "electrode_height": "0.13 m",
    "cathode": {"components": {"act": "85 %", "bind": "6 %", "mesh": "9 %"}, "active": "act",
                "thickness": "73 um", "porosity": "27 %", "collector": "al",
                "collector_thickness": "11 um", "first_cycle_efficiency": "91 %"},
    "anode": {"components": {"gr": "93 %", "bind": "4 %", "mesh": "3 %"}, "active": "gr",
              "thickness": "61 um", "porosity": "33 %", "collector": "cu",
              "collector_thickness": "7 um"},
    "np_ratio": 1.13, "anode_area_ratio": 1.03,
    "separator": {"components": {"sep": "88 %", "bind": "12 %"}, "thickness": "23 um",
                  "porosity": "12 %"},
    "liquid": {"material": "liq", "fraction_of_pores": "87 %"},
    "packaging": {"pouch": "21 g"},
    "stack_pressure_hardware": {"plate": "13 g"},
    "packaging_volume_overhead": "17 %",
}


def _doc(cell: dict, materials: dict | None = None) -> dict:
    return {
        "source": "test", "name": "asym", "form": "liquid", "electrolyte": "test",
        "materials": materials or MATERIALS, "cell": cell,
        "plant": {"floor_area": "1000 m^2", "dry_room_area": "500 m^2",
                  "default_capacity": "1 GWh/yr"},
        "line": [{"name": "assembly", "unit": "cell", "per_cell": "cell", "yield": "97 %",
                  "lot_size": "10 cell",
                  "options": [{"name": "m", "capex": "1 MUSD", "rate": "10 cell/h",
                               "footprint": "10 m^2"}]}],
    }


def _load(tmp_path, shared, cell=None, materials=None):
    p = tmp_path / "asym.yaml"
    p.write_text(yaml.safe_dump(_doc(cell or CELL, materials), sort_keys=False))
    return load_route(p, shared=shared)


def _rho(parts):
    return 1.0 / sum(w / rho for w, rho in parts)


@pytest.fixture(scope="module")
def route(tmp_path_factory, shared):
    return _load(tmp_path_factory.mktemp("asym"), shared)


@pytest.fixture
def cell(route):
    # designed in each test (not once per module): each test then calls the design
    # rules itself, which is what mutation testing maps a test to
    return design(route)


def test_areas_loading_and_sheets_by_hand(cell):
    rho_c = _rho([(0.85, 4400), (0.06, 1700), (0.09, 2900)])
    m_c = 73e-6 * (1 - 0.27) * rho_c  # kg/m² per side
    q_c = m_c * 0.85 * 190 * 0.91  # Ah/m², after the first cycle
    a_c = 47 / q_c
    a_a = 1.03 * a_c
    sheet = 0.21 * 0.13
    assert cell.cathode_areal_capacity_mah_cm2 == pytest.approx(q_c / 10, rel=REL)
    assert (cell.cathode_area_m2, cell.anode_area_m2, cell.separator_area_m2) == pytest.approx(
        (a_c, a_a, a_a), rel=REL)
    r = cell.refs
    # double-sided electrode sheets: cathode A_c/(2·sheet); the anode sheet is larger by
    # the overhang, so as many anode sheets as cathode sheets; one separator per face
    assert r["cathode.sheets"].value == pytest.approx(a_c / (2 * sheet), rel=REL)
    assert r["anode.sheets"].value == pytest.approx(a_a / (2 * sheet * 1.03), rel=REL)
    assert r["separator.sheets"].value == pytest.approx(a_a / (sheet * 1.03), rel=REL)
    assert r["sheets"].value == pytest.approx(2 * a_c / (2 * sheet), rel=REL)
    assert cell.sheets == r["sheets"].value
    assert {r[k].unit for k in ("cathode.sheets", "anode.sheets", "separator.sheets", "sheets")} \
        == {"sheet"}
    assert (r["cathode.area"].value, r["anode.area"].value, r["separator.area"].value) == \
        pytest.approx((a_c, a_a, a_a), rel=REL)
    assert r["cell"] == type(r["cell"])(1.0, "cell")


def test_masses_volume_and_purchases_by_hand(cell):
    rho_c = _rho([(0.85, 4400), (0.06, 1700), (0.09, 2900)])
    m_c = 73e-6 * (1 - 0.27) * rho_c
    q_c = m_c * 0.85 * 190 * 0.91
    a_c = 47 / q_c
    a_a = 1.03 * a_c
    # anode: N/P sets the active mass; its thickness is given (61 um), not derived
    m_a = 1.13 * q_c / 340 / 0.93  # kg/m² per side
    cat_mass, an_mass = m_c * a_c, m_a * a_a
    rho_s = _rho([(0.88, 1900), (0.12, 1700)])
    sep_mass = 23e-6 * (1 - 0.12) * rho_s * a_a
    al_area, cu_area = a_c / 2, a_a / 2
    pores = 0.27 * 73e-6 * a_c + 0.33 * 61e-6 * a_a + 0.12 * 23e-6 * a_a
    liquid = 0.87 * pores  # m³
    r = cell.refs
    assert r["cathode.mass"].value == pytest.approx(cat_mass, rel=REL)
    assert r["anode.mass"] == type(r["anode.mass"])(pytest.approx(an_mass, rel=REL), "kg")
    assert r["separator.mass"].value == pytest.approx(sep_mass, rel=REL)
    assert r["liquid.volume"].value == pytest.approx(liquid, rel=REL)
    assert r["liquid.mass"] == type(r["liquid.mass"])(pytest.approx(1230 * liquid, rel=REL), "kg")
    assert (r["collector.cathode"].value, r["collector.anode"].value) == pytest.approx(
        (al_area, cu_area), rel=REL)
    # the binder is in three layers: bought once, the sum of the three
    bind = 0.06 * cat_mass + 0.04 * an_mass + 0.12 * sep_mass
    b = cell.design_bom
    assert (b["bind"].unit, b["bind"].value) == ("kg", pytest.approx(bind, rel=REL))
    assert r["material.bind"].value == pytest.approx(bind, rel=REL)
    # the mesh is bought by area (per m²): the area of each layer it sits in
    assert (b["mesh"].unit, b["mesh"].value) == ("m2", pytest.approx(a_c + a_a, rel=REL))
    assert r["cathode.mesh"].value == pytest.approx(a_c, rel=REL)
    assert r["anode.mesh"].value == pytest.approx(a_a, rel=REL)
    # the liquid by volume (priced per litre), the packaging by mass
    assert (b["liq"].unit, b["liq"].value) == ("m3", pytest.approx(liquid, rel=REL))
    assert (b["pouch"].value, b["plate"].value) == pytest.approx((0.021, 0.013), rel=REL)
    assert r["packaging.plate"].value == pytest.approx(0.013, rel=REL)
    assert (b["al"].unit, b["al"].value, b["cu"].value) == ("m2", pytest.approx(al_area, rel=REL),
                                                          pytest.approx(cu_area, rel=REL))
    mass = (cat_mass + an_mass + sep_mass + al_area * 11e-6 * 2700 + cu_area * 7e-6 * 8900
            + 1230 * liquid + 0.021 + 0.013)
    volume = (73e-6 * a_c + 11e-6 * al_area + 61e-6 * a_a + 7e-6 * cu_area
              + 23e-6 * a_a) * 1.17  # m³
    assert cell.mass_kg == pytest.approx(mass, rel=REL)
    assert cell.volume_l == pytest.approx(1000 * volume, rel=REL)
    assert (cell.capacity_ah, cell.nominal_v, cell.energy_wh) == pytest.approx(
        (47, 3.61, 47 * 3.61), rel=REL)
    assert cell.energy_kwh == pytest.approx(47 * 3.61 / 1000, rel=REL)
    assert cell.route == "asym"


def test_a_thin_cathode_below_one_ah_per_m2_is_still_a_cell(tmp_path, shared):
    cell = copy.deepcopy(CELL)
    cell["cathode"]["thickness"] = "1 um"  # about 0.6 Ah/m²
    c = design(_load(tmp_path, shared, cell))
    assert 0 < c.cathode_areal_capacity_mah_cm2 < 0.1


@pytest.mark.parametrize("li_price, basis", [("90 USD/kg", "kg"), ("40 USD/m^2", "m2")])
def test_the_metal_anode_by_hand(tmp_path, shared, li_price, basis):
    cell = copy.deepcopy(CELL)
    del cell["anode"], cell["liquid"]
    cell["metal_anode"] = {"material": "li", "thickness": "17 um", "collector": "cu",
                           "collector_thickness": "6 um"}
    materials = copy.deepcopy(MATERIALS)
    materials["li"]["price"] = li_price
    c = design(_load(tmp_path, shared, cell, materials))
    a_a = c.cathode_area_m2 * 1.03
    li = 17e-6 * a_a * 534
    bought = li if basis == "kg" else a_a  # a foil priced per m² is bought by its area
    assert c.refs["anode.li"] == type(c.refs["anode.li"])(pytest.approx(bought, rel=REL), basis)
    assert c.refs["anode.mass"] == type(c.refs["anode.mass"])(pytest.approx(li, rel=REL), "kg")
    assert c.refs["collector.anode"].value == pytest.approx(a_a / 2, rel=REL)
    assert (c.design_bom["li"].unit, c.design_bom["li"].value) == (basis, pytest.approx(
        bought, rel=REL))
    assert "liquid.volume" not in c.refs
    # the lithium weighs what it weighs whatever its purchase basis
    others = copy.deepcopy(materials)
    others["li"]["price"] = "90 USD/kg"
    assert c.mass_kg == pytest.approx(design(_load(tmp_path, shared, cell, others)).mass_kg,
                                      rel=REL)


# ----------------------------------------------------------------------------- errors


def _error(tmp_path, shared, cell=None, materials=None) -> tuple[str, str]:
    with pytest.raises(InputError) as exc:
        _load(tmp_path, shared, cell, materials)
    problems = [p for p in exc.value.problems if p.field.startswith("cell")]
    assert len(problems) == 1, exc.value.problems
    assert problems[0].line is not None  # the line of the field in the file
    return problems[0].field, problems[0].message


def _without(material: str, key: str) -> dict:
    m = copy.deepcopy(MATERIALS)
    del m[material][key]
    return m


@pytest.mark.parametrize("material, key, field, words", [
    ("bind", "density", "cell.cathode.components.bind", "needs a density"),
    ("gr", "specific_capacity", "cell.anode.active", "needs a specific_capacity"),
    ("act", "specific_capacity", "cell.cathode.active", "needs a specific_capacity"),
    ("al", "density", "cell.cathode.collector", "needs a density"),
    ("cu", "density", "cell.anode.collector", "needs a density"),
    ("liq", "density", "cell.liquid.material", "needs a density"),
    ("sep", "density", "cell.separator.components.sep", "needs a density"),
    ("gr", "density", "cell.anode.components.gr", "needs a density"),
])
def test_a_missing_property_names_its_field(tmp_path, shared, material, key, field, words):
    f, msg = _error(tmp_path, shared, materials=_without(material, key))
    assert f == field and words in msg and repr(material) in msg


def test_errors_of_the_metal_anode_name_their_fields(tmp_path, shared):
    cell = copy.deepcopy(CELL)
    del cell["anode"]
    cell["metal_anode"] = {"material": "li", "thickness": "17 um", "collector": "cu",
                           "collector_thickness": "6 um"}
    f, msg = _error(tmp_path, shared, cell, _without("li", "density"))
    assert f == "cell.metal_anode.material" and "needs a density" in msg
    f, msg = _error(tmp_path, shared, cell, _without("cu", "density"))
    assert f == "cell.metal_anode.collector" and "needs a density" in msg
    cell["metal_anode"]["collector_thickness"] = None
    del cell["metal_anode"]["collector_thickness"]
    f, msg = _error(tmp_path, shared, cell)
    assert f == "cell.metal_anode.collector" and "collector_thickness is required" in msg


@pytest.mark.parametrize("group", ["packaging", "stack_pressure_hardware"])
def test_a_part_priced_by_area_but_used_by_mass_names_its_field(tmp_path, shared, group):
    cell = copy.deepcopy(CELL)
    cell[group] = dict(cell[group], mesh="2 g")
    f, msg = _error(tmp_path, shared, cell)
    assert f == f"cell.{group}.mesh" and "priced per m^2" in msg


def test_errors_found_where_a_part_is_bought_name_its_field(tmp_path, shared):
    # an unknown foil, an unknown or density-less packaging part, a liquid priced per m²:
    # found only when the part is bought
    cell = copy.deepcopy(CELL)
    cell["cathode"]["collector"] = "alx"
    f, msg = _error(tmp_path, shared, cell)
    assert f == "cell.cathode.collector" and "unknown material 'alx'" in msg
    cell = copy.deepcopy(CELL)
    cell["packaging"] = {"pouchx": "21 g"}
    f, msg = _error(tmp_path, shared, cell)
    assert f == "cell.packaging.pouchx" and "unknown material 'pouchx'" in msg
    materials = copy.deepcopy(MATERIALS)
    materials["plate"] = {"price": "2 USD/L"}  # by volume, but no density to get it
    f, msg = _error(tmp_path, shared, materials=materials)
    assert f == "cell.stack_pressure_hardware.plate" and "needs a density" in msg
    materials = copy.deepcopy(MATERIALS)
    materials["liq"]["price"] = "3 USD/m^2"
    f, msg = _error(tmp_path, shared, materials=materials)
    assert f == "cell.liquid.material" and "priced per m^2" in msg


def test_a_cathode_without_active_material_has_no_capacity(tmp_path, shared):
    cell = copy.deepcopy(CELL)
    cell["cathode"]["components"] = {"act": "0 %", "bind": "91 %", "mesh": "9 %"}
    f, msg = _error(tmp_path, shared, cell)
    assert f == "cell.cathode" and "areal capacity is zero" in msg


def test_unknown_material_and_an_active_material_outside_the_layer(tmp_path, shared):
    cell = copy.deepcopy(CELL)
    cell["separator"]["components"] = {"sepp": "88 %", "bind": "12 %"}
    f, msg = _error(tmp_path, shared, cell)
    assert f == "cell.separator.components.sepp" and "unknown material 'sepp'" in msg
    cell = copy.deepcopy(CELL)
    cell["anode"]["active"] = "bindx"
    f, msg = _error(tmp_path, shared, cell)
    assert f == "cell.anode.active" and "not among the components" in msg
