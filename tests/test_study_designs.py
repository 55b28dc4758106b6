"""Designs: the stated number of points, Latin-hypercube strata, seeds, distributions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ssbfab.study import designs


def test_grid_is_the_full_factorial():
    pts = designs.grid({"a": [1, 2, 3], "b": ["x", "y"], "c": [0.5, 1.5]})
    assert len(pts) == 3 * 2 * 2
    combos = {(p.values["a"], p.values["b"], p.values["c"]) for p in pts}
    assert combos == {(a, b, c) for a in (1, 2, 3) for b in "xy" for c in (0.5, 1.5)}
    assert [p.index for p in pts] == list(range(12))


def test_one_at_a_time_moves_one_parameter_from_base():
    pts = designs.one_at_a_time({"a": [1, 3], "b": ["lo", "mid", "hi"]})
    assert len(pts) == 1 + 2 + 3
    assert pts[0].values == {} and pts[0].label == "base"
    assert all(len(p.values) == 1 and p.varied == tuple(p.values) for p in pts[1:])


def test_latin_hypercube_has_one_point_per_stratum_in_every_column():
    n, d = 37, 4
    u = designs.unit_samples(n, d, seed=5)
    assert u.shape == (n, d)
    for j in range(d):
        strata = np.floor(u[:, j] * n).astype(int)
        assert sorted(strata) == list(range(n))


def test_same_seed_same_samples_other_seed_other_samples():
    dists = {"p": designs.Dist("uniform", "USD/kg", {"low": 1.0, "high": 2.0}),
             "q": designs.Dist("normal", "", {"mean": 0.0, "sd": 1.0})}
    a = designs.sample(dists, 20, seed=11)
    b = designs.sample(dists, 20, seed=11)
    c = designs.sample(dists, 20, seed=12)
    assert [p.values for p in a] == [p.values for p in b]
    assert [p.values for p in a] != [p.values for p in c]
    for method in ("latin_hypercube", "random"):
        x = designs.unit_samples(8, 3, 3, method)
        assert np.array_equal(x, designs.unit_samples(8, 3, 3, method))


def test_sampled_values_carry_their_unit():
    pts = designs.sample({"p": designs.Dist("uniform", "CNY/t", {"low": 1e6, "high": 3e6})}, 5, 1)
    for p in pts:
        q = designs.split_quantity(p.values["p"])
        assert q.unit == "CNY/t" and 1e6 <= q.magnitude <= 3e6


@pytest.mark.parametrize("dist,mean,lo,hi", [
    (designs.Dist("uniform", "", {"low": 2.0, "high": 6.0}), 4.0, 2.0, 6.0),
    (designs.Dist("triangular", "", {"low": 1.0, "mode": 2.5, "high": 3.0}), (1 + 2.5 + 3) / 3,
     1.0, 3.0),
    (designs.Dist("normal", "", {"mean": 10.0, "sd": 2.0}), 10.0, -math.inf, math.inf),
    # lognormal: mean = median * exp(sigma^2 / 2)
    (designs.Dist("lognormal", "", {"median": 2.0, "sigma": 0.5}), 2.0 * math.exp(0.125), 0.0,
     math.inf),
])
def test_inverse_cdfs_match_the_analytic_means(dist, mean, lo, hi):
    # a fine midpoint grid of probabilities integrates the quantile function: E[X] = ∫ F⁻¹(u) du
    u = (np.arange(200_000) + 0.5) / 200_000
    x = dist.ppf(u)
    assert x.min() >= lo and x.max() <= hi
    assert x.mean() == pytest.approx(mean, rel=2e-3)


def test_truncated_normal_stays_in_bounds_and_median_of_lognormal():
    d = designs.Dist("normal", "", {"mean": 0.9, "sd": 0.1, "low": 0.8, "high": 0.99})
    x = d.ppf(np.linspace(0, 1, 101)[:-1])
    assert x.min() >= 0.8 and x.max() <= 0.99
    ln = designs.Dist("lognormal", "", {"median": 3.0, "sigma": 0.7})
    assert float(ln.ppf(np.array([0.5]))[0]) == pytest.approx(3.0)


def test_numbers_convert_to_the_unit_of_the_first_value():
    nums, unit = designs.numbers(["1e6 CNY/t", "1000 CNY/kg", "1 MCNY/t", "2 kCNY/kg"])
    assert unit == "CNY/t"
    assert nums == pytest.approx([1e6, 1e6, 1e6, 2e6])
    # exchange rates belong to each scenario's data: CNY and USD values share no axis
    assert designs.numbers(["1e6 CNY/t", "148.6 USD/kg"]) == (None, "")
    with pytest.raises(ValueError, match="one currency"):
        designs.to_unit(designs.split_quantity("148.6 USD/kg"), "CNY/t")
    assert designs.numbers([["dp-60"], ["dp-40"]]) == (None, "")
    assert designs.numbers([3, 4.5]) == ([3.0, 4.5], "")


def test_latin_hypercube_columns_are_independent():
    # each column is its own random permutation of the strata: rank correlations
    # between columns are ~N(0, 1/sqrt(n - 1)); 4 sd allowed per pair
    n, d = 2000, 4
    u = designs.unit_samples(n, d, seed=8)
    r = np.corrcoef(np.argsort(np.argsort(u, axis=0), axis=0).T)
    off = r[~np.eye(d, dtype=bool)]
    assert np.abs(off).max() < 4 / math.sqrt(n - 1), off
