"""Figures, result files and the self-contained HTML report of a comparison.

Figures are matplotlib objects (so notebooks get them too) embedded in the page as
inline SVG; SVG ids and metadata are fixed so a rerun writes the same bytes. Nothing
here changes the caller's matplotlib settings: figures are `Figure` objects outside
pyplot, and the SVG settings apply only while a figure is written (`_svg`).
"""

from __future__ import annotations

import html
import io
import json
from pathlib import Path

from . import categories
from .io import write_atomic, write_csv, write_json

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
    for c in ordered:
        vals = t[c.column].fillna(0.0).tolist()
        ax.bar(t["route"], vals, bottom=bottom, label=c.label)
        bottom = [b + v for b, v in zip(bottom, vals, strict=True)]
    for x, total in enumerate(t.get("cost_per_kwh", [])):
        if total == total:
            ax.text(x, total, f"{total:.0f}", ha="center", va="bottom", fontsize=9)
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
        route = loop.plan.config.route
        downstream = _downstream_yield(route, {s: v.yield_.mean for s, v in st.steps.items()})
        order = route.order
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


def _downstream_yield(route, yields: dict[str, float]) -> dict[str, float]:
    """Share of units started at each step that end in good cells (along the graph,
    a step feeding several branches takes the product along each; the merge point
    is shared so one branch's path is representative)."""
    out: dict[str, float] = {}
    for name in reversed(route.order):
        consumers = route.consumers[name]
        after = min((out[c] for c in consumers), default=1.0)
        out[name] = yields.get(name, 1.0) * after
    return out


# The SVG writer reads these from rcParams only: a salt for the element ids (else
# random) and text kept as text (else glyph paths), so a rerun writes the same bytes.
_SVG_RC = {"svg.hashsalt": "ssbfab", "svg.fonttype": "none"}


def _svg(fig) -> str:
    import matplotlib

    buf = io.StringIO()
    with matplotlib.rc_context(_SVG_RC):  # restored on exit: the caller's settings stay
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    text = buf.getvalue()
    return text[text.index("<svg"):]


def _sentences(result) -> dict[str, str]:
    t = result.table
    s = {}
    if "cost_per_kwh" in t and t["cost_per_kwh"].notna().any():
        cheapest = t.loc[t["cost_per_kwh"].idxmin()]
        dearest = t.loc[t["cost_per_kwh"].idxmax()]
        cats = [c for c in categories.categories() if c.column in t.columns]
        share = (t["cost_materials"] / t["cost_per_kwh"]) if "cost_materials" in t else None
        text = (f"{cheapest['route']} makes the cheapest good kWh "
                f"({cheapest['cost_per_kwh']:.0f} USD); {dearest['route']} the dearest "
                f"({dearest['cost_per_kwh']:.0f} USD).")
        if share is not None:
            text += (f" Materials are {100 * share.min():.0f}–{100 * share.max():.0f} % of the "
                     "cost on every route, so the electrolyte's raw materials and the yields "
                     "that scrap them decide the ranking.")
            rest = {c.column: c.label for c in cats if c.name != "materials"}
            if rest:
                second = rest[t[list(rest)].mean().idxmax()]
                text += f" After materials, {second} is the largest item on average."
        s["cost_breakdown"] = text
    if "overall_yield" in t:
        worst = t.loc[t["overall_yield"].idxmin()]
        s["yield_funnel"] = (
            f"Each bar is the share of the units started at that step that end in a good cell; "
            f"long lines compound their losses, and {worst['route']} has the lowest overall "
            f"yield ({100 * worst['overall_yield']:.1f} %).")
    if "bottleneck" in t:
        s["utilisation"] = ("Bars are the fraction of machine time spent processing in the "
                            "simulation; the red bar is the step that limits the line: " +
                            "; ".join(f"{r['route']}: {r['bottleneck']}" for _, r in t.iterrows())
                            + ".")
    c = result.size_curve
    if len(c):
        lo, hi = c["capacity_gwh"].min(), c["capacity_gwh"].max()
        parts = []
        for name, g in c.groupby("route", sort=False):
            g = g.dropna(subset=["cost_per_kwh"])
            if len(g) >= 2:
                a, b = g.iloc[0]["cost_per_kwh"], g.iloc[-1]["cost_per_kwh"]
                parts.append(f"{name} {a:.0f} → {b:.0f}")
        s["cost_vs_size"] = (f"Optimised cost per kWh from a {lo:g} GWh/yr pilot line to a "
                             f"{hi:g} GWh/yr plant (USD/kWh): " + "; ".join(parts) +
                             ". Whole machines and fixed dry rooms make small plants dearer "
                             "per kWh: the niche markets that carry the first volumes pay "
                             "this premium.")
    return s


def render_html(result) -> str:
    t = result.table
    shown = [c for c in ("route", "form", "cost_per_kwh", "wh_per_kg", "wh_per_l",
                         "sim_gwh_mean", "sim_gwh_ci95_low", "sim_gwh_ci95_high",
                         "sim_to_target_ratio", "overall_yield", "capex_total_musd",
                         "dry_room_area_m2", "dew_point_class", "sulfide_exposure_kg_h",
                         "h2s_estimate", "iterations", "converged") if c in t.columns]
    table_html = t[shown].to_html(index=False, float_format=lambda v: f"{v:,.3g}",
                                  border=0, classes="cmp")
    sentences = _sentences(result)
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        "<title>ssbfab route comparison</title><style>",
        "body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}",
        "table.cmp{border-collapse:collapse;font-size:12px}",
        "table.cmp td,table.cmp th{padding:3px 8px;border-bottom:1px solid #ddd;text-align:right}",
        "figure{margin:2em 0} figcaption{font-size:14px;color:#333;margin-top:.5em}",
        "figure svg{max-width:100%;height:auto} .wrap{overflow-x:auto}",
        "</style></head><body>",
        "<h1>What does a good kWh cost on each route?</h1>",
        "<p>Each route's line was optimised for cost per kWh of good cells, simulated, and "
        "re-optimised with the simulated availability, yields and bottleneck losses until the "
        "simulation confirmed the target output. Costs are in USD of the economics' currency "
        "year; simulated output is the mean over replications with its 95 % confidence "
        "interval.</p>",
        f"<div class='wrap'>{table_html}</div>",
    ]
    for key, title in FIGURES.items():
        fig = result.figures.get(key)
        if fig is None:
            continue
        parts.append(f"<figure id='{key}'><h2>{html.escape(title)}</h2>{_svg(fig)}"
                     f"<figcaption>{html.escape(sentences.get(key, ''))}</figcaption></figure>")
    not_conv = t[~t["converged"]] if "converged" in t else t.iloc[0:0]
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
    """Write every result file of a comparison into `out` (each atomically)."""
    out.mkdir(parents=True, exist_ok=True)
    write_csv(out / "comparison.csv", result.table)
    write_json(out / "comparison.json", {
        "routes": json.loads(result.table.to_json(orient="records")),
        "size_curve": json.loads(result.size_curve.to_json(orient="records")),
    })
    for name, loop in result.loops.items():
        d = out / name
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
