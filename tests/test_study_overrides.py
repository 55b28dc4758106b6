"""Overrides by path: the same result as editing the file by hand, clear errors otherwise."""

from __future__ import annotations

import shutil

import pytest

from ssbfab import bom
from ssbfab.data import load_shared, resolve_route
from ssbfab.data.overrides import OverrideError, Overrides
from ssbfab.errors import InputError
from ssbfab.summary import default_yields

ROUTE = "sulfide-lpscl"


def _cost(route) -> float:
    return bom.materials_cost_per_kwh(route, default_yields(route))


@pytest.fixture(scope="module")
def edited_lines(tmp_path_factory, lines_dir):
    """A copy of lines/ with values changed by editing the text, as a user would."""
    d = tmp_path_factory.mktemp("lines")
    shutil.copytree(lines_dir, d, dirs_exist_ok=True)
    mat = d / "materials.yaml"
    text = mat.read_text()
    old = 'value: "2.5e6 CNY/t"'
    assert text.count(old) == 1
    mat.write_text(text.replace(old, 'value: "0.7e6 CNY/t"').replace('low: "1.5e6 CNY/t"',
                                                                     'low: "0.7e6 CNY/t"'))
    eco = d / "economics.yaml"
    text = eco.read_text()
    old = 'labour_rate: {value: "25 USD/h"'
    assert text.count(old) == 1
    eco.write_text(text.replace(old, 'labour_rate: {value: "31 USD/h"'))
    return d


def test_li2s_price_override_equals_editing_the_file(edited_lines, lines_dir):
    by_file = resolve_route(ROUTE, edited_lines)
    by_override = resolve_route(ROUTE, lines_dir, overrides={
        "materials.Li2S.price": "0.7e6 CNY/t", "economics.labour_rate": "31 USD/h"})
    assert _cost(by_override) == pytest.approx(_cost(by_file), rel=1e-12)
    assert by_override.economics.labour_rate == pytest.approx(31.0)
    assert by_file.economics.labour_rate == pytest.approx(31.0)


def test_li2s_price_moves_cost_linearly_by_the_li2s_bought(lines_dir):
    # cost(p) = a + p * kg Li2S bought per kWh: three prices lie on one line whose slope is
    # the price difference in USD/kg times the Li2S mass (independent: 1 CNY = 0.13728 USD, the rate of
    # 2025, the year the Li2S price was quoted)
    costs = {p: _cost(resolve_route(ROUTE, lines_dir, overrides={
        "materials.Li2S.price": f"{p} CNY/t"})) for p in (0.5e6, 1.5e6, 3.5e6)}
    slope1 = (costs[1.5e6] - costs[0.5e6]) / 1.0e6
    slope2 = (costs[3.5e6] - costs[1.5e6]) / 2.0e6
    assert slope1 == pytest.approx(slope2, rel=1e-9)
    route = resolve_route(ROUTE, lines_dir)
    li2s = next(b for b in bom.bill_of_materials(route, default_yields(route))
                if b.material == "Li2S")
    kg_per_kwh = li2s.quantity / bom.delivered_energy_kwh(route)  # per kWh delivered
    assert slope1 == pytest.approx(kg_per_kwh * 0.13728 / 1000.0, rel=1e-9)


@pytest.mark.parametrize("path,value,get,expected", [
    ("economics.electricity_price", "0.12 USD/kWh", lambda r: r.economics.electricity_price, 0.12),
    ("dry_rooms.classes.dp-60.power", "0.3 kW/m^2",
     lambda r: r.shared.dry_rooms.classes[2].power, 0.3),
    ("line.cathode_coating.levels.standard.yield", "92 %",
     lambda r: r.step("cathode_coating").level("standard").yield_, 0.92),
    ("plant.floor_area", "1e6 m^2", lambda r: r.plant.floor_area, 1e6),
    ("plant.default_capacity", "0.2 GWh/yr", lambda r: r.plant.default_capacity, 0.2),
    ("line.lpscl_annealing.options.argon_kiln.mtbf", "600 h",
     lambda r: r.step("lpscl_annealing").option("argon_kiln").mtbf, 600.0),
    # by index in the file: cathode_coating is the 16th step (the supply options' steps
    # come first, the two of Li2S from LiOH and H2S among them)
    ("line.15.levels.0.yield", "0.5",
     lambda r: r.step("cathode_coating").setting_levels[0].yield_, 0.5),
    ("cell.cathode.thickness", "0.12 mm", lambda r: r.cell.cathode.thickness, 120e-6),
    ("dry_room_classes", ["dp-60"], lambda r: r.dry_room_classes, ["dp-60"]),
])
def test_override_lands_in_the_typed_model(lines_dir, path, value, get, expected):
    route = resolve_route(ROUTE, lines_dir, overrides={path: value})
    got = get(route)
    assert got == (pytest.approx(expected) if isinstance(expected, float) else expected)


def test_an_optional_field_the_file_omits_can_be_set(lines_dir):
    # lpscl_classifying's jet mill has no planned maintenance in the file
    route = resolve_route(ROUTE, lines_dir, overrides={
        "line.lpscl_classifying.options.jet_mill_classifier.operators_per_shift": 2})
    assert route.step("lpscl_classifying").option("jet_mill_classifier").operators_per_shift == 2


def test_overridden_number_is_sourced_to_the_study(lines_dir):
    ov = Overrides({"plant.floor_area": "1e6 m^2"}, file="studies/x.yaml", study="x",
                   lines={"plant.floor_area": 7})
    route = resolve_route(ROUTE, lines_dir, overrides=ov)
    assert route.sources["plant.floor_area"] == "study x (studies/x.yaml line 7)"


def test_route_materials_entry_is_overridden_too(lines_dir):
    # the example route sets PEO's price itself; the study's value must win over it
    from pathlib import Path

    example = Path(__file__).parent / "data" / "study-polymer.yaml"
    shared = load_shared(lines_dir)
    before = resolve_route(str(example), lines_dir, shared=shared)
    assert before.all_materials["PEO"].price_per_unit[0] == pytest.approx(9.0)
    after = resolve_route(str(example), lines_dir, overrides={"materials.PEO.price": "20 USD/kg"})
    assert after.all_materials["PEO"].price_per_unit[0] == pytest.approx(20.0)


@pytest.mark.parametrize("path,words", [
    ("materials.Li2s.price", ["Li2s", "did you mean 'Li2S'"]),
    ("materials.Li2S.prise", ["prise", "did you mean 'price'"]),
    ("line.cathode_coatng.yield", ["cathode_coatng", "did you mean 'cathode_coating'"]),
    ("line.cathode_coating.levels.standrd.yield", ["standrd", "did you mean 'standard'"]),
    ("economics.labor_rate", ["labor_rate", "did you mean 'labour_rate'"]),
    ("dry_rooms.classes.dp-70.power", ["dp-70", "dp-40, dp-50, dp-60"]),
    ("plant.flor_area", ["flor_area", "did you mean 'floor_area'"]),
    ("line.cathode_coating.name", ["cannot be overridden"]),
    ("line.cathode_coating", ["whole item", "options"]),
    ("cell.cathode", ["mapping", "thickness"]),
    ("materials.Li2S", ["materials.<material>.<field>"]),
])
def test_unknown_or_unsafe_path_is_a_clear_error(lines_dir, path, words):
    ov = Overrides({path: "1"}, file="s.yaml", lines={path: 12})
    with pytest.raises(OverrideError) as exc:
        resolve_route(ROUTE, lines_dir, overrides=ov)
    msg = str(exc.value)
    assert msg.startswith(f"s.yaml:12: {path}: ")
    for w in words:
        assert w in msg


def test_bad_value_fails_validation_with_the_field(lines_dir):
    with pytest.raises(InputError) as exc:
        resolve_route(ROUTE, lines_dir, overrides={
            "line.cathode_coating.levels.standard.yield": "150 %"})
    assert "yield" in str(exc.value) and "(0, 1]" in str(exc.value)


def test_exchange_rate_override_reprices_what_is_quoted_in_that_currency(lines_dir):
    """`economics.currency_rates_by_year.2025.CNY` is a study parameter like any other:
    the Li2S price (2.5e6 CNY/t quoted 2025) follows the scenario's rate of its year,
    USD prices do not, and a load with the file's rate in the same process is unchanged
    afterwards."""
    base = resolve_route(ROUTE, lines_dir)
    moved = resolve_route(ROUTE, lines_dir, overrides={
        "economics.currency_rates_by_year.2025.CNY": "0.2 USD"})
    again = resolve_route(ROUTE, lines_dir)
    li2s = {k: r.all_materials["Li2S"].price_per_unit for k, r in
            (("base", base), ("moved", moved), ("again", again))}
    # 2.5e6 CNY/t at 0.13728 and at 0.2 USD per CNY, by hand
    assert li2s["base"] == (pytest.approx(343.2, rel=1e-12), "kg")
    assert li2s["moved"] == (pytest.approx(500.0, rel=1e-12), "kg")
    assert li2s["again"] == li2s["base"]
    usd_priced = [n for n, m in base.all_materials.items()
                  if m.price is not None and "USD" in getattr(m.price, "value", m.price)]
    assert usd_priced
    for n in usd_priced:
        assert moved.all_materials[n].price_per_unit == base.all_materials[n].price_per_unit
    assert moved.economics.currency_rates_by_year[2025]["CNY"] == pytest.approx(0.2)
    assert _cost(moved) > _cost(base)


def test_overrides_leave_the_files_and_other_loads_alone(lines_dir):
    before = _cost(resolve_route(ROUTE, lines_dir))
    resolve_route(ROUTE, lines_dir, overrides={"materials.Li2S.price": "0.1e6 CNY/t"})
    assert _cost(resolve_route(ROUTE, lines_dir)) == before


def test_a_sweep_over_an_exchange_rate_runs_every_scenario_in_one_process(tmp_path, lines_dir):
    """A study may vary a rate: three CNY rates, swept in this process (as a long-lived
    worker would, after loads with the file's rate): every scenario ok, and the cost
    moves linearly with the rate by the Li2S bought (2.5e6 CNY/t in the file) x 1 USD."""
    import textwrap

    from ssbfab.study import load, sweep

    p = tmp_path / "fx.yaml"
    p.write_text(textwrap.dedent(f"""\
        study: fx
        job: materials
        lines: {lines_dir}
        routes: [{ROUTE}]
        grid:
          economics.currency_rates_by_year.2025.CNY: ["0.10 USD", "0.13728 USD", "0.25 USD"]
        """))
    report = sweep(p, out=tmp_path / "out", workers=0)
    assert (report.ok, report.failed, report.errors) == (3, 0, [])
    df = load(tmp_path / "out").set_index("economics.currency_rates_by_year.2025.CNY")
    cost = df["cost_per_kwh"]
    route = resolve_route(ROUTE, lines_dir)
    li2s = next(b for b in bom.bill_of_materials(route, default_yields(route))
                if b.material == "Li2S")
    kg_per_kwh = li2s.quantity / bom.delivered_energy_kwh(route)  # per kWh delivered
    slope = kg_per_kwh * 2.5e6 / 1000.0  # USD/kWh per (USD per CNY)
    assert cost[0.25] - cost[0.10] == pytest.approx(slope * 0.15, rel=1e-9)
    assert cost[0.13728] == pytest.approx(_cost(route), rel=1e-12)
