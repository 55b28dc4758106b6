"""A plant of several identical lines: the number of lines against a hand count of whole
machines, the site shared by the lines, and the site field to raise when no number of
lines fits.

The test route has one step: a press of 76 cells/h (availability 1), at most 3 per line,
10 m² each. A plant of 0.2 GWh/yr of 37 Wh cells needs D = 5.405 M cells / (76 x 7,680 h)
= 9.261 presses of capacity. N lines of 0.2/N GWh/yr need ceil(D/N) presses each:
  N = 3: 4 per line > 3, no plan;  N = 4: 3 per line, 12 presses;
  N = 5: 2 per line, 10 presses;   N = 6: 2 per line, 12 presses.
Every cost of the plant is proportional to the number of presses (no materials, no
energy), so the fewest lines with a plan is 4 and the cheapest of 4..6 is 5.
"""

from __future__ import annotations

import json
import math
import textwrap

import pytest
from typer.testing import CliRunner

from ssbfab import cost
from ssbfab.cli import app
from ssbfab.config import PlantConfig
from ssbfab.data import load_route
from ssbfab.opt import OptModel, optimize

TARGET = 0.2  # GWh/yr
LINE = """\
name: press-line
form: all-solid
electrolyte: sulfide
source: illustrative
cell:
  capacity: "10 A*h"
  nominal_voltage: "3.7 V"
  electrode_width: "0.1 m"
  electrode_height: "0.1 m"
  cathode:
    components: {NMC811: "90 %", carbon_black: "10 %"}
    active: NMC811
    thickness: "50 um"
    porosity: "20 %"
    collector: Al_foil
    collector_thickness: "10 um"
  metal_anode: {material: Li_metal, thickness: "20 um"}
  separator:
    components: {LPSCl: "100 %"}
    thickness: "30 um"
  packaging: {pouch_laminate: "5 g"}
plant:
  floor_area: "FLOOR m^2"
  dry_room_area: "DRY m^2"
  default_capacity: "0.2 GWh/yr"
line:
  - name: press
    unit: cell
    per_cell: cell
    environment: ENV
    yield: "100 %"
    lot_size: "10 cell"
    options:
      - {name: press, capex: "1 MUSD", rate: "76 cell/h", footprint: "10 m^2", max_count: 3}
"""


def _route(shared, tmp_path, floor=1e6, dry=1e6, env="ambient"):
    text = (textwrap.dedent(LINE).replace("FLOOR", f"{floor:g}").replace("DRY", f"{dry:g}")
            .replace("ENV", env))
    p = tmp_path / f"press-{floor:g}-{dry:g}-{env}.yaml"
    p.write_text(text)
    return load_route(p, shared=shared), p, text


def _hand(route, max_per_line=3):
    """(presses of capacity the plant needs, {lines: presses in all} where a plan exists)."""
    cells = TARGET * 1e6 / (10 * 3.7 / 1000)
    need = cells / (76 * cost.hours_per_year(route.economics))
    return need, {n: n * math.ceil(need / n) for n in range(1, 10)
                  if math.ceil(need / n) <= max_per_line}


def test_the_hand_count_behind_the_tests(shared, tmp_path):
    route, _, _ = _route(shared, tmp_path)
    need, plants = _hand(route)
    assert need == pytest.approx(9.2609, abs=1e-4)  # 7,680 operating h/yr
    assert min(plants) == 4 and plants[4] == 12 and plants[5] == 10 and plants[6] == 12


def test_fewest_lines_then_the_cheapest_of_three(shared, tmp_path):
    route, _, _ = _route(shared, tmp_path)
    _, plants = _hand(route)
    plan = optimize(route, TARGET)
    assert plan.ok, plan.status.reason
    # cheapest of N..N+2 from the fewest lines with a plan (4): 5 lines of 2 presses
    assert plan.lines == 5 == min(range(4, 7), key=lambda n: (plants[n], n))
    assert plan.config.steps["press"].machines == {"press": 2}
    assert plan.line_capacity_gwh == pytest.approx(0.04)
    assert plan.config.capacity_gwh == pytest.approx(0.04)
    assert plan.config.meta["lines"] == 5 and plan.capacity_gwh == TARGET
    assert [t.lines for t in plan.line_search] == [1, 4, 5, 6]
    assert [t.status for t in plan.line_search][:2] == ["infeasible", "optimal"]
    # the plant costs 5 times one line; its cost per kWh is the line's
    econ = route.economics
    assert plan.capex_total == pytest.approx(10 * (1e6 + 10 * econ.building_cost), rel=1e-12)
    assert plan.floor_area_m2 == pytest.approx(100.0)
    assert plan.cost.cost_per_kwh == pytest.approx(plan.status.objective, rel=1e-6)
    assert cost.evaluate(plan.config).cost_per_kwh == pytest.approx(plan.cost.cost_per_kwh,
                                                                    rel=1e-12)
    # without the look-ahead: the fewest lines with a plan
    fewest = optimize(route, TARGET, extra_lines=0)
    assert fewest.lines == 4 and fewest.config.steps["press"].machines == {"press": 3}
    # cost per kWh is proportional to the presses in all: 12 against 10
    assert fewest.cost.cost_per_kwh == pytest.approx(plan.cost.cost_per_kwh * 12 / 10, rel=1e-9)


def test_a_fixed_number_of_lines(shared, tmp_path):
    route, _, _ = _route(shared, tmp_path)
    model = OptModel(route)
    six = model.solve(TARGET, lines=6)
    assert six.lines == 6 and six.config.steps["press"].machines == {"press": 2}
    three = model.solve(TARGET, lines=3)
    assert three.config is None and three.status.status == "infeasible"
    assert "max_count 3" in three.status.reason and "3 lines" in three.status.reason
    # the model keeps the route it was given: a later solve is not one line's share
    again = model.solve(TARGET)
    assert again.lines == 5 and model.route is route


def test_the_site_is_shared_by_the_lines(shared, tmp_path):
    # 110 m² of site: 4 lines of 3 presses take 120 m², 5 lines of 2 take 100 m²
    route, _, _ = _route(shared, tmp_path, floor=110)
    plan = optimize(route, TARGET, extra_lines=0)
    assert plan.lines == 5 and plan.floor_area_m2 == pytest.approx(100.0)
    assert plan.line_search[1].lines == 4 and plan.line_search[1].status == "infeasible"


@pytest.mark.parametrize("field, env", [("floor_area", "ambient"), ("dry_room_area", "dry_room")])
def test_no_plan_names_the_site_field_to_raise(shared, tmp_path, field, env):
    # 90 m²: no number of lines fits (the least is 5 lines x 2 presses x 10 m² = 100 m²)
    kw = {"floor": 90} if field == "floor_area" else {"dry": 90}
    route, path, text = _route(shared, tmp_path, env=env, **kw)
    line = 1 + next(i for i, ln in enumerate(text.splitlines()) if ln.startswith(f"  {field}:"))
    plan = optimize(route, TARGET)
    assert plan.config is None and plan.status.status == "infeasible"
    msg = plan.status.reason
    assert f"raise plant.{field} ({path} line {line}) from 90 m² to at least 100 m²" in msg, msg
    other = "dry_room_area" if field == "floor_area" else "floor_area"
    assert f"plant.{other}" not in msg
    # through the CLI: exit code 3 and the same message, no traceback
    r = CliRunner().invoke(app, ["optimize", str(path), "--capacity-gwh", str(TARGET)])
    assert r.exit_code == 3
    assert f"plant.{field} ({path} line {line})" in " ".join(r.output.split())
    assert "Traceback" not in r.output


def test_cli_json_and_plan_file_say_how_many_lines(shared, tmp_path):
    route, path, _ = _route(shared, tmp_path)
    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["optimize", str(path), "--capacity-gwh", str(TARGET),
                                 "--json", "--out", str(out)])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["lines"] == 5 and d["line_capacity_gwh"] == pytest.approx(0.04)
    assert d["capacity_gwh"] == TARGET
    assert d["steps"][0]["machines"] == {"press": 2}
    assert d["floor_area_m2"] == pytest.approx(100.0)
    assert [t["lines"] for t in d["line_search"]] == [1, 4, 5, 6]
    # plan.json is read back as one line, at the line's target
    config = PlantConfig.read(route, out / "plan.json")
    assert config.capacity_gwh == pytest.approx(0.04)
    assert config.steps["press"].machines == {"press": 2}
    assert config.meta["lines"] == 5
    # the table says it too
    t = CliRunner().invoke(app, ["optimize", str(path), "--capacity-gwh", str(TARGET)])
    assert t.exit_code == 0
    assert "as 5 identical lines of 0.04 GWh/yr" in " ".join(t.output.split())


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_a_bad_number_of_lines_is_bad_input(shared, tmp_path, bad):
    from ssbfab.errors import InputError

    route, _, _ = _route(shared, tmp_path)
    with pytest.raises(InputError, match="lines"):
        optimize(route, TARGET, lines=bad)
