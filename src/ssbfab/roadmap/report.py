"""Roadmap outputs: roadmap.json, roadmap.csv, and a self-contained report.html whose
figures read at a glance (capacity by route over time, capex per year, cost per kWh of
each route over time, which segment each route serves). Figures are matplotlib Figure
objects built outside pyplot, so no global plotting state changes."""

from __future__ import annotations

import html
import io
from pathlib import Path

from ..io import write_atomic, write_csv, write_json


def _figure(**kw):
    from matplotlib.figure import Figure

    return Figure(**kw)


def _svg(fig) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    text = buf.getvalue()
    return text[text.index("<svg"):]


def capacity_frame(result):
    """DataFrame year × route: installed good GWh/yr of operating lines (at design size)."""
    import pandas as pd

    rows = {}
    for p in result.periods:
        rows[p["year"]] = p.get("capacity_gwh", {})
    return pd.DataFrame(rows).T.fillna(0.0).sort_index()


def _colours(result) -> dict[str, tuple[float, float, float, float]]:
    """One colour per route, the same in every figure."""
    from matplotlib import colormaps

    names = sorted({r for p in result.periods for r in p["lines"]})
    cmap = colormaps["tab10"]
    return {r: cmap(i % 10) for i, r in enumerate(names)}


def make_figures(result) -> dict:
    """The report's figures, keyed: capacity, capex, cost, segments."""
    import numpy as np

    colour = _colours(result)

    years = [p["year"] for p in result.periods]
    figs = {}
    cap = capacity_frame(result)
    fig = _figure(figsize=(8, 4))
    ax = fig.add_subplot()
    routes = [r for r in cap.columns if cap[r].sum() > 0]
    bottom = np.zeros(len(cap))
    for r in routes:  # one bar per year: the lines standing that year
        ax.bar(cap.index, cap[r].values, bottom=bottom, label=r, width=0.8, color=colour[r])
        bottom += cap[r].values
    ax.set_xlabel("year")
    ax.set_ylabel("capacity of operating lines (GWh/yr)")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    figs["capacity"] = fig

    fig = _figure(figsize=(8, 3.5))
    ax = fig.add_subplot()
    ax.bar(years, [p["capex"] / 1e6 for p in result.periods], color="#4c72b0")
    ax.set_xlabel("year")
    ax.set_ylabel("capex (MUSD)")
    fig.tight_layout()
    figs["capex"] = fig

    fig = _figure(figsize=(8, 4))
    ax = fig.add_subplot()
    routes = sorted({r for p in result.periods for r in p["cost_per_kwh"]})
    for r in routes:
        ys = [p["cost_per_kwh"].get(r, np.nan) for p in result.periods]
        ax.plot(years, ys, marker="o", ms=3, label=r, color=colour[r])
    ax.set_xlabel("year")
    ax.set_ylabel(f"cost per good kWh ({result.currency} {result.currency_year}, log scale)")
    ax.set_yscale("log")  # a young line's first years cost many times a mature one's
    year = result.overtake_year(*_pair(routes)) if _pair(routes) else None
    if year:
        ax.axvline(year, color="grey", ls="--", lw=1)
        ax.annotate(f"all-solid below semi-solid from {year}", (year, ax.get_ylim()[1]),
                    fontsize=8, ha="left", va="top")
    ax.legend(fontsize=8)
    fig.tight_layout()
    figs["cost"] = fig

    fig = _figure(figsize=(8, 4))
    ax = fig.add_subplot()
    prod = result.production
    if not prod.empty:
        tot = prod.groupby(["segment", "route"])["gwh"].sum().unstack(fill_value=0.0)
        bottom = np.zeros(len(tot))
        for r in tot.columns:
            ax.barh(tot.index, tot[r].values, left=bottom, label=r, color=colour[r])
            bottom += tot[r].values
    ax.set_xlabel("good GWh sold over the horizon (sum of GWh/yr × years)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    figs["segments"] = fig
    return figs


def _pair(routes: list[str]) -> tuple[str, str] | None:
    """The (all-solid, semi-solid) routes to compare for the overtake year, if both run."""
    solid = [r for r in routes if any(w in r for w in ("sulfide", "halide", "oxide", "polymer"))]
    semi = [r for r in routes if "semisolid" in r or "semi-solid" in r]
    return (solid[0], semi[0]) if solid and semi else None


CAPTIONS = {
    "capacity": "Capacity of the lines operating each year, by route (good GWh/yr at each "
                "line's design size; ramp-up years produce less; a line being converted "
                "stands idle).",
    "capex": "Capital spent each year on new lines and conversions (MUSD, undiscounted).",
    "cost": "Cost per good kWh of each operating route each year (log scale): annualised "
            "capex of its operating lines plus operating cost, over what they made; the first "
            "years of a line carry its ramp-up and the learning premium.",
    "segments": "Which route served which market segment, summed over the horizon.",
}


def render_html(result, head: dict) -> str:
    figs = make_figures(result)
    e = html.escape
    parts = ["<!doctype html><html><head><meta charset='utf-8'>",
             f"<title>ssbfab roadmap {e(result.name)}</title>",
             "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em}"
             "table{border-collapse:collapse}td,th{padding:2px 8px;text-align:right}"
             "th{border-bottom:1px solid #888}figure svg{max-width:100%;height:auto}</style>",
             "</head><body>", f"<h1>Roadmap: {e(result.name)}</h1>",
             "<p>What this reports: the lines of each route the company builds, converts, "
             "retires and operates each year, what they sell to each market segment, what "
             "it costs, and the net present value of the whole path.</p><ul>"]
    for k, v in head.items():
        parts.append(f"<li>{e(k)}: {e(str(v))}</li>")
    parts.append("</ul>")
    b = result.breakdown
    parts.append(f"<h2>NPV {result.npv / 1e6:,.1f} M{e(result.currency)}</h2><table>"
                 "<tr><th>item</th><th>present value (MUSD)</th></tr>")
    for k, v in b.items():
        parts.append(f"<tr><td style='text-align:left'>{e(k)}</td><td>{v / 1e6:,.1f}</td></tr>")
    parts.append("</table>")
    for key, fig in figs.items():
        parts.append(f"<figure><figcaption>{e(CAPTIONS[key])}</figcaption>{_svg(fig)}</figure>")
    s = result.summary
    parts.append("<h2>Per year</h2><div style='overflow-x:auto'>"
                 + s.to_html(index=False, na_rep="-", float_format=lambda x: f"{x:,.2f}") + "</div>")
    parts.append("<h2>Notes</h2><ul>" + "".join(f"<li>{e(n)}</li>" for n in result.notes)
                 + "</ul></body></html>")
    return "\n".join(parts)


def long_table(result):
    """One row per year and route: lines, production (GWh/yr) and cost per kWh."""
    import pandas as pd

    rows = []
    for p in result.periods:
        for r, v in p["lines"].items():
            made = sum(per.get(r, 0.0) for per in p["production_gwh"].values())
            rows.append({"year": p["year"], "route": r, **v, "production_gwh": made,
                         "cost_per_kwh": p["cost_per_kwh"].get(r)})
    return pd.DataFrame(rows)


def write_outputs(result, out: Path, head: dict, stochastic=None) -> Path:
    """roadmap.json, roadmap.csv, report.html; with a solved scenario tree (a
    StochasticResult) also its `stochastic` object in roadmap.json, its paths per
    scenario in stochastic.csv and its figures as stochastic_*.png."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    doc = result.to_dict()
    if stochastic is not None:
        from .stochfig import make_figures

        doc["stochastic"] = stochastic.to_dict()
        write_csv(out / "stochastic.csv", stochastic.paths)
        for name, fig in make_figures(stochastic).items():
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=110, metadata={"Software": None})
            write_atomic(out / f"stochastic_{name}.png", buf.getvalue())
    write_json(out / "roadmap.json", doc)
    write_csv(out / "roadmap.csv", long_table(result))
    write_atomic(out / "report.html", render_html(result, head))
    return out
