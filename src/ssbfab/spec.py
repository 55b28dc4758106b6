"""The typed description of a route: the single truth that every other part reads.

A route file (lines/routes/*.yaml) plus the shared files (lines/materials.yaml,
lines/dry_rooms.yaml, lines/economics.yaml) load into a `Route`. Quantities are
written in the files with their units and stored here as floats in the canonical
unit named in each field's type (see `units.CANONICAL`): hours, kg, m², USD, kW,
kWh, fractions. Every number carries a source (`source:` on it or on an enclosing
mapping) or is marked `illustrative`; `Route.sources` keeps them for reports.

Loading runs in two phases: the schema (pydantic) checks shape, units and ranges;
`check_route` then checks what needs the whole picture (the line graph, material
and design references). Both report file, line, field, what was found and what was
expected, through `SpecError`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from . import units
from .errors import Problem, SpecError, closest
from .yamlio import line_of, load_yaml

# ----------------------------------------------------------------------------- types


def _q(kind: str):
    def parse(v: Any) -> float:
        return units.parse_quantity(v, kind)

    return Annotated[float, BeforeValidator(parse)]


Hours = _q("time")
Kg = _q("mass")
M2 = _q("area")
Metres = _q("length")
USD = _q("money")
KW = _q("power")
KWh = _q("energy")
Ah = _q("charge")
Volt = _q("voltage")
Density = _q("density")  # kg/m³
SpecificCapacity = _q("specific_capacity")  # mAh/g
MolarMass = _q("molar_mass")  # g/mol
Fraction = _q("fraction")
DegC = _q("temperature")
PerHour = _q("frequency")
PriceTime = _q("price_time")  # USD/h
PriceEnergy = _q("price_energy")  # USD/kWh
MoneyPerAreaYear = _q("money_per_area_year")
PowerPerArea = _q("power_per_area")  # kW/m²
PriceArea = _q("price_area")  # USD/m²
Mol = _q("amount")
GWhPerYear = _q("energy_per_year")
GasPerMass = _q("gas_per_mass")  # cm³/g
Years = Annotated[float, BeforeValidator(lambda v: units.parse_quantity(v, "years"))]


def _positive(v: float, what: str = "value") -> float:
    if not v > 0:
        raise ValueError(f"must be positive, found {v:g}")
    return v


def _yield(v: float) -> float:
    if not (0.0 < v <= 1.0):
        raise ValueError(f"a yield must lie in (0, 1] (0-100 %), found {v:g} ({v * 100:g} %)")
    return v


YieldFraction = Annotated[Fraction, BeforeValidator(lambda v: v)]


class Strict(BaseModel):
    """Base: unknown keys are errors (a typo must not be silently ignored)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


# ----------------------------------------------------------------------------- shared data


class Material(Strict):
    """A purchased or made material. `price` may be per kg, per m² or per litre."""

    price: str | None = None
    density: Density | None = None
    specific_capacity: SpecificCapacity | None = None
    molar_mass: MolarMass | None = None
    recipe: dict[str, Mol] | None = None  # mol of each raw material per mol of product
    moisture_sensitive: bool = False
    scrap_credit: Fraction = 0.0  # fraction of price recovered for scrapped material
    description: str | None = None

    @field_validator("price")
    @classmethod
    def _price_readable(cls, v):
        if v is not None:
            _parse_price(v)
        return v

    @field_validator("scrap_credit")
    @classmethod
    def _credit(cls, v):
        if not 0 <= v <= 1:
            raise ValueError(f"must lie in [0, 1], found {v:g}")
        return v

    @property
    def price_per_unit(self) -> tuple[float, str] | None:
        """(USD per basis unit, basis) with basis in kg, m2, m3; None if unpriced."""
        return _parse_price(self.price) if self.price is not None else None


def _parse_price(text: str) -> tuple[float, str]:
    for kind, basis in (("price_mass", "kg"), ("price_area", "m2"), ("price_volume", "m3")):
        try:
            return units.parse_quantity(text, kind), basis
        except units.UnitParseError as exc:
            if "no exchange rate" in str(exc) or "cannot read" in str(exc):
                raise ValueError(str(exc)) from None
    raise ValueError(f"price {text!r} is not per kg, per m^2 or per volume (e.g. \"26 USD/kg\")")


class Excursions(Strict):
    rate: PerHour  # excursions per hour (write "6 1/yr")
    duration: Hours  # mean duration
    peak: DegC  # dew point reached during an excursion


class DryRoomClass(Strict):
    name: str
    dew_point: DegC
    building_extra_cost: PriceArea  # over the plain building cost per m²
    equipment_cost: PriceArea  # dehumidification / HVAC capex per m²
    power: PowerPerArea  # continuous electric load per m² of dry room
    excursions: Excursions


class DryRooms(Strict):
    classes: list[DryRoomClass]
    sulfide_exposure_threshold: DegC  # dew point above which sulfide exposure is counted
    h2s_reference_dew_point: DegC  # dew point at which h2s_release of a step is measured


class BatPaC5(Strict):
    equipment_life: Years
    building_life: Years
    variable_overhead_of_labour: Fraction
    variable_overhead_of_depreciation: Fraction
    gsa_of_labour_and_overhead: Fraction
    gsa_of_depreciation: Fraction
    rnd_of_depreciation: Fraction
    launch_of_materials: Fraction
    launch_of_labour_and_overhead: Fraction
    working_capital_of_variable_cost: Fraction
    profit_of_investment: Fraction
    warranty_of_price: Fraction
    include_profit_and_warranty: bool = False


class Annuity(Strict):
    discount_rate: Fraction
    equipment_life: Years
    building_life: Years
    fixed_om_of_capex: Fraction  # per year, of equipment + building capex
    overhead_of_labour: Fraction


class Economics(Strict):
    """Plant calendar, prices of labour and energy, costing conventions."""

    currency_year: int
    currency_rates: dict[str, USD]  # USD per unit of each currency (CNY: "0.139 USD")
    operating_days_per_year: float
    shifts_per_day: int
    shift_length: Hours
    labour_rate: PriceTime
    electricity_price: PriceEnergy
    building_cost: PriceArea
    batpac5: BatPaC5
    annuity: Annuity

    @property
    def operating_hours_per_year(self) -> float:
        return self.operating_days_per_year * self.shifts_per_day * self.shift_length


# ----------------------------------------------------------------------------- cell design


class Layer(Strict):
    """A coated composite layer (cathode, composite anode, electrolyte separator)."""

    components: dict[str, Fraction]  # mass fractions of the dry layer, sum to 1
    active: str | None = None  # the component that stores charge
    thickness: Metres | None = None  # per coated side; anode thickness may follow from N/P
    porosity: Fraction = 0.0
    collector: str | None = None  # foil material name
    collector_thickness: Metres | None = None
    first_cycle_efficiency: Fraction = 1.0

    @field_validator("components")
    @classmethod
    def _sum_to_one(cls, v):
        total = sum(v.values())
        if abs(total - 1.0) > 1e-3:
            raise ValueError(f"mass fractions must add up to 100 %, found {total * 100:g} %")
        return v


class MetalAnode(Strict):
    material: str
    thickness: Metres  # per side
    collector: str | None = None
    collector_thickness: Metres | None = None


class LiquidFill(Strict):
    material: str
    fraction_of_pores: Fraction  # liquid volume / pore volume of cathode, anode and separator


class CellDesign(Strict):
    format: Literal["pouch"] = "pouch"
    capacity: Ah
    nominal_voltage: Volt
    electrode_width: Metres
    electrode_height: Metres
    cathode: Layer
    anode: Layer | None = None
    metal_anode: MetalAnode | None = None
    np_ratio: float = 1.1
    anode_area_ratio: float = 1.0  # anode (and separator) area / cathode area: overhang
    separator: Layer
    liquid: LiquidFill | None = None
    packaging: dict[str, Kg]  # fixed masses per cell (pouch film, tabs ...)
    packaging_volume_overhead: Fraction = 0.1  # extra volume over the electrode stack
    stack_pressure_hardware: dict[str, Kg] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_anode(self):
        if (self.anode is None) == (self.metal_anode is None):
            raise ValueError("give exactly one of `anode` (composite) or `metal_anode`")
        if self.cathode.active is None:
            raise ValueError("cathode.active: name the active material")
        if self.cathode.thickness is None:
            raise ValueError("cathode.thickness is required")
        if self.separator.thickness is None:
            raise ValueError("separator.thickness is required")
        return self


# ----------------------------------------------------------------------------- the line

Environment = Literal["ambient", "dry_room", "argon"]
Distribution = Literal["deterministic", "exponential", "gamma", "lognormal"]
StepUnit = Literal["kg", "m2", "sheet", "cell"]


class Maintenance(Strict):
    every: Hours  # operating hours between planned stops
    duration: Hours


class EquipmentOption(Strict):
    name: str
    capex: USD  # per machine, installed
    rate: str | None = None  # continuous machines: e.g. "42 m^2/min"
    batch: str | None = None  # batch machines: e.g. "200 cell" with cycle_time
    cycle_time: Hours | None = None
    distribution: Distribution = "deterministic"
    cv: Fraction = 0.0
    power: KW = 0.0
    footprint: M2
    operators_per_shift: float = 0.0  # per machine
    mtbf: Hours | None = None  # mean operating time between failures
    mttr: Hours | None = None
    maintenance: Maintenance | None = None
    min_count: int = 0
    max_count: int = 1000

    @model_validator(mode="after")
    def _rate_or_batch(self):
        if (self.rate is None) == (self.batch is None):
            raise ValueError("give exactly one of `rate` or `batch` (+ `cycle_time`)")
        if self.batch is not None and self.cycle_time is None:
            raise ValueError("a batch machine needs `cycle_time`")
        if self.rate is not None:
            r, _ = units.parse_rate(self.rate)
            if r <= 0:
                raise ValueError(f"rate must be positive, found {self.rate!r}")
        if self.batch is not None:
            b, _ = units.parse_amount(self.batch)
            if b <= 0:
                raise ValueError(f"batch must be positive, found {self.batch!r}")
        if self.cycle_time is not None and self.cycle_time <= 0:
            raise ValueError(f"cycle_time must be positive, found {self.cycle_time:g} h")
        if (self.mtbf is None) != (self.mttr is None):
            raise ValueError("give both `mtbf` and `mttr`, or neither")
        for name in ("mtbf", "mttr"):
            v = getattr(self, name)
            if v is not None and v <= 0:
                raise ValueError(f"{name} must be positive, found {v:g} h")
        if self.capex < 0 or self.footprint < 0 or self.power < 0:
            raise ValueError("capex, footprint and power must not be negative")
        if self.cv < 0:
            raise ValueError("cv must not be negative")
        if self.distribution == "deterministic" and self.cv > 0:
            raise ValueError("a deterministic distribution has cv 0; choose gamma or lognormal")
        if not 0 <= self.min_count <= self.max_count:
            raise ValueError(
                f"need 0 <= min_count <= max_count, found {self.min_count} and {self.max_count}"
            )
        return self

    @property
    def is_batch(self) -> bool:
        return self.batch is not None

    @property
    def unit(self) -> str:
        return (units.parse_rate(self.rate) if self.rate else units.parse_amount(self.batch))[1]

    @property
    def batch_size(self) -> float:
        """Units per batch (1 unit-equivalent for continuous machines is not used)."""
        return units.parse_amount(self.batch)[0] if self.batch else 0.0

    @property
    def rate_per_hour(self) -> float:
        """Nominal output per hour of operating time (batch / cycle for batch machines)."""
        if self.rate is not None:
            return units.parse_rate(self.rate)[0]
        return self.batch_size / self.cycle_time

    @property
    def availability(self) -> float:
        """Nominal fraction of time up: MTBF/(MTBF+MTTR) and planned maintenance."""
        a = 1.0
        if self.mtbf:
            a *= self.mtbf / (self.mtbf + self.mttr)
        if self.maintenance:
            a *= self.maintenance.every / (self.maintenance.every + self.maintenance.duration)
        return a


class Level(Strict):
    name: str
    rate_factor: float = 1.0
    yield_: Fraction | None = Field(default=None, alias="yield")
    energy_factor: float = 1.0

    @model_validator(mode="after")
    def _check(self):
        if self.yield_ is None:
            raise ValueError(f"setting level {self.name!r} has no `yield`")
        _yield(self.yield_)
        if self.rate_factor <= 0:
            raise ValueError(f"rate_factor must be positive, found {self.rate_factor:g}")
        if self.energy_factor < 0:
            raise ValueError("energy_factor must not be negative")
        return self


class Excursion(Strict):
    effect: Literal["loss", "stop"]
    extra_loss: Fraction = 0.0  # yield lost by lots processed during an excursion


class Moisture(Strict):
    yield_factor: dict[str, Fraction]  # per dry-room class; classes absent are not allowed
    excursion: Excursion
    h2s_release: GasPerMass = 0.0  # cm³ H2S per g of material exposed at the reference dew point


class InputEdge(Strict):
    step: str
    per_cell: str | None = None  # design reference, needed when the upstream feeds several steps


class MaterialUse(Strict):
    material: str
    amount: str  # a design reference ("cathode.NMC811") or a quantity per unit ("0.12 kg/m^2")
    recovered: Fraction = 0.0  # fraction recovered and reused (solvent recovery)


class Step(Strict):
    name: str
    description: str | None = None
    unit: StepUnit
    per_cell: str  # design reference: units of this step's good output per good cell
    makes: str | None = None  # a material made on the line from its recipe
    inputs: list[InputEdge] = Field(default_factory=list)
    materials: list[MaterialUse] = Field(default_factory=list)
    environment: Environment = "ambient"
    yield_: Fraction | None = Field(default=None, alias="yield")
    levels: list[Level] = Field(default_factory=list)
    options: list[EquipmentOption]
    moisture: Moisture | None = None
    lot_size: str  # an amount of the step's unit, e.g. "500 m^2"
    buffer: int = 4  # lots that fit in the buffer after this step

    @field_validator("inputs", mode="before")
    @classmethod
    def _edges(cls, v):
        if isinstance(v, list):
            return [{"step": e} if isinstance(e, str) else e for e in v]
        return v

    @model_validator(mode="after")
    def _check(self):
        if not self.options:
            raise ValueError("a step needs at least one equipment option")
        if self.yield_ is None and not self.levels:
            raise ValueError("give `yield` or at least one setting level")
        if self.yield_ is not None:
            _yield(self.yield_)
        amount, unit = units.parse_amount(self.lot_size)
        if unit != self.unit:
            raise ValueError(f"lot_size {self.lot_size!r} is not in the step's unit {self.unit}")
        if amount <= 0:
            raise ValueError("lot_size must be positive")
        if self.buffer < 1:
            raise ValueError("buffer must hold at least one lot")
        names = [o.name for o in self.options]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate option names {names}")
        for opt in self.options:
            if opt.unit != self.unit:
                raise ValueError(
                    f"option {opt.name!r} works in {opt.unit}, but the step's unit is {self.unit}"
                )
        if self.moisture is not None and self.environment != "dry_room":
            raise ValueError("`moisture` applies only to steps in the dry_room environment")
        return self

    @property
    def lot(self) -> float:
        return units.parse_amount(self.lot_size)[0]

    @cached_property
    def setting_levels(self) -> list[Level]:
        """The step's levels; a step without levels has one, 'nominal', at its yield."""
        if self.levels:
            return list(self.levels)
        return [Level(name="nominal", rate_factor=1.0, **{"yield": self.yield_})]

    def option(self, name: str) -> EquipmentOption:
        for o in self.options:
            if o.name == name:
                return o
        raise KeyError(name)

    def level(self, name: str) -> Level:
        for lv in self.setting_levels:
            if lv.name == name:
                return lv
        raise KeyError(name)


class Plant(Strict):
    floor_area: M2  # site floor area available for the line (all environments)
    dry_room_area: M2  # largest dry room the site can hold
    default_capacity: GWhPerYear


class Route(Strict):
    name: str
    form: Literal["liquid", "semi-solid", "all-solid", "line"]
    electrolyte: str = ""  # required unless form: line (checked below)
    description: str | None = None
    materials: dict[str, Material] = Field(default_factory=dict)  # overrides of shared materials
    dry_room_classes: list[str] | None = None  # allowed classes; default all
    cell: CellDesign | None = None  # a bare line file (form: line) has none
    plant: Plant | None = None  # required unless form: line (checked below)
    line: list[Step]

    @model_validator(mode="after")
    def _route_needs_cell_and_plant(self):
        # a bare line (form: line) is only a production line to simulate; a route
        # to cost and compare also needs its electrolyte and plant limits
        if self.form != "line":
            missing = [k for k in ("electrolyte", "plant") if not getattr(self, k)]
            if missing:
                raise ValueError(f"required field(s) {', '.join(map(repr, missing))} missing "
                                 f"(only a bare line file, `form: line`, may omit them)")
        return self


    _file: str = PrivateAttr(default="")
    _marks: dict = PrivateAttr(default_factory=dict)
    _shared: SharedData | None = PrivateAttr(default=None)
    _sources: dict = PrivateAttr(default_factory=dict)

    @property
    def file(self) -> str:
        return self._file

    @property
    def shared(self) -> SharedData:
        assert self._shared is not None
        return self._shared

    @property
    def economics(self) -> Economics:
        return self.shared.economics

    @property
    def sources(self) -> dict[str, str]:
        """Dotted path of every number in the route file -> its source."""
        return dict(self._sources)

    @cached_property
    def all_materials(self) -> dict[str, Material]:
        merged = dict(self.shared.materials)
        for name, m in self.materials.items():
            base = merged.get(name)
            if base is None:
                merged[name] = m
            else:
                data = base.model_dump(by_alias=True, exclude_unset=True)
                data.update(m.model_dump(by_alias=True, exclude_unset=True))
                merged[name] = Material.model_validate(data)
        return merged

    @cached_property
    def dry_room_options(self) -> list[DryRoomClass]:
        classes = self.shared.dry_rooms.classes
        if self.dry_room_classes is None:
            return list(classes)
        return [c for c in classes if c.name in self.dry_room_classes]

    def step(self, name: str) -> Step:
        for s in self.line:
            if s.name == name:
                return s
        raise KeyError(name)

    @cached_property
    def consumers(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {s.name: [] for s in self.line}
        for s in self.line:
            for e in s.inputs:
                out[e.step].append(s.name)
        return out

    @property
    def final_step(self) -> Step:
        return self.line[-1]

    @cached_property
    def order(self) -> list[str]:
        """Step names in topological order (upstream first)."""
        return _toposort(self)

    def line_of(self, *path) -> int | None:
        return line_of(self._marks, path)

    def design_refs(self) -> dict[str, float]:
        """Per-cell design quantities that `per_cell` and material amounts refer to."""
        from .cell import design_refs

        return design_refs(self)


class SharedData(BaseModel):
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)
    materials: dict[str, Material]
    dry_rooms: DryRooms
    economics: Economics
    files: dict[str, str]  # kind -> path


# ----------------------------------------------------------------------------- loading

DATA_DIR_ENV = "SSBFAB_LINES"


def default_lines_dir() -> Path:
    """The `lines/` folder: $SSBFAB_LINES, else the checkout's lines/ beside src/."""
    import os

    env = os.environ.get(DATA_DIR_ENV)
    if env:
        return Path(env)
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "lines" / "materials.yaml").exists():
            return parent / "lines"
    return Path.cwd() / "lines"


_NUMBER_TEXT = re.compile(r"^\s*[-+]?(\d|\.\d)")
# Keys whose numbers are not physical data (names, flags, counts of lots in a buffer
# still need a source; only these structural ones are exempt).
_NO_SOURCE_NEEDED = {"currency_year", "name"}


def _unwrap_sources(raw: Any, path: tuple, inherited: str | None, file: str, marks,
                     sources: dict, problems: list[Problem]) -> Any:
    """Replace {value, source} wrappers by their value; record every number's source;
    report numbers that have neither a source nor an enclosing one."""
    if isinstance(raw, dict):
        if set(raw) <= {"value", "source", "note"} and "value" in raw:
            src = raw.get("source") or inherited
            _record(raw["value"], path, src, file, marks, sources, problems)
            return raw["value"]
        here = raw.get("source", inherited) if isinstance(raw.get("source"), str) else inherited
        out = {}
        for k, v in raw.items():
            if k in ("source", "note"):
                continue  # kept in the sources table, not in the typed model
            if k == "description":
                out[k] = v
                continue
            out[k] = _unwrap_sources(v, path + (k,), here, file, marks, sources, problems)
        return out
    if isinstance(raw, list):
        return [_unwrap_sources(v, path + (i,), inherited, file, marks, sources, problems)
                for i, v in enumerate(raw)]
    _record(raw, path, inherited, file, marks, sources, problems)
    return raw


def _record(value, path, src, file, marks, sources, problems) -> None:
    is_number = (isinstance(value, (int, float)) and not isinstance(value, bool)) or (
        isinstance(value, str) and _NUMBER_TEXT.match(value)
    )
    if not is_number or (path and path[-1] in _NO_SOURCE_NEEDED):
        return
    dotted = ".".join(map(str, path))
    if not src:
        problems.append(Problem(file, line_of(marks, path), dotted,
                                f"the number {value!r} has no source; add `source:` here or on an "
                                "enclosing mapping (a citation, or the word `illustrative`)"))
    else:
        sources[dotted] = src


def _validation_problems(exc: ValidationError, file: str, marks, root: tuple = ()) -> list[Problem]:
    problems = []
    for err in exc.errors():
        loc = root + tuple(x for x in err["loc"] if not (isinstance(x, str) and "[" in x))
        loc = tuple("yield" if x == "yield_" else x for x in loc)
        msg = err["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
        if err["type"] == "extra_forbidden":
            parent_fields = _fields_at(exc, err)
            msg = f"unknown key {loc[-1]!r}{closest(str(loc[-1]), parent_fields)}"
            if parent_fields:
                msg += f"; expected one of: {', '.join(sorted(parent_fields))}"
        elif err["type"] == "missing":
            msg = f"required field {loc[-1]!r} is missing"
        elif "input" in err and err["type"] not in ("value_error", "assertion_error"):
            msg = f"{msg}; found {err['input']!r}"
        problems.append(Problem(file, line_of(marks, loc), ".".join(map(str, loc)), msg))
    return problems


_MODEL_FIELDS_CACHE: dict[str, set[str]] = {}


def _fields_at(exc: ValidationError, err) -> set[str]:
    """Valid keys of the model in which an unknown key was found."""
    model = {
        "Route": Route, "Step": Step, "EquipmentOption": EquipmentOption, "Level": Level,
        "CellDesign": CellDesign, "Layer": Layer, "Material": Material, "Plant": Plant,
        "Moisture": Moisture, "MetalAnode": MetalAnode, "LiquidFill": LiquidFill,
        "Economics": Economics, "DryRoomClass": DryRoomClass, "MaterialUse": MaterialUse,
        "InputEdge": InputEdge, "Excursion": Excursion, "Maintenance": Maintenance,
    }
    # pydantic does not tell which model; find the model whose fields include the siblings
    loc = err["loc"]
    names: set[str] = set()
    for m in model.values():
        names |= set()
    title = exc.title
    target = model.get(title)
    # walk the loc from the root model to find the nested model
    cur: Any = target
    for part in loc[:-1]:
        if cur is None:
            break
        if isinstance(part, int):
            continue
        f = getattr(cur, "model_fields", {}).get(part) or next(
            (fi for fi in getattr(cur, "model_fields", {}).values() if fi.alias == part), None)
        if f is None:
            cur = None
            break
        cur = _inner_model(f.annotation)
    if cur is None or not hasattr(cur, "model_fields"):
        return names
    return {fi.alias or n for n, fi in cur.model_fields.items()}


def _inner_model(annotation):
    import typing

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        m = _inner_model(arg)
        if m is not None:
            return m
    return None


def _read(path: Path, problems_ok: bool = False, overrides=None, kind: str = "route",
          shared=None):
    data, marks = load_yaml(path)
    if not isinstance(data, dict):
        raise SpecError(Problem(str(path), 1, "", f"expected a mapping at the top level, found {type(data).__name__}"))
    if overrides:
        # a study's overrides edit the raw data, so they pass the same checks as typed values
        data = overrides.apply(kind, data, str(path), shared)
    return data, marks


def _as_overrides(x):
    """None, or a study's `Overrides` (a plain {dotted.path: value} mapping is converted)."""
    if x is None:
        return None
    from .study.overrides import as_overrides

    return as_overrides(x)


def _validate(model, raw, file, marks, root=()):
    problems: list[Problem] = []
    sources: dict[str, str] = {}
    clean = _unwrap_sources(raw, root, None, file, marks, sources, problems)
    try:
        obj = model.model_validate(clean)
    except ValidationError as exc:
        problems.extend(_validation_problems(exc, file, marks, root))
        obj = None
    if problems:
        raise SpecError(problems)
    return obj, sources


def load_shared(lines_dir: str | Path | None = None, overrides=None) -> SharedData:
    """Load lines/materials.yaml, dry_rooms.yaml and economics.yaml.

    `overrides` ({"materials.Li2S.price": "1e6 CNY/t", ...}, see ssbfab.study.overrides)
    replace values of these files before validation."""
    d = Path(lines_dir) if lines_dir else default_lines_dir()
    files = {k: d / f"{k}.yaml" for k in ("economics", "materials", "dry_rooms")}
    return _load_shared_files(files, _as_overrides(overrides))


def _load_shared_files(files: dict[str, Path], overrides=None) -> SharedData:
    problems: list[Problem] = []
    econ_raw, econ_marks = _read(files["economics"], overrides=overrides, kind="economics")
    economics = _validate_or_collect(Economics, econ_raw, str(files["economics"]), econ_marks, problems)
    if economics is not None:
        # currencies must exist before any other file's prices can be read
        units.configure_currencies(economics.currency_rates)
    mat_raw, mat_marks = _read(files["materials"], overrides=overrides, kind="materials")
    materials = None
    if "materials" not in mat_raw or not isinstance(mat_raw["materials"], dict):
        problems.append(Problem(str(files["materials"]), 1, "materials", "expected a mapping `materials:`"))
    else:
        extra = set(mat_raw) - {"materials", "source", "description"}
        for k in extra:
            problems.append(Problem(str(files["materials"]), line_of(mat_marks, (k,)), k,
                                    "unknown key; expected `materials`"))
        materials = {}
        for name, m in mat_raw["materials"].items():
            obj = _validate_or_collect(Material, m, str(files["materials"]), mat_marks, problems,
                                       root=("materials", name), inherit=mat_raw.get("source"))
            if obj is not None:
                materials[name] = obj
    dry_raw, dry_marks = _read(files["dry_rooms"], overrides=overrides, kind="dry_rooms")
    dry = _validate_or_collect(DryRooms, dry_raw, str(files["dry_rooms"]), dry_marks, problems)
    if problems:
        raise SpecError(problems)
    if materials is not None:
        _check_recipes(materials, str(files["materials"]), mat_marks)
    return SharedData(materials=materials, dry_rooms=dry, economics=economics,
                      files={k: str(v) for k, v in files.items()})


def _validate_or_collect(model, raw, file, marks, problems, root=(), inherit=None):
    sources: dict[str, str] = {}
    local: list[Problem] = []
    clean = _unwrap_sources(raw, root, inherit, file, marks, sources, local)
    problems.extend(local)
    try:
        return model.model_validate(clean)
    except ValidationError as exc:
        problems.extend(_validation_problems(exc, file, marks, root))
        return None


def _check_recipes(materials: dict[str, Material], file: str, marks) -> None:
    problems = []
    for name, m in materials.items():
        for raw in (m.recipe or {}):
            if raw not in materials:
                problems.append(Problem(file, line_of(marks, ("materials", name, "recipe", raw)),
                                        f"materials.{name}.recipe.{raw}",
                                        f"unknown material {raw!r}{closest(raw, materials)}"))
            elif materials[raw].molar_mass is None:
                problems.append(Problem(file, line_of(marks, ("materials", raw)),
                                        f"materials.{raw}.molar_mass",
                                        f"{raw} is used in the recipe of {name} and needs a molar_mass"))
    if problems:
        raise SpecError(problems)


def load_route(path: str | Path, shared: SharedData | None = None,
               lines_dir: str | Path | None = None, overrides=None) -> Route:
    """Load and fully check one route (or bare line) file.

    `overrides` (dotted path -> value) replace values before validation; paths into
    the shared files apply only when this call loads them (`shared` is None)."""
    overrides = _as_overrides(overrides)
    shared = shared or load_shared(lines_dir, overrides)
    path = Path(path)
    raw, marks = _read(path, overrides=overrides, kind="route", shared=shared)
    file = str(path)
    problems: list[Problem] = []
    sources: dict[str, str] = {}
    clean = _unwrap_sources(raw, (), None, file, marks, sources, problems)
    route = None
    try:
        route = Route.model_validate(clean)
    except ValidationError as exc:
        problems.extend(_validation_problems(exc, file, marks))
    if problems:
        raise SpecError(problems)
    route._file = file
    route._marks = marks
    route._shared = shared
    route._sources = sources
    check_route(route)
    return route


def route_files(lines_dir: str | Path | None = None) -> list[Path]:
    d = Path(lines_dir) if lines_dir else default_lines_dir()
    return sorted((d / "routes").glob("*.yaml"))


def resolve_route(name_or_path: str, lines_dir: str | Path | None = None,
                  shared: SharedData | None = None, overrides=None) -> Route:
    """A route by its name (a file in lines/routes/) or by a path to a route file."""
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") or p.exists():
        return load_route(p, shared=shared, lines_dir=lines_dir, overrides=overrides)
    files = {f.stem: f for f in route_files(lines_dir)}
    if name_or_path not in files:
        raise SpecError(Problem(name_or_path, None, "route",
                                f"no route named {name_or_path!r}{closest(name_or_path, files)}; "
                                f"shipped routes: {', '.join(sorted(files))}"))
    return load_route(files[name_or_path], shared=shared, lines_dir=lines_dir,
                      overrides=overrides)


# ----------------------------------------------------------------------------- whole-route checks


def _toposort(route: Route) -> list[str]:
    indeg = {s.name: len(s.inputs) for s in route.line}
    ready = [s.name for s in route.line if indeg[s.name] == 0]
    out = []
    while ready:
        n = ready.pop(0)
        out.append(n)
        for c in route.consumers[n]:
            indeg[c] -= 1
            if indeg[c] == 0:
                ready.append(c)
    return out


def check_route(route: Route) -> None:
    """Checks that need the whole route: names, graph, references, dry-room classes."""
    file = route.file
    problems: list[Problem] = []

    def add(path: Iterable, msg: str):
        path = tuple(path)
        problems.append(Problem(file, route.line_of(*path), ".".join(map(str, path)), msg))

    names = [s.name for s in route.line]
    seen: dict[str, int] = {}
    for i, n in enumerate(names):
        if n in seen:
            add(("line", i, "name"), f"duplicate step name {n!r} (first at line[{seen[n]}])")
        seen.setdefault(n, i)
    mats = route.all_materials
    class_names = [c.name for c in route.shared.dry_rooms.classes]
    for c in route.dry_room_classes or []:
        if c not in class_names:
            add(("dry_room_classes",), f"unknown dry-room class {c!r}{closest(c, class_names)}; "
                                       f"known: {', '.join(class_names)}")
    for i, s in enumerate(route.line):
        for j, e in enumerate(s.inputs):
            if e.step not in seen:
                add(("line", i, "inputs", j), f"unknown upstream step {e.step!r}{closest(e.step, seen)}")
            elif e.step == s.name:
                add(("line", i, "inputs", j), "a step cannot feed itself")
        for j, mu in enumerate(s.materials):
            if mu.material not in mats:
                add(("line", i, "materials", j, "material"),
                    f"unknown material {mu.material!r}{closest(mu.material, mats)}")
        if s.makes is not None:
            if s.makes not in mats:
                add(("line", i, "makes"), f"unknown material {s.makes!r}{closest(s.makes, mats)}")
            elif not mats[s.makes].recipe:
                add(("line", i, "makes"), f"material {s.makes!r} has no recipe to make it from")
            if s.unit != "kg":
                add(("line", i, "unit"), "a step that makes a material works in kg")
        if s.moisture is not None:
            for c in s.moisture.yield_factor:
                if c not in class_names:
                    add(("line", i, "moisture", "yield_factor", c),
                        f"unknown dry-room class {c!r}{closest(c, class_names)}")
    if problems:
        raise SpecError(problems)
    # graph: cycles, dead ends, one final step
    order = _toposort(route)
    if len(order) != len(route.line):
        stuck = [n for n in names if n not in order]
        cycle = _find_cycle(route, stuck)
        add(("line", names.index(stuck[0]), "inputs"),
            f"the line graph has a cycle: {' -> '.join(cycle)}")
        raise SpecError(problems)
    sinks = [n for n in names if not route.consumers[n]]
    final = names[-1]
    for n in sinks:
        if n != final:
            add(("line", names.index(n), "name"),
                f"nothing uses the output of step {n!r}; every step but the last "
                f"({final!r}) must feed another step")
    if route.final_step.unit != "cell":
        add(("line", len(names) - 1, "unit"), "the last step (end-of-line test) must work in cells")
    if route.cell is not None:
        _check_design_refs(route, add)
    else:
        _check_bare_amounts(route, add)
    if route.dry_room_classes is not None and not route.dry_room_options:
        add(("dry_room_classes",), "no dry-room class is allowed")
    if problems:
        raise SpecError(problems)


def _find_cycle(route: Route, stuck: list[str]) -> list[str]:
    inputs = {s.name: [e.step for e in s.inputs] for s in route.line}
    start = stuck[0]
    path = [start]
    seen = {start}
    cur = start
    while True:
        nxt = next(u for u in inputs[cur] if u in stuck)
        if nxt in seen:
            return path[path.index(nxt):] + [nxt]
        path.append(nxt)
        seen.add(nxt)
        cur = nxt


def _check_design_refs(route: Route, add) -> None:
    from .cell import CellDesignError, design_refs

    try:
        refs = design_refs(route)
    except CellDesignError as exc:
        add(("cell",) + tuple(exc.path), str(exc))
        return
    for i, s in enumerate(route.line):
        if not _is_quantity(s.per_cell) and s.per_cell not in refs:
            add(("line", i, "per_cell"), f"unknown design reference {s.per_cell!r}"
                f"{closest(s.per_cell, refs)}")
        for j, e in enumerate(s.inputs):
            if e.per_cell is not None and e.per_cell not in refs:
                add(("line", i, "inputs", j, "per_cell"),
                    f"unknown design reference {e.per_cell!r}{closest(e.per_cell, refs)}")
        for j, mu in enumerate(s.materials):
            if not _is_quantity(mu.amount) and mu.amount not in refs:
                add(("line", i, "materials", j, "amount"),
                    f"unknown design reference {mu.amount!r}{closest(mu.amount, refs)}")


def _check_bare_amounts(route: Route, add) -> None:
    """A bare line (no `cell:`) has no design references: every per_cell is a plain
    amount ("1 cell", "2 sheet", "0.05 kg") of the unit it counts."""
    units_of = {s.name: s.unit for s in route.line}

    def check(path: tuple, text: str, unit: str, what: str) -> None:
        if not _is_quantity(text):
            add(path, f"{text!r} is a design reference, but this line file has no `cell:`; "
                      f"expected an amount of {what}'s unit {unit} (e.g. \"1 {unit}\")")
            return
        try:
            amount, found = units.parse_amount(text)
        except units.UnitParseError as exc:
            add(path, str(exc))
            return
        if found != unit:
            add(path, f"{text!r} is in {found}; expected an amount of {what}'s unit {unit}")
        elif amount <= 0:
            add(path, f"expected a positive amount, found {text!r}")

    for i, s in enumerate(route.line):
        check(("line", i, "per_cell"), s.per_cell, s.unit, "the step")
        for j, e in enumerate(s.inputs):
            if e.per_cell is not None and e.step in units_of:
                check(("line", i, "inputs", j, "per_cell"), e.per_cell, units_of[e.step],
                      f"upstream step {e.step!r}")
        for j, mu in enumerate(s.materials):
            if not _is_quantity(mu.amount):
                add(("line", i, "materials", j, "amount"),
                    f"{mu.amount!r} is a design reference, but this line file has no `cell:`; "
                    f"expected a quantity per {s.unit} (e.g. \"0.1 kg/{s.unit}\")")


def _is_quantity(text: str) -> bool:
    return bool(_NUMBER_TEXT.match(text))


def load_any(path: str | Path, lines_dir: str | Path | None = None) -> str:
    """Validate any ssbfab data file; return what kind it was. Used by `ssbfab validate`."""
    path = Path(path)
    raw, marks = _read(path)
    d = Path(lines_dir) if lines_dir else default_lines_dir()
    if "line" in raw:
        load_route(path, lines_dir=d)
        return "route"
    files = {k: d / f"{k}.yaml" for k in ("economics", "materials", "dry_rooms")}
    if "materials" in raw:
        files["materials"] = path
        _load_shared_files(files)
        return "materials"
    if "classes" in raw:
        files["dry_rooms"] = path
        _load_shared_files(files)
        return "dry_rooms"
    if "currency_rates" in raw:
        files["economics"] = path
        _load_shared_files(files)
        return "economics"
    raise SpecError(Problem(str(path), 1, "", "not an ssbfab file: expected a route (with `line:`), "
                            "materials (`materials:`), dry rooms (`classes:`) or economics "
                            "(`currency_rates:`)"))
