"""README figure: cost per kWh of good cells against plant size, 0.2 to 50 GWh/yr.

Every shipped route is optimised (nominal data, no simulation) at each size under
machine-level costing (`batpac5`) and BatPaC 5.0's volume scaling (`batpac5-scaled`).
The marker on each scaled curve is where scale stops paying: the smallest plant whose
cost per kWh is within 2 % of the 50 GWh/yr plant's. Writes docs/img/cost_vs_size.png
and the numbers beside it (cost_vs_size.csv). Run: `make figures` (a few minutes);
`--redraw` draws the figure again from the csv without solving.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

from matplotlib.figure import Figure

from ssbfab.data import resolve_route, route_files
from ssbfab.opt import OptModel

SIZES = (0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0)  # GWh/yr
WITHIN = 0.02  # "scale stops paying": within 2 % of the largest plant's cost per kWh
OUT = Path(__file__).parent / "img"


def curves() -> list[dict]:
    rows = []
    for path in route_files():
        route = resolve_route(str(path))
        for costing in ("batpac5", "batpac5-scaled"):
            model = OptModel(route, costing)  # built once; each size changes numbers
            for gwh in SIZES:
                plan = model.solve(gwh)
                rows.append({"route": route.name, "costing": costing, "capacity_gwh": gwh,
                             "lines": plan.lines, "status": plan.status.status,
                             "cost_per_kwh": plan.cost.cost_per_kwh if plan.cost else float("nan")})
                print(f"{route.name:26s} {costing:15s} {gwh:5g} GWh/yr {rows[-1]['cost_per_kwh']:8.2f}"
                      f" USD/kWh ({plan.status.status})", file=sys.stderr, flush=True)
    return rows


def knee(points: list[tuple[float, float]]) -> tuple[float, float]:
    """The smallest (size, cost) within WITHIN of the largest plant's cost."""
    last = points[-1][1]
    return next((s, c) for s, c in points if c <= last * (1 + WITHIN))


def draw(rows: list[dict]) -> Figure:
    fig = Figure(figsize=(8, 5.6))
    ax = fig.subplots()
    routes = list(dict.fromkeys(r["route"] for r in rows))
    colours = dict(zip(routes, [f"C{i}" for i in range(len(routes))], strict=False))
    for name in routes:
        for costing, style in (("batpac5-scaled", "-"), ("batpac5", ":")):
            pts = [(r["capacity_gwh"], r["cost_per_kwh"]) for r in rows
                   if r["route"] == name and r["costing"] == costing and r["cost_per_kwh"] == r["cost_per_kwh"]]
            if not pts:
                continue
            ax.plot(*zip(*pts, strict=True), style, marker="o" if style == "-" else None,
                    ms=3, color=colours[name], label=name if style == "-" else None)
            if costing == "batpac5-scaled":
                s, c = knee(pts)
                ax.plot([s], [c], marker="D", ms=8, mfc="none", color=colours[name])
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(SIZES, [f"{s:g}" for s in SIZES])
    ax.set_yticks([60, 80, 100, 150, 200, 300, 400], ["60", "80", "100", "150", "200", "300", "400"])
    ax.minorticks_off()
    ax.set_xlabel("plant size, GWh of good cells per year")
    ax.set_ylabel("cell cost, USD (2022) per kWh of good cells")
    ax.set_title("Cost per kWh against plant size: BatPaC 5.0 volume scaling (solid) "
                 "and whole machines (dotted)", fontsize=9)
    ax.plot([], [], "D", mfc="none", color="0.3", label=f"within {WITHIN:.0%} of 50 GWh/yr")
    ax.legend(fontsize=7, ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.12))
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    return fig


def main() -> None:
    if "--redraw" in sys.argv[1:]:
        with open(OUT / "cost_vs_size.csv", newline="") as f:
            rows = [{**r, "capacity_gwh": float(r["capacity_gwh"]),
                     "cost_per_kwh": float(r["cost_per_kwh"])} for r in csv.DictReader(f)]
    else:
        rows = curves()
        OUT.mkdir(exist_ok=True)
        with open(OUT / "cost_vs_size.csv", "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    draw(rows).savefig(OUT / "cost_vs_size.png", dpi=110, metadata={"Software": None})
    for name in dict.fromkeys(r["route"] for r in rows):
        pts = [(r["capacity_gwh"], r["cost_per_kwh"]) for r in rows
               if r["route"] == name and r["costing"] == "batpac5-scaled"]
        s, c = knee(pts)
        print(f"{name}: scale stops paying at {s:g} GWh/yr ({c:.1f} USD/kWh; "
              f"{pts[-1][1]:.1f} at 50 GWh/yr, {pts[0][1]:.1f} at 0.2)")


if __name__ == "__main__":
    main()
