"""Intervals that respect what they estimate: fractions stay in [0, 1], rare-event sums
are non-negative and bounded even without events, against hand values and coverage."""

from __future__ import annotations

import math
import shutil

import numpy as np
import pytest
import yaml

from sim_lines import days_for, load_line, step
from ssbfab.data import load_shared
from ssbfab.sim import bare_config, simulate
from ssbfab.stats import Estimate, LineStats, gamma_interval, poisson_interval


def test_fraction_near_one_stays_inside_and_contains_the_mean():
    vals = [0.99, 1.0, 0.98]
    t = Estimate.of(vals)
    # by hand: mean 0.99, sd 0.01, t(0.975, 2) = 4.3027 -> 0.99 + 0.02484 > 1
    assert t.ci95_high == pytest.approx(0.99 + 4.302653 * 0.01 / math.sqrt(3), rel=1e-6)
    assert t.ci95_high > 1
    f = Estimate.fraction(vals)
    assert f.method == "logit-t" and f.mean == pytest.approx(0.99)
    assert 0 < f.ci95_low < f.mean < f.ci95_high < 1
    # by hand: logit(0.99) = 4.59512, half = 4.302653 * 0.0057735 / (0.99 * 0.01) = 2.50918
    assert f.ci95_low == pytest.approx(1 / (1 + math.exp(-(4.59512 - 2.50918))), rel=1e-4)
    assert f.ci95_high == pytest.approx(1 / (1 + math.exp(-(4.59512 + 2.50918))), rel=1e-4)


def test_fraction_near_zero_and_in_the_middle():
    low = Estimate.fraction([0.0, 0.02, 0.001])
    assert 0 < low.ci95_low < low.mean < low.ci95_high < 1
    assert Estimate.of([0.0, 0.02, 0.001]).ci95_low < 0  # what the plain interval did
    # away from the bounds the logit interval is close to the t-interval (delta method)
    mid = [0.49, 0.5, 0.51, 0.505, 0.495]
    f, t = Estimate.fraction(mid), Estimate.of(mid)
    assert f.ci95_low == pytest.approx(t.ci95_low, abs=2e-4)
    assert f.ci95_high == pytest.approx(t.ci95_high, abs=2e-4)


def test_fraction_edge_cases():
    assert Estimate.fraction([1.0, 1.0, 1.0]) == Estimate(1.0, 1.0, 1.0, "logit-t")
    single = Estimate.fraction([0.7])
    assert (single.ci95_low, single.ci95_high, single.method) == (0.7, 0.7, "single")
    assert "one replication" in single.note
    # a window ratio just above 1 in one replication (lots started before the warm-up)
    # is averaged as it is, not clipped (which would bias the mean down) ...
    e = Estimate.fraction([1.0076, 0.9797, 0.9997])
    assert e.mean == pytest.approx((1.0076 + 0.9797 + 0.9997) / 3)
    assert 0 < e.ci95_low < e.mean < e.ci95_high < 1
    # ... and only a mean above 1 is
    assert Estimate.fraction([1.0004, 1.0002]).mean == 1.0


def test_logit_interval_covers_a_beta_mean():
    # replication means of a fraction near 1: the interval covers the true mean about
    # 95 % of the time (n = 5 per interval, 2000 intervals, fixed seed)
    rng = np.random.default_rng(7)
    a, b = 97.0, 3.0  # beta mean 0.97
    hits = 0
    for _ in range(2000):
        e = Estimate.fraction(rng.beta(a, b, 5))
        assert 0 <= e.ci95_low <= e.mean <= e.ci95_high <= 1
        hits += e.ci95_low <= a / (a + b) <= e.ci95_high
    assert 0.92 <= hits / 2000 <= 0.98


def test_poisson_interval_hand_values():
    # Garwood: (chi2(0.025, 2k)/2, chi2(0.975, 2k+2)/2); tabulated values
    lo, hi = poisson_interval(0)
    assert lo == 0.0 and hi == pytest.approx(3.6889, abs=1e-4)  # -ln(0.025)
    assert hi == pytest.approx(-math.log(0.025), rel=1e-9)
    lo, hi = poisson_interval(3)
    assert lo == pytest.approx(0.6187, abs=1e-4) and hi == pytest.approx(8.7673, abs=1e-4)
    from scipy.stats import chi2

    assert (lo, hi) == pytest.approx((chi2.ppf(0.025, 6) / 2, chi2.ppf(0.975, 8) / 2))


def test_gamma_interval_is_poisson_for_equal_events_and_bounded_without_any():
    w = 2.5  # every event adds 2.5 h
    for k in (0, 1, 3, 10):
        lo, hi = gamma_interval(k * w, k * w * w, w)
        plo, phi = poisson_interval(k)
        assert (lo, hi) == pytest.approx((w * plo, w * phi), rel=1e-9)
    e = Estimate.rare(0.0, 0, 0.0, 0.0, 2.0, scale=10.0)
    assert (e.ci95_low, e.mean) == (0.0, 0.0)
    assert e.ci95_high == pytest.approx(10 * 2 * 3.6889, rel=1e-4)
    assert "rests on 0 events" in e.note
    assert Estimate.rare(30.0, 6, 3.0, 2.0, 1.0, 10.0).note == ""


@pytest.mark.parametrize("expected_events", [0.5, 3.0, 10.0, 100.0])
def test_gamma_interval_covers_a_compound_poisson_sum(expected_events):
    # Poisson many events per window, each lasting Exp(mean 2 h), as dry-room
    # excursions do: the interval from one window's events covers the expected sum
    # in at least about 95 % of windows (2000 windows, fixed seed; binomial sd 0.5 %)
    mean = 2.0
    truth = expected_events * mean
    rng = np.random.default_rng(11)
    hits = 0
    for _ in range(2000):
        w = rng.exponential(mean, rng.poisson(expected_events))
        lo, hi = gamma_interval(w.sum(), (w * w).sum(), max([mean, *w]))
        assert 0 <= lo <= w.sum() <= hi
        hits += lo <= truth <= hi
    assert hits / 2000 >= 0.93
    if expected_events >= 10:  # exact-count intervals are conservative for few events only
        assert hits / 2000 <= 0.98


def test_positive_interval():
    e = Estimate.positive([1.0, 3.0, 0.0])
    t = Estimate.of([1.0, 3.0, 0.0])
    assert t.ci95_low < 0 < e.ci95_low < e.mean < e.ci95_high
    assert Estimate.positive([0.0, 0.0]).ci95_high == 0.0
    with pytest.raises(ValueError):
        Estimate.positive([1.0, -1.0])


def test_estimate_json_round_trip_keeps_method_and_events(tmp_path):
    from ssbfab.stats import DryRoomStats

    e = Estimate.rare(4.0, 2, 0.4, 0.1, 0.3, 10.0)
    d = e.to_dict()
    assert d["method"] == "gamma" and d["events"] == 2 and "rests on 2 events" in d["note"]
    stats = LineStats("r", 1, 2, 10.0, 1.0, {}, Estimate.of([1.0, 2.0]), Estimate.of([1.0, 2.0]),
                      Estimate.fraction([0.9, 0.95]), Estimate.of([3.0, 4.0]), "",
                      DryRoomStats(e, Estimate.exact(0.0), Estimate.positive([1.0, 2.0], 2)),
                      0, 0.0)
    back = LineStats.from_dict(stats.to_dict())
    assert back.dry_room == stats.dry_room and back.overall_yield == stats.overall_yield


# ----------------------------------------------------------------------------- in the simulator


def _shared(tmp_path, lines_dir, rate_per_h: float):
    for f in ("economics.yaml", "materials.yaml"):
        shutil.copy(lines_dir / f, tmp_path / f)
    dry = yaml.safe_load((lines_dir / "dry_rooms.yaml").read_text())
    for c in dry["classes"]:  # peak -40 degC: above the -45 degC exposure threshold
        c["excursions"] = {"rate": f"{rate_per_h} 1/h", "duration": "2 h", "peak": "-40 degC",
                           "source": "test"}
    (tmp_path / "dry_rooms.yaml").write_text(yaml.safe_dump(dry, sort_keys=False))
    return load_shared(tmp_path)


def _powder_line(tmp_path, shared, yield_: str = "100 %"):
    # one machine, 20 cells/h, each cell holding 1 kg of Li2S: 1 kg always in process
    s = step("handling", "cell", rate=20.0, lot=1.0, environment="dry_room", yield_=yield_,
             materials=[{"material": "Li2S", "amount": "1 kg/cell"}],
             moisture={"yield_factor": {"dp-40": "100 %", "dp-50": "100 %", "dp-60": "100 %"},
                       "excursion": {"effect": "loss", "extra_loss": "0 %"},
                       "h2s_release": "0.1 cm^3/g"})
    return load_line(tmp_path, [s], shared=shared)


def test_no_excursion_seen_still_bounds_hours_and_exposure(tmp_path, lines_dir):
    route = _powder_line(tmp_path, _shared(tmp_path, lines_dir, 1e-9))  # P(any) ~ 1e-6
    reps, window = 2, 400.0
    res = simulate(bare_config(route), days=days_for(route, window + 10),
                   warmup_days=days_for(route, 10), reps=reps, seed=1, workers=1)
    d = res.stats.dry_room
    w = res.model.hours - res.model.warmup
    assert w == pytest.approx(window, rel=1e-9)
    per_year = route.economics.operating_hours_per_year / (w * reps)
    e = d.excursion_hours
    # by hand: 3.689 excursions of 2 h at most in reps x window hours, per year
    assert (e.mean, e.ci95_low, e.events) == (0.0, 0.0, 0)
    assert e.ci95_high == pytest.approx(3.6889 * 2.0 * per_year, rel=1e-4)
    assert "0 events" in e.note
    x = d.sulfide_exposure_kg_h  # ... each exposing the 1 kg held for its 2 h
    assert (x.mean, x.ci95_low) == (0.0, 0.0)
    assert x.ci95_high == pytest.approx(3.6889 * 2.0 * 1.0 * per_year, rel=2e-3)


def test_excursion_count_follows_renewal_theory_and_yield_stays_below_one(tmp_path, lines_dir):
    gap, length = 20.0, 2.0  # mean hours between excursions and mean excursion length
    route = _powder_line(tmp_path, _shared(tmp_path, lines_dir, 1 / gap))
    reps, window = 3, 2000.0
    res = simulate(bare_config(route), days=days_for(route, window + 50),
                   warmup_days=days_for(route, 50), reps=reps, seed=4, workers=1)
    e = res.stats.dry_room.excursion_hours
    # an alternating renewal process starts about window / (gap + length) excursions
    expected = reps * window / (gap + length)
    assert abs(e.events - expected) < 4 * math.sqrt(expected)
    assert e.method == "gamma" and e.note == ""
    assert e.ci95_low <= length / (gap + length) * route.economics.operating_hours_per_year <= (
        e.ci95_high)
    y = res.stats.steps["handling"].yield_  # 100 % nominal, 0 % extra loss: exactly 1
    assert 0 <= y.ci95_low <= y.mean <= y.ci95_high <= 1 and y.mean == pytest.approx(1.0)
