"""Li2S made on site from LiOH and H2S (issue 12, item 1): an ordinary supply option
of the sulfide route whose H2S bleed (`h2s_process`) counts in the H2S abatement, the
site's `plant.h2s_limit` and the simulator's H2S estimate."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from sim_lines import days_for, load_line, step
from ssbfab.cli import app
from ssbfab.data import load_route, resolve_route
from ssbfab.graph import LineGraph
from ssbfab.opt.solve import OptModel
from ssbfab.sim import bare_config, compile_config
from ssbfab.sim.model import run_replication

ROOT = Path(__file__).resolve().parents[1]
LINES = ROOT / "lines"
ROUTE_FILE = LINES / "routes" / "sulfide-lpscl.yaml"
GWH = 2.0
DEAR = {"Li2S": 600.0}  # USD/kg: bought Li2S dearer than either way of making it


@pytest.fixture(scope="module")
def sulfide():
    return resolve_route("sulfide-lpscl", LINES)


@pytest.fixture(scope="module")
def dear(sulfide):
    return OptModel(sulfide).solve(GWH, prices=DEAR)


def _h2s_by_hand(plan) -> float:
    """m³/yr the sulfidation bleeds: 4.88 cm³/g × kg started there per year."""
    graph = LineGraph.of(plan.config.route)
    _, started = graph.flows(plan.config.yields())
    return 4.88e-3 * started["li2s_sulfidation"] * plan.config.good_cells_per_year()


@pytest.mark.slow
def test_the_milp_makes_li2s_from_hydroxide_when_its_data_make_it_cheapest(sulfide, dear):
    """At 600 USD/kg for bought Li2S both ways of making it beat buying, and the
    hydroxide option (LiOH at 67,650 CNY/t, yields 95 % × 92 %) beats the carbothermal
    one (88 % × 90 %, the same purification): brute force over the three Li2S options,
    the rest fixed as the MILP chose, agrees with the MILP."""
    assert dear.ok and dear.config.supply["Li2S"] == "hydroxide"
    assert dear.status.objective == pytest.approx(dear.cost.cost_per_kwh, rel=1e-9)
    rest = {m: o for m, o in dear.config.supply.items() if m != "Li2S"}
    each = {o: OptModel(sulfide.full.with_supply({**rest, "Li2S": o}, keep_others=False))
            .solve(GWH, prices=DEAR).cost.cost_per_kwh
            for o in ("buy", "carbothermal", "hydroxide")}
    assert dear.cost.cost_per_kwh == pytest.approx(min(each.values()), rel=1e-6)
    assert min(each, key=each.get) == "hydroxide"


def test_its_h2s_counts_in_the_abatement(sulfide, dear):
    """The plan's H2S is the line's moisture release (as when Li2S is bought) plus the
    bleed by hand, and the abatement costs h2s_abatement_cost per m³ of it."""
    assert dear.ok and dear.config.supply["Li2S"] == "hydroxide"  # brute force: slow test
    base = OptModel(sulfide).solve(GWH)
    assert base.config.supply["Li2S"] == "buy"
    bleed = _h2s_by_hand(dear)
    assert bleed > 1000.0  # thousands of m³/yr, against about 20 from moisture
    assert dear.cost.h2s_m3_per_year == pytest.approx(base.cost.h2s_m3_per_year + bleed,
                                                      rel=1e-9)
    assert dear.cost.per_year["h2s_abatement"] == pytest.approx(
        dear.cost.h2s_m3_per_year * sulfide.economics.h2s_abatement_cost, rel=1e-12)


def test_the_site_h2s_limit_rules_it_out(dear):
    """A site limit of 1000 m³/yr leaves the plant below the bleed: it makes Li2S the
    carbothermal way instead, within the limit."""
    limited = resolve_route("sulfide-lpscl", LINES, overrides={"plant.h2s_limit": "1000 m^3/yr"})
    plan = OptModel(limited).solve(GWH, prices=DEAR)
    assert plan.ok and plan.config.supply["Li2S"] == "carbothermal"
    assert plan.cost.h2s_m3_per_year <= 1000.0
    assert plan.cost.cost_per_kwh > dear.cost.cost_per_kwh


@pytest.mark.slow
def test_exit_3_names_the_limit_when_only_the_hydroxide_option_is_left(tmp_path):
    """Li2S only from hydroxide (and LPSCl by milling): a site limit below its bleed
    leaves no plan; exit 3 names plant.h2s_limit."""
    doc = yaml.safe_load(ROUTE_FILE.read_text())
    doc["name"] = "sulfide-hydroxide-only"
    keep = {"LPSCl": "milling", "Li2S": "hydroxide"}
    gone = set()
    for m, o in keep.items():
        for opt in doc["supply"][m]["options"]:
            if opt["name"] != o:
                gone |= set(opt["steps"])
        doc["supply"][m]["options"] = [x for x in doc["supply"][m]["options"] if x["name"] == o]
    doc["line"] = [s for s in doc["line"] if s["name"] not in gone]
    path = tmp_path / "sulfide-hydroxide-only.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    r = CliRunner().invoke(app, ["optimize", str(path), "--capacity-gwh", "2",
                                 "--set", "plant.h2s_limit=1000 m^3/yr"])
    assert r.exit_code == 3, r.output
    assert "plant.h2s_limit" in r.output and "Traceback" not in r.output
    ok = CliRunner().invoke(app, ["optimize", str(path), "--capacity-gwh", "2"])
    assert ok.exit_code == 0, ok.output


def test_the_simulator_counts_the_bleed(tmp_path):
    """A deterministic kg step with h2s_process: the simulator's H2S estimate (L/yr) is
    the bleed × kg started per year, exactly."""
    a = step("a", "kg", rate=100, lot=50, yield_="90 %")
    a["h2s_process"] = "4 cm^3/g"
    b = step("b", "cell", rate=2, lot=1, inputs=[{"step": "a", "per_cell": "45 kg"}])
    route = load_line(tmp_path, [a, b], name="bleed")
    model = compile_config(bare_config(route), days=days_for(route, 500),
                           warmup_days=days_for(route, 10))
    raw = run_replication(model, seed=3, rep=0)
    started_kg = raw["steps"][0]["started"]
    assert started_kg > 0
    assert raw["h2s_cm3"] == pytest.approx(4.0 * 1000.0 * started_kg, rel=1e-12)


@pytest.mark.parametrize("old,new,field", [
    ('h2s_process: {value: "4.88 cm^3/g"', 'h2s_process: {value: "-1 cm^3/g"', "h2s_process"),
    ('h2s_process: {value: "4.88 cm^3/g"', 'h2s_process: {value: "4.88 kg"', "h2s_process"),
])
def test_bad_h2s_process_is_refused(tmp_path, old, new, field):
    text = ROUTE_FILE.read_text()
    assert old in text
    path = tmp_path / "sulfide-lpscl.yaml"
    path.write_text(text.replace(old, new, 1))
    r = CliRunner().invoke(app, ["validate", str(path)])
    assert r.exit_code == 2, r.output
    assert field in r.output and "sulfide-lpscl.yaml" in r.output
    assert "Traceback" not in r.output


def test_h2s_process_on_a_step_not_in_kg_is_refused(tmp_path):
    from ssbfab.errors import SpecError

    a = step("a", "cell", rate=2, lot=1)
    a["h2s_process"] = "1 cm^3/g"
    with pytest.raises(SpecError, match="h2s_process"):
        load_line(tmp_path, [a], name="bleed-cell")
    assert load_route  # the loader, not the simulator, refuses it
