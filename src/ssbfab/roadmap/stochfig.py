"""Figures of a stochastic roadmap (matplotlib Figures outside pyplot, as the report's):
the spread of NPV over scenarios, a fan of cost per kWh per route over the years, the
first-stage decision, and the values of the stochastic solution, of information and of
the reserve."""

from __future__ import annotations

from ..report import _figure
from .stochastic import StochasticResult


def npv_figure(r: StochasticResult):
    """NPV of each scenario (bars ordered by NPV, width ~ probability) with E[NPV] and
    CVaR marked."""
    fig = _figure(figsize=(8, 3.6))
    ax = fig.subplots()
    rows = sorted(r.scenarios, key=lambda s: s["value"])
    x = 0.0
    for s in rows:
        ax.bar(x, s["value"] / 1e6, width=s["probability"], align="edge",
               color="tab:blue", edgecolor="white")
        x += s["probability"]
    ax.axhline(r.expected_npv / 1e6, color="black", lw=1.2,
               label=f"E[NPV] {r.expected_npv / 1e6:,.0f} MUSD")
    ax.axhline(r.cvar["value"] / 1e6, color="tab:red", lw=1.2, ls="--",
               label=f"CVaR {r.cvar['alpha']:.0%} {r.cvar['value'] / 1e6:,.0f} MUSD")
    ax.set_xlim(0, 1)
    ax.set_xlabel("cumulative probability (scenarios from worst to best)")
    ax.set_ylabel("NPV, MUSD")
    ax.set_title("NPV over scenarios, with the stochastic plan's first stage")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def cost_fan_figure(r: StochasticResult, routes: list[str] | None = None):
    """Per route, the probability-weighted 10-90 % band and median of the cost per kWh
    of a mature line in each year over the scenarios."""
    import numpy as np

    df = r.unit_cost
    fig = _figure(figsize=(8, 4))
    ax = fig.subplots()
    routes = routes or sorted(df["route"].unique())
    for i, route in enumerate(routes):
        sub = df[df.route == route]
        years, lo, mid, hi = [], [], [], []
        for y, g in sub.groupby("year"):
            order = np.argsort(g.usd_per_kwh.to_numpy())
            v = g.usd_per_kwh.to_numpy()[order]
            cp = np.cumsum(g.probability.to_numpy()[order])
            cp = cp / cp[-1]
            years.append(y)
            lo.append(v[np.searchsorted(cp, 0.1)])
            mid.append(v[np.searchsorted(cp, 0.5)])
            hi.append(v[min(np.searchsorted(cp, 0.9), len(v) - 1)])
        color = f"C{i}"
        ax.fill_between(years, lo, hi, color=color, alpha=0.25)
        ax.plot(years, mid, color=color, label=route)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("USD per kWh (mature line)")
    ax.set_title("Cost per kWh over scenarios: median and 10-90 % band")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def first_stage_figure(r: StochasticResult):
    """Lines built or converted into each route in the first stage (per year)."""
    fig = _figure(figsize=(7, 3.2))
    ax = fig.subplots()
    routes = list(r.first_stage[0]["lines"]) if r.first_stage else []
    years = [p["year"] for p in r.first_stage]
    bottom = [0] * len(years)
    for i, route in enumerate(routes):
        n = [p["lines"][route]["built"] + p["lines"][route]["converted_in"]
             for p in r.first_stage]
        if any(n):
            ax.bar([str(y) for y in years], n, bottom=bottom, label=route, color=f"C{i}")
            bottom = [b + x for b, x in zip(bottom, n, strict=True)]
    ax.set_ylabel("lines started")
    ax.set_title("Here-and-now decision (first stage)")
    if any(bottom):
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def values_figure(r: StochasticResult):
    """VSS, EVPI overall and per uncertain input, and the reserve's value (MUSD)."""
    labels = ["VSS", "EVPI"] + [f"EVPI {k}" for k in r.evpi_by_input]
    vals = [r.vss, r.evpi] + list(r.evpi_by_input.values())
    if r.reserve is not None:
        labels.append(f"reserve {r.reserve['route']}")
        vals.append(r.reserve["value"])
    fig = _figure(figsize=(8, 0.5 + 0.45 * len(labels)))
    ax = fig.subplots()
    shown = [(lab, v / 1e6) for lab, v in zip(labels, vals, strict=True) if v is not None]
    ax.barh([s[0] for s in shown][::-1], [s[1] for s in shown][::-1],
            color=["tab:red" if s[1] < 0 else "tab:green" for s in shown][::-1])
    ax.axvline(0, color="black", lw=0.8)
    ax.set_xlabel("MUSD (objective: E[NPV] + weight x CVaR)")
    ax.set_title("What planning for uncertainty, information and the reserve are worth")
    fig.tight_layout()
    return fig


def make_figures(r: StochasticResult) -> dict:
    return {"npv": npv_figure(r), "cost_fan": cost_fan_figure(r),
            "first_stage": first_stage_figure(r), "values": values_figure(r)}


__all__ = ["npv_figure", "cost_fan_figure", "first_stage_figure", "values_figure",
           "make_figures"]
