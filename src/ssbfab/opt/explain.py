"""Why there is no plan, in the data's words.

Two sources, tried in this order: the structured checks of `data.numbers` (a step's
machine limits against its smallest possible need, the site's floor and dry-room
area against the least footprint the target needs, classes in which a sensitive
step cannot work), which prove infeasibility before any solve; then, if HiGHS
proves the MILP infeasible anyway, its irreducible infeasible subset (IIS), whose
rows and columns carry the step and option names of `build.py`.
"""

from __future__ import annotations

import re

_NAME = re.compile(r"^(?P<comp>\w+)(\[(?P<idx>.*)\])?$")


def _parts(name: str) -> tuple[str, list[str]]:
    mt = _NAME.match(name)
    if not mt:
        return name, []
    idx = mt.group("idx")
    return mt.group("comp"), [p.strip() for p in idx.split(",")] if idx else []


def describe_row(name: str, model) -> str:
    comp, idx = _parts(name)
    if comp == "floor_area":
        return f"the site floor area limit ({model.floor_limit.value:,.0f} m²)"
    if comp == "dry_room_area":
        return f"the dry-room area limit ({model.dry_limit.value:,.0f} m²)"
    if comp == "capacity":
        return f"the capacity of step {idx[0]!r} (its installed machines must cover its input)"
    if comp == "dispatch_capacity":
        return f"the capacity of option {idx[1]!r} at step {idx[0]!r}"
    if comp == "flow_balance":
        return f"the flow through step {idx[0]!r} (what its consumers need)"
    if comp == "machines_needed":
        return f"the least number of machines step {idx[0]!r} needs"
    if comp == "machine_cost_floor":
        return f"the least machine cost step {idx[0]!r} needs"
    if comp in ("class_link", "class_choice", "dry_class", "dry_split"):
        return "the choice of one dry-room class" + (f" ({idx[-1]})" if idx else "")
    if comp in ("level_link", "level_choice"):
        return f"the choice of one setting level at step {idx[0]!r}" if idx else "level choice"
    return name


def describe_col(name: str, model, upper: bool) -> str:
    comp, idx = _parts(name)
    if comp == "n" and len(idx) == 2:
        s, e = idx
        if upper:
            return f"max_count {int(model.nub[s, e].value)} of option {e!r} at step {s!r}"
        return f"min_count {int(model.nlb[s, e].value)} of option {e!r} at step {s!r}"
    if comp == "g" and upper:
        return f"the yield of step {idx[0]!r} at level {idx[1]!r} in class {idx[2]!r}"
    return f"{name} ({'upper' if upper else 'lower'} bound)"


def _highs_handles(solver, model):
    """(highspy model, row -> Pyomo constraint, column -> Pyomo variable) of a model
    held by pyomo.contrib's persistent `highs`, or None.

    pyomo.contrib.solver (6.9-6.10, the pinned range) has no public way to reach the
    highspy model or its row and column numbering, so this is the one place that
    reads the interface's own attributes (its column map is keyed by id() of each
    variable). If a Pyomo release renames them, the diagnosis is lost (None: the
    caller says so in general words), never the verdict."""
    from pyomo.environ import Var

    try:
        h = solver._solver_model
        rows = dict(solver._solver_con_to_pyomo_con_map)
        col_of = solver._pyomo_var_to_solver_var_map
        cols = {}
        for v in model.component_data_objects(Var):
            j = col_of.get(id(v))
            if j is not None:
                cols[j] = v
    except AttributeError:
        return None
    return h, rows, cols


def explain_iis(solver, model) -> str | None:
    """The IIS of an infeasible model held by a pyomo.contrib `highs` solver, in
    words; None when HiGHS cannot give one (e.g. only the integers make it infeasible)."""
    import highspy

    handles = _highs_handles(solver, model)
    if handles is None:
        return None
    h, row_con, by_index = handles
    # elastic LP then a deletion filter: a true irreducible set, in a fraction of a second
    # on these models; quietly (stdout may carry a JSON document)
    h.setOptionValue("output_flag", False)
    h.setOptionValue("iis_strategy", int(highspy.IisStrategy.kIisStrategyFromLp)
                     | int(highspy.IisStrategy.kIisStrategyIrreducible))
    h.setOptionValue("iis_time_limit", 30.0)
    try:
        status, iis = h.getIis()
    except Exception:  # an IIS is a diagnosis: its failure must not hide the verdict
        return None
    finally:
        h.setOptionValue("output_flag", True)
    if status != highspy.HighsStatus.kOk or not getattr(iis, "valid_", False):
        return None
    rows = [row_con[i].name for i in iis.row_index_ if i in row_con]
    bound = highspy.IisBoundStatus
    lower, upper, boxed = (int(bound.kIisBoundStatusLower), int(bound.kIisBoundStatusUpper),
                           int(bound.kIisBoundStatusBoxed))
    cols = []
    for j, b in zip(iis.col_index_, iis.col_bound_, strict=False):
        v = by_index.get(j)
        b = int(b)
        if v is None or b not in (lower, upper, boxed):
            continue  # a free column takes part without a bound that conflicts
        if b in (lower, boxed) and not (v.name.startswith("g[") or v.name.startswith("x[")):
            cols.append(describe_col(v.name, model, upper=False))
        if b in (upper, boxed):
            cols.append(describe_col(v.name, model, upper=True))
    if not rows and not cols:
        return None
    parts = [describe_row(r, model) for r in rows if not r.startswith(("level_", "class_"))]
    parts += [c for c in cols if not c.startswith(("z", "w"))]
    # keep the order stable and short: named limits first
    seen = []
    for p in parts:
        if p not in seen:
            seen.append(p)
    return "these limits conflict (HiGHS IIS): " + "; ".join(seen[:8])
