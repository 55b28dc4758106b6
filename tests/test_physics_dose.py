"""Moisture damage by water dose (issue 12, item 3): a sensitive step's loss is a
curve of the water a lot meets (ppmv of the room × hours), buffer waits included.
The optimiser reads the curve at the nominal exposure in each dry-room class; the
simulator at the dose each lot meets; on a line without variability they agree."""

from __future__ import annotations

import math

import numpy as np
import pytest
from typer.testing import CliRunner

from sim_lines import days_for, load_line, step
from ssbfab.cli import app
from ssbfab.data import load_shared, resolve_route
from ssbfab.data.units import dew_point_to_ppmv
from ssbfab.graph import LineGraph
from ssbfab.sim import bare_config, compile_config
from ssbfab.sim.model import run_replication


def magnus_ppmv(t: float) -> float:
    """Water (ppmv) at frost point t (°C), Magnus over ice, at 1013.25 hPa (written out)."""
    return 6.112 * math.exp(22.46 * t / (272.62 + t)) / 1013.25 * 1e6


@pytest.fixture(scope="module")
def calm():
    """The shared data with no dry-room excursions: a line without variability."""
    return load_shared(None, overrides={f"dry_rooms.classes.{c}.excursions.rate": "0 1/yr"
                                        for c in ("dp-40", "dp-50", "dp-60")})


def _line(b_hours: float, exposure: float, points) -> list[dict]:
    """`a` (dry room, not sensitive) finishes two 1000 kg lots together every 2 h; `b`
    (sensitive, dose curve) takes one lot each `b_hours`: the second lot waits `b_hours`
    in a's buffer, so lots meet the room for b_hours and 2·b_hours."""
    a = step("a", "kg", batch=2000, cycle=2.0, lot=1000, yield_="100 %", buffer=8,
             environment="dry_room", per_cell="1000 kg")
    b = step("b", "cell", rate=1 / b_hours, lot=1, yield_="98 %",
             inputs=[{"step": "a", "per_cell": "1000 kg"}], environment="dry_room",
             moisture={"dose": {"exposure": f"{exposure} h", "points": points},
                       "excursion": {"effect": "loss"}})
    b["options"][0]["mtbf"] = None
    b["options"][0].pop("mtbf")
    return [a, b]


LINEAR = [{"dose": "500 ppmv*h", "loss": "50 %"}]  # loss = dose / 1000 up to 500 ppmv·h
BENT = [{"dose": "100 ppmv*h", "loss": "20 %"}, {"dose": "400 ppmv*h", "loss": "80 %"}]


def _run(tmp_path, shared, b_hours, exposure, points, name, hours=4000):
    route = load_line(tmp_path, _line(b_hours, exposure, points), name=name, shared=shared)
    cfg = bare_config(route, "dp-40")
    model = compile_config(cfg, days=days_for(route, hours), warmup_days=days_for(route, 20))
    raw = run_replication(model, seed=11, rep=0)
    return route, model, raw["steps"][1]


def test_dose_is_ppmv_times_exposure_by_hand(tmp_path, calm):
    """The mean dose the simulator sees is ppmv(-40 °C) × the mean exposure (b_hours and
    2·b_hours), exactly; the loss is the curve at each lot's dose."""
    ppmv = magnus_ppmv(-40.0)
    assert dew_point_to_ppmv(-40.0) == pytest.approx(ppmv, rel=1e-12)
    _, model, b = _run(tmp_path, calm, 0.5, 0.75, BENT, "dose-a")
    assert b["water_dose"] == pytest.approx(ppmv * 0.75, rel=1e-9)
    losses = np.interp([ppmv * 0.5, ppmv * 1.0], [0, 100, 400], [0, 0.2, 0.8])
    expect = 0.98 * (1 - losses.mean())
    n = b["started"] - b["inproc_end"]
    got = b["good"] / n
    assert got == pytest.approx(expect, abs=4 * math.sqrt(expect * (1 - expect) / n))


def test_doubling_the_wait_raises_the_loss_as_the_curve_says(tmp_path, calm):
    ppmv = magnus_ppmv(-40.0)
    out = {}
    for bh in (0.5, 1.0):  # the wait and the time in b both double
        _, _, b = _run(tmp_path, calm, bh, 0.75, BENT, f"dose-{bh}", hours=6000)
        n = b["started"] - b["inproc_end"]
        out[bh] = (b["water_dose"], 1 - b["good"] / n / 0.98, n)
    assert out[1.0][0] == pytest.approx(2 * out[0.5][0], rel=1e-9)
    for bh, (_, loss, n) in out.items():
        expect = np.interp([ppmv * bh, ppmv * 2 * bh], [0, 100, 400], [0, 0.2, 0.8]).mean()
        assert loss == pytest.approx(expect, abs=4 * math.sqrt(0.25 / n) / 0.98)
    assert out[1.0][1] > out[0.5][1] + 0.1


def test_simulator_and_optimiser_agree_without_variability(tmp_path, calm):
    """With the nominal exposure equal to the mean exposure the line gives (0.75 h) and
    a curve linear over the doses met, the graph's yield (what cost and optimiser use)
    equals the simulated yield."""
    route, model, b = _run(tmp_path, calm, 0.5, 0.75, LINEAR, "dose-agree")
    nominal = LineGraph.of(route).yield_at("b", "nominal", "dp-40")
    assert nominal == pytest.approx(0.98 * (1 - magnus_ppmv(-40.0) * 0.75 / 1000), rel=1e-12)
    n = b["started"] - b["inproc_end"]
    assert b["good"] / n == pytest.approx(nominal, abs=4 * math.sqrt(0.25 / n))
    assert model.steps[1].effective_yield == pytest.approx(nominal, rel=1e-12)


def test_sulfide_curve_is_calibrated_to_gm():
    """The GM point (30 min at -40 °C dew point, 63.4 ppmv·h: over half the conductivity
    lost, GM R&D 2022) is the conductivity curve's (test_physics_conductivity); the scrap
    curve is illustrative and lower (20 % there), so the point is not counted twice.
    The optimiser's factor per class is the curve at ppmv × 6 h × 1.5 % (the powder's
    wait before it is slurried, in sealed totes)."""
    route = resolve_route("sulfide-lpscl")
    mo = route.step("cathode_mixing").moisture
    assert mo.dose.loss_at(magnus_ppmv(-40.0) * 0.5) == pytest.approx(0.20, abs=0.002)
    node = LineGraph.of(route).node("cathode_mixing")
    for c, t in (("dp-40", -40.0), ("dp-50", -50.0), ("dp-60", -60.0)):
        d = magnus_ppmv(t) * 6.0 * 0.015
        assert node.moisture[c] == pytest.approx(1 - np.interp(d, [0, 10, 63.4, 300],
                                                               [0, .02, .20, .70]), rel=1e-9)


GOOD = ('          - {dose: "10 ppmv*h", loss: "2 %", source: illustrative}\n'
        '          - {dose: "63.4 ppmv*h", loss: "20 %"')


@pytest.mark.parametrize("bad,word", [
    ('- {dose: "10 ppmv*h", loss: "2 %", source: illustrative}\n          - {dose: "6.4 ppmv*h", loss: "20 %"',
     "doses must increase"),
    ('- {dose: "10 ppmv*h", loss: "30 %", source: illustrative}\n          - {dose: "63.4 ppmv*h", loss: "20 %"',
     "must not fall"),
    ('- {dose: "10 kg", loss: "2 %", source: illustrative}\n          - {dose: "63.4 ppmv*h", loss: "20 %"',
     "dose"),
    ('- {dose: "10 ppmv*h", loss: "105 %", source: illustrative}\n          - {dose: "63.4 ppmv*h", loss: "20 %"',
     "loss"),
])
def test_bad_dose_curves_are_refused(tmp_path, lines_dir, bad, word):
    """A curve that is not monotone, in the wrong unit or beyond 100 %: file, line,
    field, exit 2."""
    text = (lines_dir / "routes" / "sulfide-lpscl.yaml").read_text()
    assert GOOD in text
    path = tmp_path / "sulfide-lpscl.yaml"
    path.write_text(text.replace(GOOD, "          " + bad, 1))
    r = CliRunner().invoke(app, ["validate", str(path)])
    assert r.exit_code == 2, r.output
    assert word in r.output and "Traceback" not in r.output
    assert "sulfide-lpscl.yaml" in r.output and "moisture.dose.points" in r.output


def test_the_loop_feeds_the_observed_dose_loss_back(tmp_path, calm):
    """Lots that wait longer than the nominal exposure lose more: the statistics carry
    the mean dose (typed `StepStats.water_dose`) and the observed yield, and the cost's
    observed factor turns the nominal yield into the simulated one."""
    from ssbfab.cost import config_yields, observed
    from ssbfab.sim import simulate

    # nominal exposure 0.5 h, but the lots meet the room for 0.75 h on average
    route = load_line(tmp_path, _line(0.5, 0.5, LINEAR), name="dose-loop", shared=calm)
    cfg = bare_config(route, "dp-40")
    res = simulate(cfg, days=days_for(route, 3000), warmup_days=days_for(route, 20), reps=2,
                   workers=1)
    st = res.stats.steps["b"]
    assert st.water_dose.mean == pytest.approx(magnus_ppmv(-40.0) * 0.75, rel=1e-9)
    obs = observed(route, res.stats)
    y = config_yields(cfg, obs)["b"]
    assert y == pytest.approx(st.yield_.mean, rel=1e-12)
    assert y < LineGraph.of(route).yield_at("b", "nominal", "dp-40") - 0.02
