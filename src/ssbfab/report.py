"""Figures, result files and the self-contained HTML report of a comparison.

Figures are matplotlib objects (so notebooks get them too) embedded in the page as
inline SVG; SVG ids and metadata are fixed so a rerun writes the same bytes. Nothing
here changes the caller's matplotlib settings: figures are `Figure` objects outside
pyplot, and the SVG settings apply only while a figure is written (`_svg`). Cost
categories, their order and labels come from the cost registry (`ssbfab.categories`).
"""

from __future__ import annotations

import html
import io
import json
import math
from pathlib import Path

from . import categories
from .graph import LineGraph
from .io import inside, write_atomic, write_csv, write_json

FIGURES = {
    "cost_breakdown": "Cost per kWh of good cells, by category, per route",
    "yield_funnel": "Yield funnel: share of units started at each step that end in good cells",
    "utilisation": "Station utilisation per route (bottleneck in red)",
    "cost_vs_size": "Cost per kWh against plant size",
}

def _figure(**kw):
    """A matplotlib Figure outside pyplot: no backend is chosen or switched (a
    notebook keeps its inline display), and repeated comparisons leave no open
    figures behind."""
    from matplotlib.figure import Figure

    return Figure(**kw)


def make_figures(result) -> dict:
    """All report figures as matplotlib Figures, keyed as in FIGURES."""
    t = result.table
    figs = {}

    # 1. stacked cost breakdown
    fig = _figure(figsize=(9, 4.5))
    ax = fig.subplots()
    # the registry's categories, in its order, as far as the table has them
    ordered = [c for c in categories.categories() if c.column in t.columns]
    bottom = [0.0] * len(t)
    # a route without a finite cost (no plan, or statistics that give none) has no bar
    costed = [_finite(v) for v in t.get("cost_per_kwh", [math.nan] * len(t))]
    for c in ordered:
        vals = [v if ok and _finite(v) else 0.0
                for v, ok in zip(t[c.column], costed, strict=True)]
        ax.bar(t["route"], vals, bottom=bottom, label=c.label)
        bottom = [b + v for b, v in zip(bottom, vals, strict=True)]
    for x, (total, ok) in enumerate(zip(t.get("cost_per_kwh", []), costed, strict=False)):
        ax.text(x, total if ok else 0.0, f"{total:,.0f}" if ok else "no cost", ha="center",
                va="bottom", fontsize=9)
    if not any(costed):
        ax.set_ylim(0, 1)  # nothing to scale the axis by
    ax.set_ylabel("USD per kWh of good cells")
    ax.set_title(FIGURES["cost_breakdown"])
    if ordered:  # no route may have a plan (all targets beyond the plant limits)
        ax.legend(fontsize=8, ncol=2)
    ax.tick_params(axis="x", rotation=20)
    fig.tight_layout()
    figs["cost_breakdown"] = fig

    # 2. yield funnel: share of the units started at each step that end in good cells
    def funnel(ax, name, loop):
        st = loop.stats
        graph = LineGraph.of(loop.plan.config.route)
        downstream = _downstream_yield(graph, {s: v.yield_.mean for s, v in st.steps.items()})
        order = graph.order
        ax.barh(range(len(order)), [downstream[s] for s in order], color="tab:green")
        ax.set_yticks(range(len(order)), order, fontsize=6)
        ax.set_title(name, fontsize=9)

    figs["yield_funnel"] = _per_route(result.loops, funnel, FIGURES["yield_funnel"])

    # 3. utilisation with the bottleneck marked
    def utilisation(ax, name, loop):
        st = loop.stats
        steps = list(st.steps.values())
        colors = ["tab:red" if s.step == st.bottleneck else "tab:blue" for s in steps]
        ax.barh(range(len(steps)), [s.utilization.mean for s in steps], color=colors)
        ax.set_yticks(range(len(steps)), [s.step for s in steps], fontsize=6)
        ax.set_title(f"{name} (bottleneck: {st.bottleneck})", fontsize=8)

    figs["utilisation"] = _per_route(result.loops, utilisation, FIGURES["utilisation"])

    # 4. cost against plant size
    fig = _figure(figsize=(7, 4.5))
    ax = fig.subplots()
    c = result.size_curve
    if len(c):
        for name, g in c.groupby("route", sort=False):
            ax.plot(g["capacity_gwh"], g["cost_per_kwh"], marker="o", label=name)
    ax.set_xscale("log")
    ax.set_xlabel("plant size, GWh of good cells per year")
    ax.set_ylabel("USD per kWh (optimiser, nominal data)")
    ax.set_title(FIGURES["cost_vs_size"])
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    figs["cost_vs_size"] = fig
    return figs


def _per_route(loops: dict, draw, title: str):
    """One horizontal-bar panel per route (fractions 0-1, first step on top); routes
    without simulated statistics are left blank."""
    n = max(1, len(loops))
    cols = min(3, n)
    rows = (n + cols - 1) // cols
    fig = _figure(figsize=(4.2 * cols, 3.2 * rows))
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax in axes.flat:
        ax.set_visible(False)
    for ax, (name, loop) in zip(axes.flat, loops.items(), strict=False):
        if loop.stats is None:
            continue
        ax.set_visible(True)
        draw(ax, name, loop)
        ax.invert_yaxis()
        ax.set_xlim(0, 1)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def _downstream_yield(graph: LineGraph, yields: dict[str, float]) -> dict[str, float]:
    """Share of units started at each step that end in good cells (along the graph,
    a step feeding several branches takes the product along each; the merge point
    is shared so one branch's path is representative)."""
    out: dict[str, float] = {}
    for node in reversed(graph.steps):
        after = min((out[c] for c in node.consumers), default=1.0)
        out[node.name] = yields.get(node.name, 1.0) * after
    return out


def _svg(fig) -> str:
    import matplotlib

    buf = io.StringIO()
    # The SVG writer reads these from rcParams only: a salt for the element ids (else
    # random) and text kept as text (else glyph paths), so a rerun writes the same
    # bytes; rc_context restores them on exit, so the caller's settings stay.
    with matplotlib.rc_context({"svg.hashsalt": "ssbfab", "svg.fonttype": "none"}):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    text = buf.getvalue()
    return text[text.index("<svg"):]


def _finite(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _with_finite(frame, column: str):
    """The rows of `frame` whose `column` is a finite number (an empty selection keeps
    the columns, which a boolean Series of no rows would not)."""
    return frame.loc[frame[column].map(_finite).astype(bool)]


def _sentences(result) -> dict[str, str]:
    """One sentence per figure on what it shows. Only routes whose plan the simulation
    confirmed are ranked; the others are named as such, and a number that could not be
    computed is never printed."""
    t = result.table
    ranked = t.loc[t["converged"].astype(bool)] if "converged" in t else t.iloc[0:0]
    ranked = _with_finite(ranked, "cost_per_kwh") if "cost_per_kwh" in ranked else t.iloc[0:0]
    cur = result.meta.get("currency", "USD")
    s = {}
    unranked = [f"{r['route']} (" + ("no plan" if not _finite(r.get("cost_per_kwh"))
                                     else "plan not confirmed by simulation") + ")"
                for _, r in t.iterrows() if r["route"] not in set(ranked["route"])]
    if len(ranked):
        cheapest = ranked.loc[ranked["cost_per_kwh"].idxmin()]
        dearest = ranked.loc[ranked["cost_per_kwh"].idxmax()]
        if len(ranked) == 1:
            text = (f"{cheapest['route']} makes a good kWh for {cheapest['cost_per_kwh']:,.0f} "
                    f"{cur}, the only route with a confirmed plan.")
        else:
            text = (f"{cheapest['route']} makes the cheapest good kWh "
                    f"({cheapest['cost_per_kwh']:,.0f} {cur}); {dearest['route']} the dearest "
                    f"({dearest['cost_per_kwh']:,.0f} {cur}).")
        if "cost_materials" in ranked:
            share = (ranked["cost_materials"] / ranked["cost_per_kwh"]).dropna()
            if len(share):
                text += (f" Materials are {100 * share.min():.0f}–{100 * share.max():.0f} % of "
                         "the cost on every ranked route, so the electrolyte's raw materials and "
                         "the yields that scrap them decide the ranking.")
            rest = {c.column: c.label for c in categories.categories()
                    if c.column in ranked.columns and c.name != "materials"}
            means = ranked[list(rest)].mean().dropna() if rest else None
            if means is not None and len(means):
                text += (f" After materials, {rest[means.idxmax()]} is the largest item "
                         "on average.")
        s["cost_breakdown"] = text
    else:
        s["cost_breakdown"] = "No route has a plan that the simulation confirmed."
    if unranked:
        s["cost_breakdown"] += " Not ranked: " + "; ".join(unranked) + "."
    if "overall_yield" in t:
        y = _with_finite(t, "overall_yield")
        if len(y):
            worst = y.loc[y["overall_yield"].idxmin()]
            s["yield_funnel"] = (
                "Each bar is the share of the units started at that step that end in a good "
                f"cell; long lines compound their losses, and {worst['route']} has the lowest "
                f"overall yield ({100 * worst['overall_yield']:.1f} %).")
    if "bottleneck" in t:
        named = [f"{r['route']}: {r['bottleneck']}" for _, r in t.iterrows()
                 if isinstance(r["bottleneck"], str) and r["bottleneck"]]
        if named:
            s["utilisation"] = ("Bars are the fraction of machine time spent processing in the "
                                "simulation; the red bar is the step that limits the line: "
                                + "; ".join(named) + ".")
    c = result.size_curve
    if len(c):
        lo, hi = c["capacity_gwh"].min(), c["capacity_gwh"].max()
        parts = []
        for name, g in c.groupby("route", sort=False):
            g = _with_finite(g, "cost_per_kwh")
            if len(g) >= 2:
                a, b = g.iloc[0], g.iloc[-1]
                parts.append(f"{name} {a['cost_per_kwh']:,.0f} at {a['capacity_gwh']:g} → "
                             f"{b['cost_per_kwh']:,.0f} at {b['capacity_gwh']:g}")
        if parts:
            s["cost_vs_size"] = (f"Optimised cost per kWh ({cur}/kWh, nominal data) from a "
                                 f"{lo:g} GWh/yr pilot line to a {hi:g} GWh/yr plant: "
                                 + "; ".join(parts) + ". Whole machines and fixed dry rooms "
                                 "make small plants dearer per kWh: the niche markets that "
                                 "carry the first volumes pay this premium.")
    return s


# Columns of the report's table: key, header with its unit, format of a value.
_COLUMNS = [
    ("route", "Route", str),
    ("form", "Form", str),
    ("cost_per_kwh", "Cost, USD/kWh", "{:,.1f}"),
    ("nominal_cost_per_kwh", "Cost on nominal data, USD/kWh", "{:,.1f}"),
    ("wh_per_kg", "Specific energy, Wh/kg", "{:,.0f}"),
    ("wh_per_l", "Energy density, Wh/L", "{:,.0f}"),
    ("sim_gwh_mean", "Simulated output, GWh/yr", "{:,.3f}"),
    ("sim_gwh_ci", "95 % interval, GWh/yr", None),
    ("sim_to_target_ratio", "Simulated / target", "{:.3f}"),
    ("sim_gwh_lcb95", "Certified lower bound, GWh/yr", "{:,.3f}"),
    ("sim_reps", "Replications", "{:,.0f}"),
    ("overall_yield", "Overall yield, %", "pct"),
    ("capex_total_musd", "Capex, million USD", "{:,.0f}"),
    ("dry_room_area_m2", "Dry room, m²", "{:,.0f}"),
    ("dew_point_class", "Dew-point class", str),
    ("zones", "Dry-room zones (class)", str),
    ("sulfide_exposure_kg_h", "Sulfide exposure, kg·h/yr", "{:,.1f}"),
    ("h2s_estimate", "H₂S estimate, L/yr", "{:,.0f}"),
    ("iterations", "Loop iterations", "{:d}"),
    ("converged", "Confirmed by simulation", "yesno"),
]


def _cell(row, key: str, fmt) -> str:
    if key == "sim_gwh_ci":
        lo, hi = row.get("sim_gwh_ci95_low"), row.get("sim_gwh_ci95_high")
        return f"{lo:,.3f} – {hi:,.3f}" if _finite(lo) and _finite(hi) else "–"
    v = row.get(key)
    if fmt == "yesno":
        return "yes" if bool(v) else "no"
    if fmt is str:
        return html.escape(str(v)) if isinstance(v, str) and v else "–"
    if hasattr(v, "item"):  # a numpy scalar from pandas
        v = v.item()
    if not _finite(v):
        return "–"
    if fmt == "pct":
        return f"{100 * v:.1f}"
    return fmt.format(int(v) if "d}" in fmt else v)


def _table_html(t) -> str:
    cols = [c for c in _COLUMNS if c[0] in t.columns or c[0] == "sim_gwh_ci" and
            "sim_gwh_ci95_low" in t.columns]
    head = "".join(f"<th>{html.escape(h)}</th>" for _, h, _ in cols)
    body = "".join("<tr>" + "".join(f"<td>{_cell(r, k, f)}</td>" for k, _, f in cols) + "</tr>"
                   for r in t.to_dict("records"))
    return f"<table class='cmp'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _header_html(meta: dict) -> str:
    """What the report reports, stated before any number."""
    if not meta:
        return ""
    cap = meta.get("capacity_gwh")
    items = [
        ("Plant size", f"{cap:g} GWh of good cells per year, every route"
         if _finite(cap) else "each route's default plant size"),
        ("Costing convention", {"batpac5": "BatPaC 5.0 rules (batpac5)",
                                "annuity": "capital recovery (annuity)",
                                "batpac5-scaled": "BatPaC 5.0 rules and step volume scaling "
                                                  "(batpac5-scaled)",
                                "annuity-scaled": "capital recovery, BatPaC 5.0 step volume "
                                                  "scaling (annuity-scaled)"}.get(
                                    str(meta.get("costing")), str(meta.get("costing")))),
        ("Currency", f"{meta.get('currency', 'USD')} of {meta.get('currency_year', '?')}"),
        ("Seed", str(meta.get("seed"))),
        ("Key prices", "; ".join(f"{k} {v}" for k, v in meta.get("key_prices", {}).items())),
    ]
    if meta.get("overrides"):
        items.append(("Inputs changed for this run", "; ".join(
            f"{p} = {v}" for p, v in meta["overrides"].items())))
    items += [("ssbfab version", str(meta.get("ssbfab_version"))),
              ("Date", str(meta.get("date_utc"))),
              ("Data (SHA-256 of the input files)", str(meta.get("data_sha256")))]
    rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
                   for k, v in items)
    return f"<table class='meta'>{rows}</table>"


def render_html(result) -> str:
    t = result.table
    sentences = _sentences(result)
    cur = result.meta.get("currency", "USD")
    year = result.meta.get("currency_year")
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        "<title>ssbfab route comparison</title><style>",
        "body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}",
        "table.cmp{border-collapse:collapse;font-size:12px}",
        "table.cmp td,table.cmp th{padding:3px 8px;border-bottom:1px solid #ddd;text-align:right}",
        "table.cmp td:first-child,table.cmp th:first-child{text-align:left}",
        "table.meta{font-size:13px;margin-bottom:1.5em} table.meta th{text-align:left;"
        "padding-right:1em;font-weight:normal;color:#555} table.meta td{font-family:monospace}",
        "figure{margin:2em 0} figcaption{font-size:14px;color:#333;margin-top:.5em}",
        "figure svg{max-width:100%;height:auto} .wrap{overflow-x:auto}",
        "</style></head><body>",
        "<h1>What does a good kWh cost on each route?</h1>",
        _header_html(result.meta),
        "<p>Each route's line was optimised for cost per kWh of good cells, simulated, and "
        "re-optimised with the simulated availability, yields and bottleneck losses until the "
        "simulation confirmed the target output. Costs are in "
        f"{html.escape(cur)}{f' of {year}' if year else ''}; simulated output is the mean "
        "over replications with its 95 % confidence interval; – marks a value that could not "
        "be computed (no plan, or no simulation).</p>",
        f"<div class='wrap'>{_table_html(t)}</div>",
    ]
    for key, title in FIGURES.items():
        fig = result.figures.get(key)
        if fig is None:
            continue
        parts.append(f"<figure id='{key}'><h2>{html.escape(title)}</h2>{_svg(fig)}"
                     f"<figcaption>{html.escape(sentences.get(key, ''))}</figcaption></figure>")
    not_conv = t[~t["converged"].astype(bool)] if "converged" in t else t.iloc[0:0]
    if len(not_conv):
        parts.append("<h2>Routes the loop did not confirm</h2><ul>")
        for _, r in not_conv.iterrows():
            parts.append(f"<li>{html.escape(r['route'])}: {html.escape(str(r['reason']))}</li>")
        parts.append("</ul>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _plan_doc(plan) -> dict:
    doc = plan.to_dict()
    for key in ("build_s", "solve_s"):  # times live in the manifest, not the plan
        doc.get("solver", {}).pop(key, None)
    return doc


def write_outputs(result, out: Path, manifest: dict) -> Path:
    """Write every result file of a comparison into `out` (each atomically); `compare`
    gives a fresh folder that then replaces the target whole."""
    out.mkdir(parents=True, exist_ok=True)
    write_csv(out / "comparison.csv", result.table)
    write_json(out / "comparison.json", {
        "routes": json.loads(result.table.to_json(orient="records")),
        "size_curve": json.loads(result.size_curve.to_json(orient="records")),
    })
    for name, loop in result.loops.items():
        d = inside(out, name)  # a checked plain name, resolving inside `out`
        if loop.plan is not None and loop.plan.config is not None:
            write_json(d / "plan.json", _plan_doc(loop.plan))
        for it in loop.iterations:  # every plan the loop tried, next to iterations.csv
            if it.plan is not None and it.plan.config is not None:
                write_json(d / "iterations" / f"plan_{it.index}.json", _plan_doc(it.plan))
        if loop.stats is not None:
            doc = loop.stats.to_dict()
            doc.pop("wall_s", None)  # keep reruns byte-identical; times are in the manifest
            write_json(d / "stats.json", doc)
        write_csv(d / "iterations.csv", loop.iterations_frame().drop(
            columns=["opt_s", "sim_s"], errors="ignore"))
    write_csv(out / "size_curve.csv", result.size_curve)
    write_atomic(out / "report.html", render_html(result))
    manifest = dict(manifest)
    manifest["timings_s"] = result.timings
    write_json(out / "manifest.json", manifest)
    return out
