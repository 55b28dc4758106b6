"""Summaries against hand-computed percentiles, crossovers and tornado swings."""

from __future__ import annotations

import math
import textwrap

import numpy as np
import pandas as pd
import pytest

from ssbfab.study.summarize import crossover_points, prcc, summarize, summarize_frame


def frame(rows: list[dict]) -> pd.DataFrame:
    base = {"status": "ok", "capacity_gwh": 10.0, "label": ""}
    return pd.DataFrame([{**base, **r} for r in rows])


def test_percentiles_are_the_linear_order_statistics():
    costs = [10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 100.0, 110.0]
    df = frame([{"route": "a", "cost_per_kwh": c, "point": i, "inputs": {}}
                for i, c in enumerate(costs)]
               + [{"route": "a", "cost_per_kwh": 1e9, "point": 99, "inputs": {},
                   "status": "failed"}])
    s = summarize_frame(df, {"study": "p", "routes": ["a"], "design": "samples"})
    row = s.percentiles.iloc[0]
    # 11 sorted values: P10 at rank 1.0 -> 20, P50 at rank 5 -> 60, P90 at rank 9 -> 100
    assert (row["n"], row["p10"], row["p50"], row["p90"]) == (11, 20.0, 60.0, 100.0)
    assert row["mean"] == pytest.approx(60.0)
    assert s.counts.set_index("route").loc["a", "failed"] == 1


def test_crossover_points_by_hand():
    x = np.array([1.0, 2.0, 3.0, 4.0])
    assert crossover_points(x, np.array([-3.0, -1.0, 1.0, 3.0])) == [2.5]
    assert crossover_points(x, np.array([2.0, 0.0, -2.0, 1.0])) == [2.0, 3 + 2 / 3]
    assert crossover_points(x, np.array([1.0, 2.0, 3.0, 4.0])) == []


def test_crossover_of_a_linear_route_against_a_flat_baseline():
    # route cost 50 + 40 p, baseline 100: they meet at p = 1.25 (by hand)
    prices = [0.5, 1.0, 1.5, 2.0]
    rows = []
    for i, p in enumerate(prices):
        inp = {"materials.Li2S.price": f"{p}e6 CNY/t"}
        rows.append({"route": "solid", "point": i, "cost_per_kwh": 50 + 40 * p,
                     "materials.Li2S.price": p * 1e6, "inputs": inp})
        rows.append({"route": "liquid", "point": i, "cost_per_kwh": 100.0,
                     "materials.Li2S.price": p * 1e6, "inputs": inp})
    info = {"study": "x", "routes": ["liquid", "solid"], "design": "grid", "baseline": "liquid",
            "parameters": {"materials.Li2S.price": {"unit": "CNY/t", "numeric": True}}}
    s = summarize_frame(frame(rows), info)
    cx = s.crossovers.iloc[0]
    assert cx["route"] == "solid" and cx["crossover"] == pytest.approx(1.25e6)
    assert cx["route_cheaper_below"]
    assert cx["finding"] == ("solid costs the same as liquid at materials.Li2S.price = "
                             "1,250,000 CNY/t; solid is cheaper below it")
    by = s.by_value["materials.Li2S.price"].set_index("materials.Li2S.price")
    assert by.loc[1.5e6, "solid"] == pytest.approx(110.0)


def test_tornado_swings_and_order():
    base = {"economics.electricity_price": "0.1 USD/kWh"}
    rows = [{"route": "r", "point": 0, "cost_per_kwh": 100.0, "inputs": dict(base)}]
    cases = [("a", 1.0, 90.0), ("a", 3.0, 130.0), ("b", 10.0, 105.0), ("b", 20.0, 98.0)]
    for i, (p, v, c) in enumerate(cases, start=1):
        rows.append({"route": "r", "point": i, "cost_per_kwh": c, "inputs": {**base, p: v},
                     p: v})
    info = {"study": "t", "routes": ["r"], "design": "one_at_a_time", "base": base,
            "parameters": {"a": {"unit": "", "numeric": True},
                           "b": {"unit": "", "numeric": True}}}
    t = summarize_frame(frame(rows), info).tornado
    assert list(t["parameter"]) == ["a", "b"]  # |130 - 90| > |98 - 105|
    a = t.iloc[0]
    assert (a["low"], a["high"], a["cost_low"], a["cost_base"], a["cost_high"], a["swing"]) == (
        1.0, 3.0, 90.0, 100.0, 130.0, 40.0)
    assert t.iloc[1]["swing"] == -7.0


def test_summarize_writes_tables_and_figures(tmp_path, lines_dir):
    from ssbfab.study import sweep

    p = tmp_path / "t.yaml"
    p.write_text(textwrap.dedent(f"""\
        study: small
        job: materials
        lines: {lines_dir}
        routes: [sulfide-lpscl]
        one_at_a_time:
          materials.Li2S.price: ["1e6 CNY/t", "3e6 CNY/t"]
          cell.cathode.thickness: ["80 um", "120 um"]
        """))
    out = tmp_path / "out"
    sweep(p, out=out, workers=0)
    (s,) = summarize(out)
    names = sorted(f.name for f in s.figures)
    assert "tornado_sulfide-lpscl.png" in names and "tornado.csv" in names
    assert all(f.stat().st_size > 0 for f in s.figures)
    assert not list((out / "summary" / "small").glob("*.tmp"))
    assert set(s.tornado["parameter"]) == {"materials.Li2S.price", "cell.cathode.thickness"}


def test_sensitivity_ranks_by_hand():
    # cost rises monotonically (not linearly) with a, falls with b, ignores c
    rng = np.random.default_rng(3)
    a, b, c = rng.random(30), rng.random(30), rng.random(30)
    rows = [{"route": "r", "point": i, "cost_per_kwh": np.exp(3 * a[i]) - 0.001 * b[i],
             "a": a[i], "b": b[i], "c": c[i], "inputs": {}} for i in range(30)]
    rows_b = [{"route": "s", "point": i, "cost_per_kwh": -b[i], "a": a[i], "b": b[i],
               "c": c[i], "inputs": {}} for i in range(30)]
    info = {"study": "m", "routes": ["r", "s"], "design": "samples",
            "parameters": {k: {"unit": "", "numeric": True} for k in "abc"}}
    t = summarize_frame(frame(rows + rows_b), info).sensitivity.set_index(["route", "parameter"])
    assert t.loc[("s", "b"), "prcc"] == pytest.approx(-1.0)
    assert t.loc[("r", "a"), "prcc"] > 0.99
    assert t.loc[("s", "c"), "prcc"] == 0.0  # b's ranks explain all of s's cost: none left


def _two_routes_grid(cost_solid, prices=(0.5, 1.0, 1.5, 2.0)):
    rows = []
    for i, p in enumerate(prices):
        inp = {"materials.Li2S.price": f"{p}e6 CNY/t"}
        rows.append({"route": "solid", "point": i, "cost_per_kwh": cost_solid(p),
                     "materials.Li2S.price": p * 1e6, "inputs": inp})
        rows.append({"route": "liquid", "point": i, "cost_per_kwh": 100.0,
                     "materials.Li2S.price": p * 1e6, "inputs": inp})
    info = {"study": "x", "routes": ["liquid", "solid"], "design": "grid", "baseline": "liquid",
            "parameters": {"materials.Li2S.price": {"unit": "CNY/t", "numeric": True}}}
    return frame(rows), info


def test_no_crossover_inside_the_grid_is_said_never_extrapolated():
    # solid = 104 + 8 p (M CNY/t): 108 .. 120 on the grid, 8 dearer at its cheapest end;
    # a straight line would cross at p = -0.5, a negative price: never reported
    s = summarize_frame(*_two_routes_grid(lambda p: 104 + 8 * p))
    (cx,) = s.crossovers.itertuples(index=False)
    assert math.isnan(cx.crossover) and cx.closest_at == 0.5e6
    assert cx.closest_diff == pytest.approx(8.0)
    assert cx.finding == ("solid: no crossover with liquid for materials.Li2S.price between "
                          "500,000 CNY/t and 2,000,000 CNY/t; at 500,000 CNY/t it is still "
                          "8.00 USD/kWh dearer")
    assert "extrapolated" not in s.crossovers
    # a route cheaper everywhere, closest at the high end: 100 - 30 + 10 p -> 10 cheaper at 2
    s = summarize_frame(*_two_routes_grid(lambda p: 70 + 10 * p))
    assert s.crossovers.iloc[0]["finding"].endswith(
        "at 2,000,000 CNY/t it is still 10.00 USD/kWh cheaper")


def test_grid_summary_gives_the_range_not_percentiles():
    s = summarize_frame(*_two_routes_grid(lambda p: 50 + 40 * p))
    assert s.percentiles is None and "percentiles" not in s.tables()
    r = s.range.set_index("route")
    assert (r.loc["solid", "min"], r.loc["solid", "max"], r.loc["solid", "n"]) == (70.0, 130.0, 4)
    assert r.loc["liquid", "min"] == r.loc["liquid", "max"] == 100.0


def test_one_at_a_time_range_names_the_base():
    base = {}
    rows = [{"route": "r", "point": 0, "cost_per_kwh": 100.0, "inputs": {}},
            {"route": "r", "point": 1, "cost_per_kwh": 90.0, "inputs": {"a": 1.0}, "a": 1.0},
            {"route": "r", "point": 2, "cost_per_kwh": 130.0, "inputs": {"a": 3.0}, "a": 3.0}]
    info = {"study": "t", "routes": ["r"], "design": "one_at_a_time", "base": base,
            "parameters": {"a": {"unit": "", "numeric": True}}}
    s = summarize_frame(frame(rows), info)
    assert s.percentiles is None
    assert s.range.iloc[0][["n", "min", "max", "base"]].tolist() == [3, 90.0, 130.0, 100.0]


def test_prcc_of_an_unused_input_is_near_zero():
    # Latin-hypercube inputs a, b; cost depends on a only (monotone, nonlinear) plus
    # noise: b's partial rank correlation is ~N(0, 1/sqrt(n)); n = 1500 puts 0.1 at 3.9 sd
    from ssbfab.study.designs import unit_samples

    n = 1500
    u = unit_samples(n, 3, seed=21)
    a, b = u[:, 0], u[:, 1]
    cost = np.exp(3 * a) + 0.5 * (u[:, 2] - 0.5)
    (ra, _), (rb, pb) = prcc(np.column_stack([a, b]), cost)
    assert ra > 0.9 and abs(rb) < 0.1 and pb > 1e-3


def test_prcc_removes_what_a_correlated_input_borrows():
    # b follows a closely (correlated inputs), cost follows a only: the plain rank
    # correlation credits b with most of a's effect, the partial one does not (its
    # spread over seeds: 0.03 +- 0.03, the rank transform of a nonlinear a -> b)
    rng = np.random.default_rng(5)
    n = 1500
    a = rng.random(n)
    b = a + 0.3 * rng.random(n)
    cost = a**2 + 0.05 * rng.standard_normal(n)
    rows = [{"route": "r", "point": i, "cost_per_kwh": cost[i], "a": a[i], "b": b[i],
             "inputs": {}} for i in range(n)]
    info = {"study": "m", "routes": ["r"], "design": "samples",
            "parameters": {k: {"unit": "", "numeric": True} for k in "ab"}}
    t = summarize_frame(frame(rows), info).sensitivity.set_index("parameter")
    spearman_b = pd.Series(b).rank().corr(pd.Series(cost).rank())
    assert spearman_b > 0.9
    assert abs(t.loc["b", "prcc"]) < 0.15 and t.loc["a", "prcc"] > 0.6
    assert list(t.index) == ["a", "b"]


def test_prcc_by_hand_on_three_points():
    # k = 1: the partial correlation is the Spearman correlation; n - 2 = 1 degree of
    # freedom: t = r sqrt(1 / (1 - r^2)), p = 2 P(T_1 > |t|)
    (r, p), = prcc(np.array([[1.0], [2.0], [3.0]]), np.array([1.0, 3.0, 2.0]))
    assert r == pytest.approx(0.5)
    assert p == pytest.approx(1 - 2 / math.pi * math.atan(0.5 / math.sqrt(0.75)))


def test_no_crossover_sentence_for_a_parameter_with_one_successful_value():
    df, info = _two_routes_grid(lambda p: 104 + 8 * p, prices=(0.5, 1.0))
    df.loc[df["point"] == 1, "status"] = "failed"
    assert summarize_frame(df, info).crossovers.empty
