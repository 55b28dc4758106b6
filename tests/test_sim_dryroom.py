"""The dry room: excursions, stops, extra scrap, sulfide exposure and the H2S estimate,
against renewal theory and hand-computed roll-ups.

Statistical checks fail by chance less than once in a thousand runs when the random
streams change (`inside` of sim_lines, or a binomial bound stated in the test)."""

from __future__ import annotations

import math
import re
import shutil

import pytest
import yaml

from sim_lines import days_for, inside, load_line, step
from ssbfab.data import load_shared
from ssbfab.sim import bare_config, simulate

GAP, LENGTH = 20.0, 2.0  # mean hours between excursions and mean excursion length
FRACTION = LENGTH / (GAP + LENGTH)  # share of time in an excursion (alternating renewal)


def magnus_ppmv(t: float) -> float:
    # REFERENCE.md section 2: frost point -> water vapour, written out again here
    return 6.112 * math.exp(22.46 * t / (272.62 + t)) / 1013.25 * 1e6


@pytest.fixture(scope="module")
def humid(tmp_path_factory, lines_dir):
    """Shared data whose driest class has frequent excursions peaking at -40 degC."""
    d = tmp_path_factory.mktemp("lines")
    for f in ("economics.yaml", "materials.yaml"):
        shutil.copy(lines_dir / f, d / f)
    dry = yaml.safe_load((lines_dir / "dry_rooms.yaml").read_text())
    for c in dry["classes"]:
        c["excursions"] = {"rate": f"{1 / GAP} 1/h", "duration": f"{LENGTH} h",
                           "peak": "-40 degC", "source": "test"}
    (d / "dry_rooms.yaml").write_text(yaml.safe_dump(dry, sort_keys=False))
    return load_shared(d)


@pytest.fixture(scope="module")
def calm(tmp_path_factory, lines_dir):
    """Shared data without excursions."""
    d = tmp_path_factory.mktemp("calm")
    for f in ("economics.yaml", "materials.yaml"):
        shutil.copy(lines_dir / f, d / f)
    dry = yaml.safe_load((lines_dir / "dry_rooms.yaml").read_text())
    for c in dry["classes"]:
        c["excursions"] = {"rate": "0 1/h", "duration": "1 h", "peak": "-40 degC",
                           "source": "test"}
    (d / "dry_rooms.yaml").write_text(yaml.safe_dump(dry, sort_keys=False))
    return load_shared(d)


def powder_step(effect: dict, rate: float = 100.0, lot: float = 1.0, h2s: str = "0.1 cm^3/g",
                yield_: str = "100 %"):
    # counted in cells (a bare line ends in cells), each holding 1 kg of Li2S
    return step("handling", "cell", rate=rate, lot=lot, environment="dry_room", yield_=yield_,
                materials=[{"material": "Li2S", "amount": "1 kg/cell"}],
                moisture={"yield_factor": {"dp-40": "100 %", "dp-50": "100 %", "dp-60": "100 %"},
                          "excursion": effect, "h2s_release": h2s})


def test_a_stop_step_loses_the_excursion_time(tmp_path, humid):
    # one always-busy machine with short lots: it is down for the share of time the
    # room spends in excursions, and ships that much less
    rate = 20.0
    route = load_line(tmp_path, [powder_step({"effect": "stop"}, rate=rate)], shared=humid)
    reps = 10  # false alarm < 1e-3 over the 2 interval checks
    res = simulate(bare_config(route), days=days_for(route, 1500), warmup_days=days_for(route, 50),
                   reps=reps, seed=1, workers=1)
    s = res.stats
    st = s.steps["handling"]
    hours = route.economics.operating_hours_per_year
    # a lot under way when an excursion starts runs on (half a lot time on average)
    down = (LENGTH - 0.5 / rate) / (GAP + LENGTH)
    pr = s.per_rep
    assert inside(st.per_rep["availability"], 1 - down, checks=2), (st.availability, down)
    eh = s.dry_room.excursion_hours
    assert inside(pr["excursion_hours"], FRACTION * hours, checks=2), (eh, FRACTION * hours)
    assert st.throughput_per_h.mean == pytest.approx(rate * st.availability.mean, rel=0.01)


def test_a_loss_step_scraps_lots_that_meet_an_excursion(tmp_path, humid):
    # a yield of 80 % and an extra loss of 45 %: a lot met by an excursion yields
    # 0.80 x 0.55 = 44 %, not 0.80 - 0.45 = 35 % nor 55 % (the values do not coincide)
    rate, y0, loss = 20.0, 0.80, 0.45
    route = load_line(tmp_path, [powder_step({"effect": "loss", "extra_loss": "45 %"},
                                             rate=rate, yield_="80 %")], shared=humid)
    reps = 10
    res = simulate(bare_config(route), days=days_for(route, 1500), warmup_days=days_for(route, 50),
                   reps=reps, seed=2, workers=1)
    y = res.stats.steps["handling"].yield_
    # a lot of 1/rate hours meets an excursion if one is on at its start or begins
    # during it: probability (LENGTH + 1/rate) / (GAP + LENGTH)
    hit = (LENGTH + 1 / rate) / (GAP + LENGTH)
    expected = y0 * (1 - loss * hit)
    assert inside(res.stats.steps["handling"].per_rep["yield"], expected), \
        (y, expected)  # false alarm < 1e-3


def test_lots_met_by_an_excursion_yield_the_product_of_yield_and_extra_loss(tmp_path, humid):
    """Given which units met an excursion, the good count is binomial: its mean is
    y·(units in calm lots) + y·(1 - loss)·(units in hit lots), and its standard
    deviation the binomial one; 3.9 sigma is a two-sided false alarm of 1e-4."""
    y0, loss = 0.70, 0.60
    route = load_line(tmp_path, [powder_step({"effect": "loss", "extra_loss": "60 %"},
                                             rate=20.0, yield_="70 %")], shared=humid)
    res = simulate(bare_config(route), days=days_for(route, 4000), warmup_days=days_for(route, 20),
                   reps=1, seed=4, workers=1)
    s = res.raw[0]["steps"][0]
    calm, hit = s["units_norm"], s["units_exc"]
    assert hit > 5000 and calm > 5 * hit
    p_hit = y0 * (1 - loss)
    mean = y0 * calm + p_hit * hit
    sd = (calm * y0 * (1 - y0) + hit * p_hit * (1 - p_hit)) ** 0.5
    assert abs(s["good"] - mean) < 3.9 * sd, (s["good"], mean, sd)
    # additive (y - loss = 10 %) or the loss alone (40 %) are well beyond that bound
    for wrong in (y0 - loss, 1 - loss):
        assert abs(s["good"] - (y0 * calm + wrong * hit)) > 5.5 * sd


def test_sulfide_exposure_counts_wip_while_the_dew_point_is_above_the_threshold(tmp_path, humid):
    # peak -40 degC is above the -45 degC threshold, the dp-60 set point is below: the
    # 1 kg of Li2S always in the busy machine counts for exactly the excursion hours
    route = load_line(tmp_path, [powder_step({"effect": "loss", "extra_loss": "0 %"}, rate=20.0)],
                      shared=humid)
    res = simulate(bare_config(route), days=days_for(route, 2000), warmup_days=days_for(route, 20),
                   reps=2, seed=3, workers=1)
    per_rep = res.stats.per_rep
    for exposure, hours in zip(per_rep["sulfide_exposure_kg_h"], per_rep["excursion_hours"],
                               strict=True):
        assert exposure == pytest.approx(1.0 * hours, rel=1e-6)
        assert hours > 0


def test_h2s_estimate_matches_a_hand_roll_up(tmp_path, calm):
    # no excursions: every kg passes at the -60 degC set point, 100 kg/h all year
    route = load_line(tmp_path, [powder_step({"effect": "loss"}, rate=100.0, lot=10.0)],
                      shared=calm)
    res = simulate(bare_config(route), days=days_for(route, 1000), warmup_days=days_for(route, 10),
                   reps=1, seed=1, workers=1)
    hours = route.economics.operating_hours_per_year
    litres = 100.0 * hours * 1000.0 * 0.1 * magnus_ppmv(-60) / magnus_ppmv(-40) / 1000.0
    assert res.stats.dry_room.h2s_estimate.mean == pytest.approx(litres, rel=0.01)
    assert res.stats.dry_room.excursion_hours.mean == 0
    assert res.stats.dry_room.sulfide_exposure_kg_h.mean == 0  # -60 degC: below threshold


def test_a_dp40_room_exposes_sulfide_all_the_time(tmp_path, calm):
    from dataclasses import replace

    route = load_line(tmp_path, [powder_step({"effect": "loss"}, rate=100.0, lot=10.0)],
                      shared=calm)
    cfg = replace(bare_config(route), dew_point_class="dp-40")  # -40 degC > -45 degC
    res = simulate(cfg, days=days_for(route, 500), warmup_days=days_for(route, 10), reps=1,
                   seed=1, workers=1)
    # an always-busy machine holds one 10 kg lot of Li2S: 10 kg all year
    hours = route.economics.operating_hours_per_year
    assert res.stats.dry_room.sulfide_exposure_kg_h.mean == pytest.approx(10.0 * hours, rel=1e-6)


# ----------------------------------------------------------------------------- Magnus range


@pytest.mark.parametrize("t", [-100.0, -60.0, -40.0, 0.0, 25.0, 50.0])
def test_dew_points_a_plant_can_have_convert_as_written(t):
    from ssbfab.data.units import dew_point_to_ppmv

    assert dew_point_to_ppmv(t) == pytest.approx(magnus_ppmv(t), rel=1e-12)


@pytest.mark.parametrize(("t", "words"), [
    (-272.62, "pole"),  # the formula divides by zero
    (-272.9, "pole"),  # between absolute zero and the pole: exp overflows
    (-272.5, "pole"),  # just above the pole: the formula gives ~0 ppmv, meaningless
    (-273.15 - 1e-9, "absolute zero"),
    (-500.0, "absolute zero"),
    (-100.5, "outside -100 to +50"),
    (50.5, "outside -100 to +50"),
    (math.nan, "finite"),
    (math.inf, "finite"),
    (-math.inf, "finite"),
])
def test_dew_points_the_magnus_formula_cannot_take_are_value_errors(t, words):
    from ssbfab.data.units import check_dew_point, dew_point_to_ppmv

    with pytest.raises(ValueError, match=re.escape(words)):
        dew_point_to_ppmv(t)
    with pytest.raises(ValueError, match=re.escape(words)):
        check_dew_point(t)


@pytest.mark.parametrize("p", [0.0, -1.0, math.nan, math.inf])
def test_a_pressure_that_is_not_positive_and_finite_is_a_value_error(p):
    from ssbfab.data.units import dew_point_to_ppmv

    with pytest.raises(ValueError, match="pressure"):
        dew_point_to_ppmv(-40.0, pressure_hpa=p)


def test_a_route_changed_in_memory_to_a_pole_peak_is_an_input_error(sulfide):
    """The loader refuses such a dew point; a route built or changed in memory (as a
    what-if study may) must still end in a located error, not an OverflowError."""
    from ssbfab.config import size_for_capacity
    from ssbfab.errors import InputError
    from ssbfab.sim import compile_config

    dr = sulfide.shared.dry_rooms
    classes = [c.model_copy(update={"excursions": c.excursions.model_copy(
        update={"peak": -273.0})}) for c in dr.classes]
    route = sulfide.model_copy()
    # attached as the loader attaches shared data (a private attribute, see loader.py)
    route._shared = sulfide.shared.model_copy(
        update={"dry_rooms": dr.model_copy(update={"classes": classes})})
    route.__dict__.pop("dry_room_options", None)  # a cached property the copy carried over
    config = size_for_capacity(route, 0.2)
    with pytest.raises(InputError, match="excursions.peak") as exc:
        compile_config(config, days=3, warmup_days=1)
    assert "dry_rooms.yaml" in str(exc.value) and "pole" in str(exc.value)
