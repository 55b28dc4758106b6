"""The results store: one DuckDB file per output folder, `OUT/results.duckdb`.

Tables (query them with SQL, or `load(DIR)` for a pandas DataFrame):

- `scenarios`: one row per finished scenario: study, scenario_id, point, label,
  route, form, job, status ('ok' | 'failed' | 'error'), error, cost_per_kwh (USD per
  good kWh), capex (USD), good_gwh (simulated, GWh/yr) with its 95 % interval,
  line_yield, bottleneck, h2s_estimate (L/yr), sulfide_exposure_kg_h,
  dew_point_class, capacity_gwh, solver_status, seed, seconds,
  created_at (UTC), the inputs as JSON and as one column per design parameter
  (named by its path, a number in the parameter's unit), the cost breakdown as
  JSON and as `cost.<category>` columns (USD/kWh), yields, plan and sim as JSON.
- `plan`: the scenarios of the latest sweep of each study (a rerun after the data or
  the scenario file changed replaces it; older rows stay in `scenarios`, and `load`
  leaves them out unless asked).
- `studies`: what each study was (design, routes, baseline, parameter units).
- `runs`: one row per sweep command: when, how many scenarios, how many skipped.

DuckDB allows one writing process, so only the driver writes, each row in its own
transaction as soon as the scenario finishes: a killed sweep loses only the
scenarios in flight.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import InputError, Problem

FILE = "results.duckdb"

FIXED = {
    "study": "VARCHAR", "scenario_id": "VARCHAR", "point": "INTEGER", "label": "VARCHAR",
    "route": "VARCHAR", "form": "VARCHAR", "job": "VARCHAR", "status": "VARCHAR",
    "error": "VARCHAR", "cost_per_kwh": "DOUBLE", "capex": "DOUBLE", "good_gwh": "DOUBLE",
    "good_gwh_ci95_low": "DOUBLE", "good_gwh_ci95_high": "DOUBLE", "line_yield": "DOUBLE",
    "bottleneck": "VARCHAR", "h2s_estimate": "DOUBLE", "sulfide_exposure_kg_h": "DOUBLE",
    "dew_point_class": "VARCHAR", "capacity_gwh": "DOUBLE", "solver_status": "VARCHAR",
    "inputs": "VARCHAR", "breakdown": "VARCHAR", "yields": "VARCHAR", "plan": "VARCHAR",
    "sim": "VARCHAR", "extra": "VARCHAR", "seed": "BIGINT", "seconds": "DOUBLE",
    "worker": "VARCHAR", "data_hash": "VARCHAR", "created_at": "TIMESTAMP",
}
JSON_COLUMNS = ("inputs", "breakdown", "yields", "plan", "sim", "extra")
DONE = ("ok", "failed")  # statuses a rerun skips; 'error' (a bug) is computed again


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@contextlib.contextmanager
def guarded(path: Path) -> Iterator[None]:
    """DuckDB's errors about the file itself (locked, truncated, corrupt) as bad
    input naming the file and what to do, exit 2; other database errors are bugs."""
    import duckdb

    try:
        yield
    except duckdb.Error as exc:
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if "could not set lock" in text.lower() or "conflicting lock" in text.lower():
            raise InputError(Problem(str(path), None, "", f"the results store is in use by "
                                     f"another process ({text}); wait for the other sweep to end, "
                                     "or choose another --out")) from None
        if isinstance(exc, duckdb.IOException) or "corrupt" in text.lower():
            raise InputError(Problem(str(path), None, "", f"the results store is damaged or is "
                                     f"not a DuckDB database ({text}); delete the file (its rows "
                                     "are lost; the sweep computes them again) or choose another "
                                     "--out")) from None
        raise


class Store:
    """The writer: opened by the sweep's driver process only."""

    def __init__(self, out: str | Path):
        import duckdb

        self.out = Path(out)
        try:
            self.out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(Problem(str(self.out), None, "--out", f"cannot create the output "
                                     f"folder: {exc.strerror or exc}")) from None
        self.path = self.out / FILE
        with guarded(self.path):
            self.con = duckdb.connect(str(self.path))
            self._create()

    def _create(self) -> None:
        cols = ", ".join(f"{_q(c)} {t}" for c, t in FIXED.items())
        self.con.execute(f"CREATE TABLE IF NOT EXISTS scenarios ({cols})")
        self.con.execute("CREATE TABLE IF NOT EXISTS plan (study VARCHAR, scenario_id VARCHAR, "
                         "point INTEGER, route VARCHAR, label VARCHAR)")
        self.con.execute("CREATE TABLE IF NOT EXISTS studies (study VARCHAR, info VARCHAR, "
                         "updated_at TIMESTAMP)")
        self.con.execute("CREATE TABLE IF NOT EXISTS runs (study VARCHAR, started_at TIMESTAMP, "
                         "finished_at TIMESTAMP, total INTEGER, skipped INTEGER, ok INTEGER, "
                         "failed INTEGER, errors INTEGER, workers VARCHAR)")
        self._columns = self._read_columns()
        for c, t in FIXED.items():  # a store written by an older ssbfab gains new columns
            self._add_column(c, t)

    def _read_columns(self) -> dict[str, str]:
        rows = self.con.execute("SELECT column_name, data_type FROM information_schema.columns "
                                "WHERE table_name = 'scenarios'").fetchall()
        return {r[0]: r[1] for r in rows}

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---------------------------------------------------------------- study
    def begin(self, study: dict, scenarios: list, parameters: dict[str, dict]
              ) -> tuple[set[str], dict | None, int]:
        """Record the study and its current scenarios. Returns the ids already done,
        what the study was at its previous sweep (None if new), and how many rows of
        the study belong to no current scenario (an earlier version of its inputs)."""
        with guarded(self.path):
            return self._begin(study, scenarios, parameters)

    def _begin(self, study: dict, scenarios: list, parameters: dict[str, dict]
               ) -> tuple[set[str], dict | None, int]:
        name = study["study"]
        prev = self.con.execute("SELECT info FROM studies WHERE study = ?", [name]).fetchone()
        for p, info in parameters.items():
            if p in FIXED:
                raise InputError(f"parameter {p!r} clashes with a column of the results store")
            self._add_column(p, "DOUBLE" if info["numeric"] else "VARCHAR")
        self.con.execute("BEGIN")
        self.con.execute("DELETE FROM studies WHERE study = ?", [name])
        self.con.execute("INSERT INTO studies VALUES (?, ?, ?)",
                         [name, json.dumps(study, default=str), _now()])
        self.con.execute("DELETE FROM plan WHERE study = ?", [name])
        self.con.executemany("INSERT INTO plan VALUES (?, ?, ?, ?, ?)",
                             [[name, s.scenario_id, s.point, s.route, s.label] for s in scenarios])
        self.con.execute("COMMIT")
        done = self.con.execute(
            "SELECT scenario_id FROM scenarios WHERE study = ? AND status IN ('ok', 'failed')",
            [name]).fetchall()
        stale = self.con.execute(
            "SELECT count(*) FROM scenarios s WHERE study = ? AND NOT EXISTS (SELECT 1 FROM plan p "
            "WHERE p.study = s.study AND p.scenario_id = s.scenario_id)",
            [name]).fetchall()[0][0]  # count(*) always gives one row
        return {r[0] for r in done}, (json.loads(prev[0]) if prev else None), int(stale)

    def log_run(self, study: str, started: datetime, total: int, skipped: int, ok: int,
                failed: int, errors: int, workers: str) -> None:
        with guarded(self.path):
            self.con.execute("INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                             [study, started, _now(), total, skipped, ok, failed, errors, workers])

    def statuses(self, study: str) -> dict[str, int]:
        """Rows of the study's current scenarios by status ('ok', 'failed', 'error')."""
        with guarded(self.path):
            rows = self.con.execute(
                "SELECT s.status, count(*) FROM scenarios s JOIN plan p ON s.study = p.study AND "
                "s.scenario_id = p.scenario_id WHERE s.study = ? GROUP BY s.status",
                [study]).fetchall()
        return {r[0]: int(r[1]) for r in rows}

    # ---------------------------------------------------------------- rows
    def _add_column(self, name: str, typ: str) -> None:
        if name not in self._columns:
            self.con.execute(f"ALTER TABLE scenarios ADD COLUMN IF NOT EXISTS {_q(name)} {typ}")
            self._columns[name] = typ

    def write(self, row: dict[str, Any]) -> None:
        """Insert one scenario's row, replacing an earlier row of the same scenario,
        in one transaction (committed when this returns)."""
        values = {}
        for c in FIXED:
            v = row.get(c)
            values[c] = json.dumps(_finite(v), default=str) if c in JSON_COLUMNS and v is not None else v
        values["created_at"] = row.get("created_at") or _now()
        for p, x in (row.get("numbers") or {}).items():
            typ = self._columns.get(p)
            if typ is None:
                continue
            raw = (row.get("inputs") or {}).get(p)
            values[p] = x if typ == "DOUBLE" else (None if raw is None else str(raw))
        for cat, x in (row.get("breakdown") or {}).items():
            col = f"cost.{cat}"
            self._add_column(col, "DOUBLE")
            values[col] = x
        names = list(values)
        with guarded(self.path):
            self.con.execute("BEGIN")
            self.con.execute("DELETE FROM scenarios WHERE study = ? AND scenario_id = ?",
                             [row["study"], row["scenario_id"]])
            self.con.execute(f"INSERT INTO scenarios ({', '.join(map(_q, names))}) VALUES "
                             f"({', '.join('?' * len(names))})", [values[n] for n in names])
            self.con.execute("COMMIT")


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _finite(x):
    """JSON has no NaN or infinity: write null instead."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {str(k): _finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite(v) for v in x]
    return x


@contextlib.contextmanager
def reading(out: str | Path) -> Iterator[Any]:
    """A read-only connection to OUT/results.duckdb, closed at the end; exit 2 if there
    is no store, or it is locked, damaged or not a store."""
    import duckdb

    path = Path(out) / FILE
    if not path.is_file():
        raise InputError(Problem(str(path), None, "", "no results store here; run `ssbfab sweep "
                                                      "SCENARIOS.yaml --out DIR` first"))
    with guarded(path):
        con = duckdb.connect(str(path), read_only=True)
        try:
            yield con
        except duckdb.CatalogException as exc:
            raise InputError(Problem(str(path), None, "", f"a DuckDB database but not a results "
                                     f"store written by `ssbfab sweep` ({exc}); choose the output "
                                     "folder of a sweep")) from None
        finally:
            con.close()


def load(out: str | Path, study: str | None = None, stale: bool = False):
    """Rows of the results store as a pandas DataFrame.

    By default only the scenarios of each study's latest sweep (`stale=True` adds
    rows left from earlier versions of the study). JSON columns (inputs, breakdown,
    yields, plan, sim, extra) come back as Python objects.
    """
    where, args = [], []
    if study is not None:
        where.append("s.study = ?")
        args.append(study)
    join = "" if stale else " JOIN plan p ON s.study = p.study AND s.scenario_id = p.scenario_id"
    sql = "SELECT s.* FROM scenarios s" + join
    if where:
        sql += " WHERE " + " AND ".join(where)
    with reading(out) as con:
        df = con.execute(sql + " ORDER BY s.study, s.point, s.route", args).df()
    for c in JSON_COLUMNS:
        if c in df:
            df[c] = df[c].map(lambda t: json.loads(t) if isinstance(t, str) else None)
    return df


def studies(out: str | Path) -> dict[str, dict]:
    """Study name -> what `Study.to_dict()` recorded at its latest sweep."""
    with reading(out) as con:
        rows = con.execute("SELECT study, info FROM studies ORDER BY study").fetchall()
    return {name: json.loads(info) for name, info in rows}
