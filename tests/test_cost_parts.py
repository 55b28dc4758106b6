"""Each primary cost of `evaluate` by hand on a two-step plant: materials through the
yields with a scrap credit, process energy with the level's energy factor and the
merit-order dispatch between two options, labour, dry room by class (building extra,
equipment, energy), and what observed statistics change. Data files are written here.
"""

from __future__ import annotations

import textwrap

import pytest

from ssbfab.config import PlantConfig, StepChoice
from ssbfab.cost import evaluate
from ssbfab.data import load_shared, resolve_route
from ssbfab.stats import DryRoomStats, Estimate, LineStats, StepStats

HOURS = 300 * 2 * 10  # 300 days x 2 shifts x 10 h
PRICE_E = 0.1  # USD/kWh
LABOUR = 30.0  # USD/h
BUILDING = 2000.0  # USD/m2
CELL_KWH = 60 * 3.7 / 1000
CELLS = 1e6  # good cells per year

ECONOMICS = f"""\
source: test
currency_year: 2022
currency_rates: {{}}
operating_days_per_year: 300
shifts_per_day: 2
shift_length: "10 h"
labour_rate: "{LABOUR} USD/h"
building_cost: "{BUILDING} USD/m^2"
electricity_price: "{PRICE_E} USD/kWh"
batpac5:
  equipment_life: "10 yr"
  building_life: "20 yr"
  variable_overhead_of_labour: "40 %"
  variable_overhead_of_depreciation: "20 %"
  gsa_of_labour_and_overhead: "25 %"
  gsa_of_depreciation: "25 %"
  rnd_of_depreciation: "40 %"
  launch_of_materials: "5 %"
  launch_of_labour_and_overhead: "10 %"
  working_capital_of_variable_cost: "15 %"
  profit_of_investment: "5 %"
  warranty_of_price: "5.6 %"
annuity: {{discount_rate: "8 %", equipment_life: "10 yr", building_life: "25 yr",
          fixed_om_of_capex: "3 %", overhead_of_labour: "40 %"}}
"""

DRY_ROOMS = """\
source: test
sulfide_exposure_threshold: "-45 degC"
h2s_reference_dew_point: "-40 degC"
classes:
  - {name: wet, dew_point: "-40 degC", building_extra_cost: "100 USD/m^2",
     equipment_cost: "200 USD/m^2", power: "0.1 kW/m^2",
     excursions: {rate: "12 1/yr", duration: "2 h", peak: "-30 degC"}}
  - {name: dry, dew_point: "-60 degC", building_extra_cost: "500 USD/m^2",
     equipment_cost: "400 USD/m^2", power: "0.3 kW/m^2",
     excursions: {rate: "12 1/yr", duration: "2 h", peak: "-50 degC"}}
"""

MATERIALS = """\
source: test
materials:
  cath: {price: "25 USD/kg", density: "4.6 g/cm^3", specific_capacity: "200 mA*h/g"}
  anod: {price: "10 USD/kg", density: "2.2 g/cm^3", specific_capacity: "350 mA*h/g"}
  film: {price: "0.9 USD/m^2", density: "0.95 g/cm^3"}
  powder: {price: "10 USD/kg"}
  pack: {price: "8 USD/kg", density: "1.6 g/cm^3", scrap_credit: "40 %"}
"""

ROUTE = """\
source: test
name: parts
form: all-solid
electrolyte: test
dry_room_classes: [wet, dry]
cell:
  capacity: "60 A*h"
  nominal_voltage: "3.7 V"
  electrode_width: "0.3 m"
  electrode_height: "0.1 m"
  cathode: {components: {cath: "100 %"}, active: cath, thickness: "70 um", porosity: "25 %"}
  anode: {components: {anod: "100 %"}, active: anod, porosity: "30 %"}
  separator: {components: {film: "100 %"}, thickness: "15 um", porosity: "40 %"}
  packaging: {pack: "30 g"}
plant: {floor_area: "1e6 m^2", dry_room_area: "1e6 m^2", default_capacity: "1 GWh/yr"}
line:
  - name: powder_step
    unit: kg
    per_cell: "0.5 kg"
    environment: dry_room
    yield: "90 %"
    moisture: {yield_factor: {wet: "80 %", dry: "100 %"}, excursion: {effect: loss}}
    materials: [{material: powder, amount: "1 kg/kg"}]
    lot_size: "10 kg"
    options:
      - {name: small, capex: "1 MUSD", rate: "20 kg/h", power: "10 kW", footprint: "100 m^2",
         operators_per_shift: 1}
      - {name: large, capex: "1.5 MUSD", rate: "200 kg/h", power: "200 kW",
         footprint: "150 m^2", operators_per_shift: 1}
  - name: cell_step
    unit: cell
    per_cell: cell
    inputs: [powder_step]
    materials: [{material: pack, amount: packaging.pack}]
    levels:
      - {name: fast, rate_factor: 2, yield: "90 %", energy_factor: 0.5}
      - {name: slow, rate_factor: 1, yield: "95 %", energy_factor: 1}
    lot_size: "100 cell"
    options:
      - {name: assembler, capex: "2 MUSD", rate: "1000 cell/h", power: "20 kW",
         footprint: "200 m^2", operators_per_shift: 2}
"""


def write_plant(d, route_text: str = ROUTE):
    """The two-step plant's data files in folder `d`, loaded."""
    (d / "routes").mkdir()
    (d / "economics.yaml").write_text(ECONOMICS)
    (d / "dry_rooms.yaml").write_text(DRY_ROOMS)
    (d / "materials.yaml").write_text(MATERIALS)
    (d / "routes" / "parts.yaml").write_text(textwrap.dedent(route_text))
    return resolve_route("parts", d, shared=load_shared(d))


@pytest.fixture(scope="module")
def route(tmp_path_factory):
    return write_plant(tmp_path_factory.mktemp("parts_lines"))


def config(route, dpc="dry", level="fast", small=2, large=1):
    steps = {"powder_step": StepChoice("nominal", {"small": small, "large": large}, 10.0),
             "cell_step": StepChoice(level, {"assembler": 1}, 100.0)}
    return PlantConfig(route, steps, dpc, CELLS * CELL_KWH / 1e6)


def hand(dpc="dry", y_cell=0.90, ef=0.5, rf=2.0, avail_powder=1.0):
    """Primary quantities per year by hand."""
    y_powder = 0.90 * (1.0 if dpc == "dry" else 0.80)
    started_cell = CELLS / y_cell
    started_powder = started_cell * 0.5 / y_powder
    materials = started_powder * 10.0  # powder: no credit
    pack_bought = started_cell * 0.030
    materials += pack_bought * 8.0 - 0.40 * 8.0 * (pack_bought - CELLS * 0.030)
    # merit order: the small machine uses 0.5 kWh/kg, the large one 1 kWh/kg
    small_cap = 2 * 20 * avail_powder * HOURS
    on_small = min(started_powder, small_cap)
    energy = (on_small * 10 / 20 + (started_powder - on_small) * 200 / 200) * PRICE_E
    energy += started_cell * 20 * ef / (1000 * rf) * PRICE_E
    labour = (2 * 1 + 1 * 1 + 1 * 2) * HOURS * LABOUR
    dry_area = 2 * 100 + 150
    extra, equip, power = (500, 400, 0.3) if dpc == "dry" else (100, 200, 0.1)
    return {"materials": materials, "process_energy": energy, "labour": labour,
            "equipment_capex": 2 * 1e6 + 1.5e6 + 2e6,
            "building_capex": (dry_area + 200) * BUILDING + dry_area * extra,
            "dry_room_capex": dry_area * equip,
            "dry_room_energy": dry_area * power * HOURS * PRICE_E,
            "started": {"powder_step": started_powder, "cell_step": started_cell}}


@pytest.mark.parametrize("dpc", ["dry", "wet"])
def test_every_primary_cost_by_hand(route, dpc):
    h = hand(dpc)
    c = evaluate(config(route, dpc))
    y = c.per_year
    assert y["materials"] == pytest.approx(h["materials"], rel=1e-9)
    assert y["process_energy"] == pytest.approx(h["process_energy"], rel=1e-9)
    assert y["labour"] == pytest.approx(h["labour"], rel=1e-9)
    assert y["dry_room_energy"] == pytest.approx(h["dry_room_energy"], rel=1e-9)
    assert y["equipment"] == pytest.approx(h["equipment_capex"] / 10, rel=1e-9)
    assert y["building"] == pytest.approx(h["building_capex"] / 20, rel=1e-9)
    assert y["dry_room"] == pytest.approx(h["dry_room_capex"] / 10, rel=1e-9)
    assert c.dry_room_area_m2 == pytest.approx(350) and c.floor_area_m2 == pytest.approx(550)
    for s, v in h["started"].items():
        assert c.started_per_year[s] == pytest.approx(v, rel=1e-9)
    assert c.cost_per_kwh * c.good_kwh_per_year == pytest.approx(sum(y.values()), rel=1e-12)


def test_the_level_sets_yield_rate_and_energy(route):
    h = hand(y_cell=0.95, ef=1.0, rf=1.0)
    c = evaluate(config(route, level="slow"))
    assert c.per_year["process_energy"] == pytest.approx(h["process_energy"], rel=1e-9)
    assert c.per_year["materials"] == pytest.approx(h["materials"], rel=1e-9)


def _stats(route, avail, y_obs):
    e = Estimate
    steps = {
        "powder_step": StepStats("powder_step", "small+large", 3, e(0.5, 0.5, 0.5),
                                 e(avail, avail, avail), e(0, 0, 0), e(0, 0, 0),
                                 e(0.9, 0.9, 0.9), e(1, 1, 1), e(1, 1, 1)),
        "cell_step": StepStats("cell_step", "assembler", 1, e(0.5, 0.5, 0.5), e(1, 1, 1),
                               e(0, 0, 0), e(0, 0, 0), e(y_obs, y_obs, y_obs), e(1, 1, 1),
                               e(1, 1, 1), level="fast"),
    }
    z = e(0, 0, 0)
    return LineStats("parts", 1, 1, 365, 0, steps, z, z, z, z, "", DryRoomStats(z, z, z), 0, 0.0,
                     dew_point_class="dry")


def test_observed_availability_and_yield(route):
    """Half the availability at the powder step shifts load to the dearer machine; a
    yield of 45 % observed at 'fast' (nominal 90 %) halves the 'slow' level's too."""
    stats = _stats(route, 0.5, 0.45)
    c = evaluate(config(route, level="slow"), stats)
    h = hand(y_cell=0.95 * 0.5, ef=1.0, rf=1.0, avail_powder=0.5)
    assert c.per_year["process_energy"] == pytest.approx(h["process_energy"], rel=1e-9)
    assert c.per_year["materials"] == pytest.approx(h["materials"], rel=1e-9)
    assert c.started_per_year["cell_step"] == pytest.approx(CELLS / (0.95 * 0.5), rel=1e-9)


def test_short_capacity_is_reported_not_hidden(route):
    c = evaluate(config(route, small=0, large=1))
    h = hand()
    cap = 200 * HOURS
    assert h["started"]["powder_step"] < cap  # the large machine alone is enough ...
    c2 = evaluate(config(route, small=1, large=0))
    assert c.feasible and not c2.feasible  # ... one small machine is not
    assert c2.shortfall["powder_step"] == pytest.approx(h["started"]["powder_step"] - 20 * HOURS,
                                                        rel=1e-9)
