"""Analyses of a results store: the tables and figures a study is run for.

What a design can say decides what is printed: percentiles describe a distribution,
and only a sampled design has one; a grid or a one-at-a-time design is a set of
chosen points, summarised by its curve and its range.

- percentiles (sampled designs only): P10 / P50 / P90 (and mean) of cost per good
  kWh per route over the successful scenarios (linear interpolation between order
  statistics);
- range (grid, one-at-a-time and single-point designs): lowest and highest cost per
  route over the points studied (and the base scenario's, one-at-a-time);
- tornado (one-at-a-time designs): per route and parameter, the cost at each end of
  the parameter's range against the base scenario, sorted by swing;
- crossovers (grid designs with a numeric parameter and a baseline route): the
  value at which a route's cost equals the baseline's, by linear interpolation of the
  cost difference between neighbouring grid values, per combination of the other
  parameters; only inside the range studied, never extrapolated: without one, how
  far apart the two routes are where they come closest;
- by value (grid designs): mean cost per route at each value of each parameter;
- sensitivity (sampled designs): partial rank correlation (PRCC) of each input with
  cost per route, with its p-value: the rank correlation that is left after the
  other inputs' ranks are regressed out, so that an input a route does not use
  shows (near) no effect even when a sample happens to correlate it with one it uses;
- size: cost per kWh against the plant capacity the job worked to (GWh/yr), when
  a study varies it.

Only rows with status 'ok' enter an analysis; counts per status are reported.
Figures are written with matplotlib's object API (no pyplot state, no display).
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .store import load, studies


@dataclass
class Summary:
    study: str
    info: dict
    counts: pd.DataFrame
    percentiles: pd.DataFrame | None = None  # sampled designs
    range: pd.DataFrame | None = None  # grid, one-at-a-time and single-point designs
    tornado: pd.DataFrame | None = None
    crossovers: pd.DataFrame | None = None
    by_value: dict[str, pd.DataFrame] = field(default_factory=dict)
    size: pd.DataFrame | None = None
    sensitivity: pd.DataFrame | None = None
    figures: list[Path] = field(default_factory=list)

    def tables(self) -> dict[str, pd.DataFrame]:
        out = {"counts": self.counts}
        if self.percentiles is not None:
            out["percentiles"] = self.percentiles
        if self.range is not None:
            out["range"] = self.range
        if self.tornado is not None:
            out["tornado"] = self.tornado
        if self.crossovers is not None:
            out["crossovers"] = self.crossovers
        for p, t in self.by_value.items():
            out[f"by_value {p}"] = t
        if self.size is not None:
            out["size"] = self.size
        if self.sensitivity is not None:
            out["sensitivity"] = self.sensitivity
        return out


def summarize(out: str | Path, study: str | None = None, figures: bool = True) -> list[Summary]:
    """Summaries of each study in `OUT/results.duckdb` (or only `study`); with
    `figures`, PNGs and CSVs are written to OUT/summary/<study>/."""
    infos = studies(out)
    if study is not None:
        if study not in infos:
            from ..errors import InputError, closest

            raise InputError(f"no study {study!r} in {out}{closest(study, infos)}; "
                             f"studies: {', '.join(infos) or 'none'}")
        infos = {study: infos[study]}
    result = []
    for name, info in infos.items():
        df = load(out, name)
        s = summarize_frame(df, info)
        if figures:
            s.figures = write_outputs(s, df, Path(out) / "summary" / name)
        result.append(s)
    return result


def summarize_frame(df: pd.DataFrame, info: dict) -> Summary:
    """All analyses of one study's rows (as `load` returns them)."""
    routes = list(info.get("routes") or sorted(df["route"].unique()))
    ok = df[df["status"] == "ok"]
    counts = (df.groupby(["route", "status"]).size().unstack(fill_value=0)
              .reindex(index=routes, columns=["ok", "failed", "error"], fill_value=0)
              .reset_index())
    s = Summary(info["study"], info, counts)
    design = info.get("design")
    if design == "samples":
        s.percentiles = percentiles(ok, routes)
    else:
        s.range = cost_range(ok, routes, info if design == "one_at_a_time" else None)
    if design == "one_at_a_time":
        s.tornado = tornado(ok, info)
    if design == "samples":
        s.sensitivity = sensitivity(ok, info)
    if design == "grid":
        s.by_value = by_value(ok, info)
        if info.get("baseline") and len(routes) > 1:
            s.crossovers = crossovers(ok, info)
    if ok["capacity_gwh"].nunique() > 1:
        s.size = (ok.groupby(["route", "capacity_gwh"])["cost_per_kwh"].mean()
                  .reset_index().sort_values(["route", "capacity_gwh"], ignore_index=True))
    return s


def percentiles(ok: pd.DataFrame, routes: list[str]) -> pd.DataFrame:
    """P10/P50/P90 and mean of cost per kWh per route (USD/kWh)."""
    rows = []
    for r in routes:
        c = ok.loc[ok["route"] == r, "cost_per_kwh"].dropna().to_numpy(float)
        if len(c) == 0:
            rows.append({"route": r, "n": 0, "p10": math.nan, "p50": math.nan, "p90": math.nan,
                         "mean": math.nan})
            continue
        p10, p50, p90 = np.percentile(c, [10, 50, 90])
        rows.append({"route": r, "n": len(c), "p10": p10, "p50": p50, "p90": p90,
                     "mean": float(c.mean())})
    return pd.DataFrame(rows)


def cost_range(ok: pd.DataFrame, routes: list[str], oat: dict | None = None) -> pd.DataFrame:
    """Lowest and highest cost per kWh per route over the points studied (USD/kWh);
    with `oat` (a one-at-a-time study's info), the base scenario's cost too."""
    base = (oat or {}).get("base") or {}
    rows = []
    for r in routes:
        g = ok[(ok["route"] == r) & ok["cost_per_kwh"].notna()]
        row = {"route": r, "n": len(g), "min": g["cost_per_kwh"].min() if len(g) else math.nan,
               "max": g["cost_per_kwh"].max() if len(g) else math.nan}
        if oat is not None:
            at_base = g[g["inputs"].map(lambda d: not _varied(d or {}, base))]
            row["base"] = float(at_base["cost_per_kwh"].iloc[0]) if len(at_base) else math.nan
        rows.append(row)
    return pd.DataFrame(rows)


def prcc(x: np.ndarray, y: np.ndarray) -> list[tuple[float, float]]:
    """Partial rank correlation of each column of x (n samples x k inputs) with y, and
    its two-sided p-value (t with n - 1 - k degrees of freedom): rank-transform, regress
    the other inputs' ranks (and a constant) out of the input's ranks and of y's,
    correlate the residuals. An input is given 0 when the other inputs explain y's
    ranks entirely (nothing is left for it to explain) and NaN when it does not vary
    apart from them."""
    from scipy.stats import rankdata
    from scipy.stats import t as student

    n, k = x.shape
    rx = np.column_stack([rankdata(x[:, j]) for j in range(k)])
    ry = rankdata(y)
    out = []
    for j in range(k):
        z = np.column_stack([np.ones(n), np.delete(rx, j, axis=1)])
        ex = rx[:, j] - z @ np.linalg.lstsq(z, rx[:, j], rcond=None)[0]
        ey = ry - z @ np.linalg.lstsq(z, ry, rcond=None)[0]
        if np.std(ex) <= 1e-9 * np.std(rx[:, j]) or np.std(ry) == 0:
            out.append((math.nan, math.nan))
            continue
        if np.std(ey) <= 1e-9 * np.std(ry):
            out.append((0.0, 1.0))
            continue
        r = float(np.clip(np.corrcoef(ex, ey)[0, 1], -1.0, 1.0))
        df = n - 1 - k
        if df <= 0:
            out.append((r, math.nan))
        elif abs(r) == 1.0:
            out.append((r, 0.0))
        else:
            tstat = r * math.sqrt(df / (1 - r * r))
            out.append((r, float(2 * student.sf(abs(tstat), df))))
    return out


def sensitivity(ok: pd.DataFrame, info: dict) -> pd.DataFrame:
    """Sampled designs: per route, the partial rank correlation (`prcc`) of each
    numeric input with cost per kWh (+1: cost rises with the input, all else held;
    0: no monotone effect) and its p-value, sorted by size."""
    params = [p for p, meta in (info.get("parameters") or {}).items()
              if meta.get("numeric") and p in ok]
    rows = []
    for route, g in ok.groupby("route", sort=False):
        g = g.dropna(subset=["cost_per_kwh", *params])
        used = [p for p in params if g[p].nunique() > 1]
        found = dict(zip(used, prcc(g[used].to_numpy(float), g["cost_per_kwh"].to_numpy(float)),
                         strict=True)) if used and len(g) > 2 else {}
        for p in params:
            r, pv = found.get(p, (math.nan, math.nan))
            rows.append({"route": route, "parameter": p, "prcc": r, "p_value": pv, "n": len(g)})
    t = pd.DataFrame(rows)
    if t.empty:
        return t
    t["_abs"] = t["prcc"].abs()
    return (t.sort_values(["route", "_abs"], ascending=[True, False])
            .drop(columns="_abs").reset_index(drop=True))


def _varied(inputs: dict, base: dict) -> list[str]:
    return [p for p in inputs if p not in base or inputs[p] != base[p]]


def tornado(ok: pd.DataFrame, info: dict) -> pd.DataFrame:
    """Per route and parameter: cost at the lowest and highest value tried against the
    base scenario; `swing` = cost(high) - cost(low), rows sorted by |swing|."""
    base = info.get("base") or {}
    params = info.get("parameters") or {}
    rows = []
    for route, g in ok.groupby("route", sort=False):
        moved = g["inputs"].map(lambda d: _varied(d or {}, base))
        base_rows = g[moved.map(len) == 0]
        if base_rows.empty:
            continue
        c0 = float(base_rows["cost_per_kwh"].iloc[0])
        for p in params:
            sub = g[moved.map(lambda m, p=p: m == [p])]
            if sub.empty:
                continue
            if params[p].get("numeric"):
                sub = sub.sort_values(p)
                lo, hi = sub.iloc[0], sub.iloc[-1]
                lo_v, hi_v = lo[p], hi[p]
            else:
                sub = sub.sort_values("cost_per_kwh")
                lo, hi = sub.iloc[0], sub.iloc[-1]
                lo_v, hi_v = lo["inputs"][p], hi["inputs"][p]
            rows.append({"route": route, "parameter": p, "unit": params[p].get("unit", ""),
                         "low": lo_v, "high": hi_v, "cost_low": lo["cost_per_kwh"],
                         "cost_base": c0, "cost_high": hi["cost_per_kwh"],
                         "swing": hi["cost_per_kwh"] - lo["cost_per_kwh"],
                         "range": sub["cost_per_kwh"].max() - sub["cost_per_kwh"].min()})
    t = pd.DataFrame(rows)
    if t.empty:
        return t
    t["_abs"] = t["swing"].abs()
    return (t.sort_values(["route", "_abs"], ascending=[True, False])
            .drop(columns="_abs").reset_index(drop=True))


def crossover_points(x: np.ndarray, d: np.ndarray) -> list[float]:
    """Values of x where the piecewise-linear d(x) through the points crosses zero
    (x sorted ascending). A zero at a grid point counts once."""
    out: list[float] = []
    for i in range(len(x)):
        if d[i] == 0 and (not out or out[-1] != x[i]):
            out.append(float(x[i]))
        if i + 1 < len(x) and d[i] * d[i + 1] < 0:
            out.append(float(x[i] + (x[i + 1] - x[i]) * d[i] / (d[i] - d[i + 1])))
    return out


def crossovers(ok: pd.DataFrame, info: dict) -> pd.DataFrame:
    """Where each route's cost equals the baseline's, per numeric grid parameter, inside
    the range studied only. `finding` says it in a sentence: where they cross and which
    is cheaper on which side, or that they do not cross between the ends of the range
    and how much dearer (or cheaper) the route still is where the two come closest.
    `diff_at_low`/`diff_at_high`/`closest_diff`: route minus baseline, USD/kWh."""
    baseline = info["baseline"]
    params = info.get("parameters") or {}
    rows = []
    for p, meta in params.items():
        if not meta.get("numeric"):
            continue
        unit = meta.get("unit", "")
        others = [q for q in params if q != p]
        b = ok[ok["route"] == baseline]
        for route in info["routes"]:
            if route == baseline:
                continue
            r = ok[ok["route"] == route]
            m = r.merge(b[["point", "cost_per_kwh"]], on="point", suffixes=("", "_base"))
            m = m.dropna(subset=["cost_per_kwh", "cost_per_kwh_base"])
            if m.empty:
                continue
            groups = m.groupby([m["inputs"].map(lambda d, o=others: _key(d, o))], sort=False)
            for (key,), g in groups:
                g = g.sort_values(p)
                x = g[p].to_numpy(float)
                if len(np.unique(x)) < 2:
                    continue  # one value with a result: no range to speak of
                d = (g["cost_per_kwh"] - g["cost_per_kwh_base"]).to_numpy(float)
                near = int(np.argmin(np.abs(d)))
                common = {"parameter": p, "unit": unit, "route": route, "baseline": baseline,
                          "range_low": x.min(), "range_high": x.max(),
                          "diff_at_low": d[0], "diff_at_high": d[-1],
                          "closest_at": x[near], "closest_diff": d[near],
                          **{f"at {k}": v for k, v in dict(key).items()}}
                found = crossover_points(x, d)
                where = "".join(f" (with {k} = {v})" for k, v in key)
                for xv in found:
                    left = d[x < xv]
                    below = bool(left[-1] < 0) if len(left) else bool(d[-1] > 0)
                    rows.append({**common, "crossover": xv, "route_cheaper_below": below,
                                 "finding": _crossing(route, baseline, p, xv, unit, below)
                                 + where})
                if not found:
                    rows.append({**common, "crossover": math.nan, "route_cheaper_below": None,
                                 "finding": _no_crossing(route, baseline, p, x, d, near, unit)
                                 + where})
    return pd.DataFrame(rows)


def _crossing(route: str, baseline: str, p: str, xv: float, unit: str, below: bool) -> str:
    return (f"{route} costs the same as {baseline} at {p} = {_value(xv, unit)}; "
            f"{route} is cheaper {'below' if below else 'above'} it")


def _no_crossing(route: str, baseline: str, p: str, x: np.ndarray, d: np.ndarray, near: int,
                 unit: str) -> str:
    """'no crossover between X and Y; at X it is still Z USD/kWh dearer' (nothing said of
    where the grid does not reach: a line beyond it could cross at a negative price)."""
    dearer = "dearer" if d[near] > 0 else "cheaper"
    return (f"{route}: no crossover with {baseline} for {p} between {_value(x.min(), unit)} "
            f"and {_value(x.max(), unit)}; at {_value(x[near], unit)} it is still "
            f"{abs(d[near]):.2f} USD/kWh {dearer}")


def _value(v: float, unit: str) -> str:
    text = f"{v:,.0f}" if 1e4 <= abs(v) < 1e15 else f"{v:.4g}"
    return f"{text} {unit}".strip()


def _key(inputs: dict, others: list[str]) -> tuple:
    return tuple((q, str((inputs or {}).get(q))) for q in others)


def by_value(ok: pd.DataFrame, info: dict) -> dict[str, pd.DataFrame]:
    """Per grid parameter: mean cost per route (columns) at each value (rows)."""
    out = {}
    for p, meta in (info.get("parameters") or {}).items():
        col = ok[p] if meta.get("numeric") else ok["inputs"].map(lambda d, p=p: str(d.get(p)))
        t = (ok.assign(_v=col).groupby(["_v", "route"])["cost_per_kwh"].mean()
             .unstack("route").reset_index().rename(columns={"_v": p}))
        t.columns.name = None
        out[p] = t
    return out


# ----------------------------------------------------------------------------- outputs


def write_outputs(s: Summary, df: pd.DataFrame, folder: Path) -> list[Path]:
    """CSV tables and PNG figures of a summary, each written atomically."""
    from ..io import write_csv

    paths = []
    for name, t in s.tables().items():
        if t is not None and not t.empty:
            paths.append(write_csv(folder / f"{_slug(name)}.csv", t))
    for name, fig in figures(s, df).items():
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=120, bbox_inches="tight")
        from ..io import write_atomic

        paths.append(write_atomic(folder / f"{_slug(name)}.png", buf.getvalue()))
    return paths


def _emphasis(route: str, info: dict) -> dict:
    """The baseline route is drawn black and dashed: the line the others are read against."""
    return {"color": "black", "ls": "--"} if route == info.get("baseline") else {}


def _fmt(v) -> str:
    return f"{v:.4g}" if isinstance(v, (int, float, np.floating)) else str(v)


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def figures(s: Summary, df: pd.DataFrame) -> dict[str, Any]:
    """matplotlib Figures by name (not shown, not saved)."""
    from matplotlib.figure import Figure

    out: dict[str, Any] = {}
    pc = s.percentiles.dropna(subset=["p50"]) if s.percentiles is not None else pd.DataFrame()
    if not pc.empty:
        fig = Figure(figsize=(6.5, 0.6 + 0.45 * len(pc)))
        ax = fig.subplots()
        y = np.arange(len(pc))
        ax.errorbar(pc["p50"], y, xerr=[pc["p50"] - pc["p10"], pc["p90"] - pc["p50"]],
                    fmt="o", capsize=4)
        ax.set_yticks(y, pc["route"])
        ax.set_xlabel("cost per good kWh (USD/kWh): P50, bars P10-P90")
        ax.set_title(f"{s.study}: cost per kWh by route")
        ax.invert_yaxis()
        out["percentiles"] = fig
    if s.tornado is not None and not s.tornado.empty:
        for route, t in s.tornado.groupby("route", sort=False):
            t = t.iloc[::-1]
            fig = Figure(figsize=(7, 0.8 + 0.45 * len(t)))
            ax = fig.subplots()
            base = float(t["cost_base"].iloc[0])
            y = np.arange(len(t))
            ax.barh(y, t["cost_low"] - base, left=base, color="tab:blue", label="lowest value")
            ax.barh(y, t["cost_high"] - base, left=base, color="tab:orange", label="highest value")
            ax.axvline(base, color="k", lw=0.8)
            ax.set_yticks(y, [f"{p} [{_fmt(lo)} .. {_fmt(hi)}{(' ' + u) if u else ''}]"
                              for p, lo, hi, u in zip(t["parameter"], t["low"], t["high"],
                                                      t["unit"], strict=True)])
            ax.set_xlabel("cost per good kWh (USD/kWh)")
            ax.set_title(f"{s.study}: tornado, {route} (base {base:.1f} USD/kWh)")
            ax.legend(loc="best", fontsize="small")
            out[f"tornado_{route}"] = fig
    params = s.info.get("parameters") or {}
    ok = df[df["status"] == "ok"]
    for p, t in s.by_value.items():
        fig = Figure(figsize=(6.5, 4))
        ax = fig.subplots()
        numeric = params[p].get("numeric")
        x = t[p].to_numpy(float) if numeric else np.arange(len(t))
        for r in [c for c in t.columns if c != p]:
            ax.plot(x, t[r], marker="o", label=r, **_emphasis(r, s.info))
        if not numeric:
            ax.set_xticks(x, t[p].astype(str))
        unit = params[p].get("unit", "")
        ax.set_xlabel(p + (f" ({unit})" if unit else ""))
        ax.set_ylabel("cost per good kWh (USD/kWh)")
        if s.crossovers is not None and not s.crossovers.empty:
            cx = s.crossovers[(s.crossovers["parameter"] == p)].dropna(subset=["crossover"])
            for v in cx["crossover"]:
                ax.axvline(v, color="grey", ls="--", lw=0.8)
        ax.set_title(f"{s.study}: cost against {p}")
        ax.legend(fontsize="small")
        out[f"by_{p}"] = fig
    if s.size is not None and not s.size.empty:
        fig = Figure(figsize=(6.5, 4))
        ax = fig.subplots()
        for r, g in s.size.groupby("route", sort=False):
            ax.plot(g["capacity_gwh"], g["cost_per_kwh"], marker="o", label=r,
                    **_emphasis(r, s.info))
        ax.set_xscale("log")
        caps = sorted(s.size["capacity_gwh"].unique())
        ax.set_xticks(caps, [f"{c:g}" for c in caps])
        ax.minorticks_off()
        ax.set_xlabel("plant capacity (good GWh/yr)")
        ax.set_ylabel("cost per good kWh (USD/kWh)")
        ax.set_title(f"{s.study}: cost against plant size")
        ax.legend(fontsize="small")
        out["size"] = fig
    if s.info.get("design") == "samples" and not ok.empty:
        fig = Figure(figsize=(6.5, 4))
        ax = fig.subplots()
        for r, g in ok.groupby("route", sort=False):
            c = np.sort(g["cost_per_kwh"].dropna().to_numpy(float))
            ax.step(c, np.arange(1, len(c) + 1) / len(c), where="post", label=r)
        ax.set_xlabel("cost per good kWh (USD/kWh)")
        ax.set_ylabel("fraction of scenarios at or below")
        ax.set_title(f"{s.study}: distribution of cost per kWh")
        ax.legend(fontsize="small")
        out["cdf"] = fig
    return out
