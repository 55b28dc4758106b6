"""README figures of the shipped transition roadmap (studies/roadmaps/transition.yaml).

Plans the roadmap as `ssbfab roadmap` does and saves two of its report's figures:
docs/img/roadmap_capacity.png (capacity of the lines operating each year, by route) and
docs/img/roadmap_cost.png (each route's cost per good kWh by year). Run: `make figures`
(about a minute and a half on the 2-core machine).
"""

from __future__ import annotations

from pathlib import Path

from ssbfab.roadmap import load_roadmap, plan_roadmap
from ssbfab.roadmap.report import make_figures

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "img"


def main() -> None:
    result = plan_roadmap(load_roadmap(str(ROOT / "studies" / "roadmaps" / "transition.yaml")))
    figs = make_figures(result)
    OUT.mkdir(parents=True, exist_ok=True)
    for key in ("capacity", "cost"):
        path = OUT / f"roadmap_{key}.png"
        figs[key].savefig(path, dpi=110)
        print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
