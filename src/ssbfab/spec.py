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

import difflib
import functools
import re
import types
import typing
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


class QuantityKind(str):
    """Marks a quantity field's kind in its type, for "expected ..." in error messages."""


def _q(kind: str):
    def parse(v: Any) -> float:
        return units.parse_quantity(v, kind)

    return Annotated[float, BeforeValidator(parse), QuantityKind(kind)]


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
Years = Annotated[float, BeforeValidator(lambda v: units.parse_quantity(v, "years")),
                  QuantityKind("years")]


class FieldProblem(ValueError):
    """Raised by a model-level check to blame one field of the model (its line, its
    name), not the whole mapping: `_validation_problems` appends `field` to the path."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def _yield(v: float) -> float:
    if not (0.0 < v <= 1.0):
        raise ValueError(f"a yield must lie in (0, 1] (0-100 %), found {v:g} ({v * 100:g} %)")
    return v




def _range(*fields: str, low: float = 0.0, strict: bool = True, high: float | None = None):
    """A field validator: each value (or each value of a mapping) must be > low
    (>= low if not strict) and <= high. Zero or negative sizes, rates and yields have
    no meaning and would divide by zero downstream, so they stop at the loader."""
    def check(cls, v):
        for x in (v.values() if isinstance(v, dict) else [v]):
            if x is None or isinstance(x, str):
                continue
            if (x <= low if strict else x < low) or (high is not None and x > high):
                if high == 1.0:
                    want = f"{'(' if strict else '['}{low * 100:g}, {high * 100:g} %]"
                    found = f"{x * 100:g} %"
                else:
                    want = f"{'> ' if strict else '>= '}{low:g}" + (
                        f" and <= {high:g}" if high is not None else "")
                    found = f"{x:g}"
                raise ValueError(f"must be {want}, found {found}")
        return v

    return field_validator(*fields)(check)


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

    _pos = _range("density", "specific_capacity", "molar_mass", "recipe")

    @field_validator("price")
    @classmethod
    def _price_readable(cls, v):
        if v is not None and _parse_price(v)[0] < 0:
            raise ValueError(f"a price must not be negative, found {v!r}")
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

    _nonneg = _range("rate", "duration", strict=False)


class DryRoomClass(Strict):
    name: str
    dew_point: DegC
    building_extra_cost: PriceArea  # over the plain building cost per m²
    equipment_cost: PriceArea  # dehumidification / HVAC capex per m²
    power: PowerPerArea  # continuous electric load per m² of dry room
    excursions: Excursions

    _nonneg = _range("building_extra_cost", "equipment_cost", "power", strict=False)


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

    _pos = _range("equipment_life", "building_life")


class Annuity(Strict):
    discount_rate: Fraction
    equipment_life: Years
    building_life: Years
    fixed_om_of_capex: Fraction  # per year, of equipment + building capex
    overhead_of_labour: Fraction

    _pos = _range("equipment_life", "building_life")
    _nonneg = _range("discount_rate", "fixed_om_of_capex", "overhead_of_labour", strict=False)


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

    _pos = _range("currency_rates", "shift_length")
    _days = _range("operating_days_per_year", high=366)
    _shifts = _range("shifts_per_day", high=4)
    _nonneg = _range("labour_rate", "electricity_price", "building_cost", strict=False)

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

    _pos = _range("thickness", "collector_thickness")

    @field_validator("components")
    @classmethod
    def _sum_to_one(cls, v):
        for name, w in v.items():
            if not 0 <= w <= 1:
                raise ValueError(f"mass fraction of {name!r} must lie in 0-100 %, found {w * 100:g} %")
        total = sum(v.values())
        if abs(total - 1.0) > 1e-3:
            raise ValueError(f"mass fractions must add up to 100 %, found {total * 100:g} %")
        return v

    @field_validator("porosity")
    @classmethod
    def _porosity(cls, v):
        if not 0 <= v < 1:
            raise ValueError(f"porosity must lie in [0, 100 %), found {v * 100:g} %")
        return v

    @field_validator("first_cycle_efficiency")
    @classmethod
    def _efficiency(cls, v):
        if not 0 < v <= 1:
            raise ValueError(f"must lie in (0, 100 %], found {v * 100:g} %")
        return v


class MetalAnode(Strict):
    material: str
    thickness: Metres  # per side
    collector: str | None = None
    collector_thickness: Metres | None = None

    _pos = _range("thickness", "collector_thickness")


class LiquidFill(Strict):
    material: str
    fraction_of_pores: Fraction  # liquid volume / pore volume of cathode, anode and separator

    _frac = _range("fraction_of_pores", high=1.0)


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

    _pos = _range("capacity", "nominal_voltage", "electrode_width", "electrode_height",
                  "np_ratio", "anode_area_ratio")
    _nonneg = _range("packaging", "packaging_volume_overhead", "stack_pressure_hardware",
                     strict=False)

    @model_validator(mode="after")
    def _one_anode(self):
        if (self.anode is None) == (self.metal_anode is None):
            raise ValueError("give exactly one of `anode` (composite) or `metal_anode`")
        if self.cathode.active is None:
            raise FieldProblem("cathode", "the cathode needs `active`: the name of its active material")
        if self.cathode.thickness is None:
            raise FieldProblem("cathode", "the cathode needs `thickness` (per coated side, e.g. \"80 um\")")
        if self.separator.thickness is None:
            raise FieldProblem("separator", "the separator needs `thickness` (e.g. \"25 um\")")
        return self


# ----------------------------------------------------------------------------- the line

Environment = Literal["ambient", "dry_room", "argon"]
Distribution = Literal["deterministic", "exponential", "gamma", "lognormal"]
StepUnit = Literal["kg", "m2", "sheet", "cell"]


class Maintenance(Strict):
    every: Hours  # operating hours between planned stops
    duration: Hours

    _pos = _range("every")
    _nonneg = _range("duration", strict=False)


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

    @field_validator("rate")
    @classmethod
    def _rate(cls, v):
        if v is not None:
            r, _ = units.parse_rate(v)
            if r <= 0:
                raise ValueError(f"a rate must be positive, found {v!r}")
        return v

    @field_validator("batch")
    @classmethod
    def _batch(cls, v):
        if v is not None:
            b, _ = units.parse_amount(v)
            if b <= 0:
                raise ValueError(f"a batch must be positive, found {v!r}")
        return v

    @field_validator("cycle_time", "mtbf", "mttr")
    @classmethod
    def _positive_time(cls, v):
        if v is not None and v <= 0:
            raise ValueError(f"must be positive, found {v:g} h")
        return v

    @field_validator("capex", "footprint", "power", "cv", "operators_per_shift")
    @classmethod
    def _not_negative(cls, v):
        if v < 0:
            raise ValueError(f"must not be negative, found {v:g}")
        return v

    @model_validator(mode="after")
    def _rate_or_batch(self):
        if (self.rate is None) == (self.batch is None):
            raise FieldProblem("rate" if self.rate is not None else "name",
                               "give exactly one of `rate` (continuous machine, e.g. "
                               "\"30 m^2/min\") or `batch` + `cycle_time` (batch machine)")
        if self.batch is not None and self.cycle_time is None:
            raise FieldProblem("batch", "a batch machine needs `cycle_time` (e.g. \"8 h\")")
        if (self.mtbf is None) != (self.mttr is None):
            raise FieldProblem("mtbf" if self.mtbf is not None else "mttr",
                               "give both `mtbf` and `mttr`, or neither")
        if self.distribution == "deterministic" and self.cv > 0:
            raise FieldProblem("cv", "a deterministic distribution has cv 0; "
                                     "set `distribution: gamma` or `lognormal`")
        if not 0 <= self.min_count <= self.max_count:
            raise FieldProblem(
                "min_count",
                f"need 0 <= min_count <= max_count, found {self.min_count} and {self.max_count}")
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

    @field_validator("yield_")
    @classmethod
    def _yield_range(cls, v):
        return v if v is None else _yield(v)

    @field_validator("rate_factor")
    @classmethod
    def _rate_factor(cls, v):
        if v <= 0:
            raise ValueError(f"rate_factor must be positive, found {v:g}")
        return v

    @field_validator("energy_factor")
    @classmethod
    def _energy_factor(cls, v):
        if v < 0:
            raise ValueError(f"energy_factor must not be negative, found {v:g}")
        return v

    @model_validator(mode="after")
    def _check(self):
        if self.yield_ is None:
            raise FieldProblem("yield", f"setting level {self.name!r} has no `yield` "
                                        "(expected a fraction in (0, 100 %], e.g. \"95 %\")")
        return self


class Excursion(Strict):
    effect: Literal["loss", "stop"]
    extra_loss: Fraction = 0.0  # yield lost by lots processed during an excursion

    _frac = _range("extra_loss", strict=False, high=1.0)


class Moisture(Strict):
    yield_factor: dict[str, Fraction]  # per dry-room class; classes absent are not allowed
    excursion: Excursion
    h2s_release: GasPerMass = 0.0  # cm³ H2S per g of material exposed at the reference dew point

    _yields = _range("yield_factor", high=1.0)  # a yield: (0, 100 %]
    _nonneg = _range("h2s_release", strict=False)


class InputEdge(Strict):
    step: str
    per_cell: str | None = None  # design reference, needed when the upstream feeds several steps


class MaterialUse(Strict):
    material: str
    amount: str  # a design reference ("cathode.NMC811") or a quantity per unit ("0.12 kg/m^2")
    recovered: Fraction = 0.0  # fraction recovered and reused (solvent recovery)

    _frac = _range("recovered", strict=False, high=0.999)


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

    @field_validator("yield_")
    @classmethod
    def _yield_range(cls, v):
        return v if v is None else _yield(v)

    @field_validator("lot_size")
    @classmethod
    def _lot_readable(cls, v):
        if units.parse_amount(v)[0] <= 0:
            raise ValueError(f"lot_size must be positive, found {v!r}")
        return v

    @field_validator("buffer")
    @classmethod
    def _buffer(cls, v):
        if v < 1:
            raise ValueError(f"buffer must hold at least one lot, found {v}")
        return v

    @model_validator(mode="after")
    def _check(self):
        if not self.options:
            raise FieldProblem("options", "a step needs at least one equipment option")
        if self.yield_ is None and not self.levels:
            raise FieldProblem("yield", "give `yield` (e.g. \"98 %\") or at least one "
                                        "setting level under `levels`")
        amount, unit = units.parse_amount(self.lot_size)
        if unit != self.unit:
            raise FieldProblem("lot_size", f"lot_size {self.lot_size!r} is in {unit}; "
                                           f"expected an amount of the step's unit {self.unit}")
        names = [o.name for o in self.options]
        if len(set(names)) != len(names):
            raise FieldProblem("options", f"duplicate option names {names}")
        for i, opt in enumerate(self.options):
            if opt.unit != self.unit:
                raise FieldProblem(
                    f"options.{i}.{'rate' if opt.rate else 'batch'}",
                    f"option {opt.name!r} works in {opt.unit}, but the step's unit is {self.unit}")
            # a lot is processed whole: a batch machine must hold at least one lot
            if opt.is_batch and amount > opt.batch_size * (1 + 1e-9):
                raise FieldProblem(
                    "lot_size", f"lot_size {self.lot_size!r} is larger than the batch "
                                f"{opt.batch!r} of option {opt.name!r}; expected lot <= batch")
        if self.moisture is not None and self.environment != "dry_room":
            raise FieldProblem("moisture", "`moisture` applies only to steps in the dry_room "
                                           f"environment; this step's environment is "
                                           f"{self.environment!r}")
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

    _pos = _range("floor_area", "default_capacity")
    _nonneg = _range("dry_room_area", strict=False)


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
                # fields are already parsed floats: copy them over, do not re-parse
                merged[name] = base.model_copy(
                    update={k: getattr(m, k) for k in m.model_fields_set})
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


def _validation_problems(exc: ValidationError, file: str, marks, root: tuple = (),
                         model: type[BaseModel] | None = None, data: Any = None) -> list[Problem]:
    """Turn pydantic's errors into Problems: the field's dotted path and line, what was
    found and what was expected (valid keys, allowed values, the closest name).

    `model` is the model that was validated (default: found by pydantic's title);
    `data` is the validated mapping, used to name the step an error sits in.
    """
    model = model or _strict_models().get(exc.title)
    problems = []
    errors = exc.errors()
    # a typo gives "unknown key" and "missing" for the same field: keep only the first,
    # which names both ("unknown key 'capx' (did you mean 'capex'?)")
    suggested = set()
    for err in errors:
        if err["type"] == "extra_forbidden" and model is not None:
            loc = tuple(x for x in err["loc"] if not (isinstance(x, str) and "[" in x))
            valid = _keys_of(_annotation_at(model, loc[:-1]))
            match = difflib.get_close_matches(str(loc[-1]), list(valid), n=1, cutoff=0.6)
            if match:
                suggested.add(loc[:-1] + (match[0],))
    for err in errors:
        loc = tuple(x for x in err["loc"] if not (isinstance(x, str) and "[" in x))
        if err["type"] == "missing" and (loc in suggested or tuple(
                "yield" if x == "yield_" else x for x in loc) in suggested):
            continue
        cause = (err.get("ctx") or {}).get("error")
        if isinstance(cause, FieldProblem):
            loc += tuple(int(x) if x.isdigit() else x for x in cause.field.split("."))
        ann = _annotation_at(model, loc) if model is not None else None
        msg = err["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
        key = str(loc[-1]) if loc else ""
        if key == "yield_":
            key = "yield"
        if err["type"] == "extra_forbidden":
            valid = _keys_of(_annotation_at(model, loc[:-1])) if model is not None else set()
            msg = f"unknown key {key!r}{closest(key, valid)}"
            if valid:
                msg += f"; expected one of: {', '.join(sorted(valid))}"
        elif err["type"] == "missing":
            msg = f"required field {key!r} is missing"
            hint = _describe(ann)
            if hint:
                msg += f"; expected {hint}"
        elif err["type"] == "literal_error":
            allowed = [str(a) for a in typing.get_args(_strip(ann))] if ann is not None else []
            found = err.get("input")
            msg = f"found {_short(found)}; expected one of: {', '.join(allowed) or err['msg']}"
            if isinstance(found, str):
                msg += closest(found, allowed)
        elif "input" in err and err["type"] not in ("value_error", "assertion_error"):
            msg = f"{msg}; found {_short(err['input'])}"
        step = _step_name(data, loc)
        if step:
            msg += f" [step {step!r}]"
        full = root + tuple("yield" if x == "yield_" else x for x in loc)
        problems.append(Problem(file, line_of(marks, full), ".".join(map(str, full)), msg))
    return problems


def _short(value: Any, limit: int = 80) -> str:
    """repr of a found value, cut so that a whole mapping does not flood the message."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + " ..."


def _step_name(data: Any, loc: tuple) -> str | None:
    if (isinstance(data, dict) and len(loc) >= 2 and loc[0] == "line"
            and isinstance(loc[1], int) and isinstance(data.get("line"), list)
            and loc[1] < len(data["line"]) and isinstance(data["line"][loc[1]], dict)):
        name = data["line"][loc[1]].get("name")
        return name if isinstance(name, str) else None
    return None


@functools.cache
def _strict_models() -> dict[str, type[BaseModel]]:
    out: dict[str, type[BaseModel]] = {}
    todo = [Strict]
    while todo:
        cls = todo.pop()
        out[cls.__name__] = cls
        todo.extend(cls.__subclasses__())
    return out


def _strip(annotation):
    """The annotation without Optional/Annotated wrappers (None if ambiguous)."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(args) != 1:
                return annotation
            annotation = args[0]
        else:
            return annotation


def _annotation_at(model: type[BaseModel], loc: tuple):
    """The type annotation found by walking `loc` (field names, list indices, dict keys)
    down from `model`; None when the path leaves the schema."""
    ann: Any = model
    for part in loc:
        ann = _strip(ann)
        origin = typing.get_origin(ann)
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            fields = ann.model_fields
            f = fields.get(part) or next(
                (fi for fi in fields.values() if fi.alias == part), None)
            if f is None:
                return None
            ann = Annotated[(f.annotation, *f.metadata)] if f.metadata else f.annotation
        elif origin is list:
            ann = typing.get_args(ann)[0]
        elif origin is dict:
            ann = typing.get_args(ann)[1]
        else:
            return None
    return ann


def _keys_of(annotation) -> set[str]:
    """Valid keys of the model an annotation stands for."""
    ann = _strip(annotation)
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return {fi.alias or n for n, fi in ann.model_fields.items()}
    return set()


def _quantity_kind(annotation) -> str | None:
    for meta in getattr(annotation, "__metadata__", ()):
        if isinstance(meta, QuantityKind):
            return str(meta)
    for arg in typing.get_args(annotation):
        if typing.get_origin(arg) is Annotated or typing.get_origin(arg) in (
                typing.Union, types.UnionType):
            kind = _quantity_kind(arg)
            if kind:
                return kind
    return None


def _describe(annotation) -> str:
    """What a field expects, in words, for 'required field ... is missing'."""
    if annotation is None:
        return ""
    kind = _quantity_kind(annotation)
    if kind:
        return f"a quantity such as \"{units._example(kind)}\""
    ann = _strip(annotation)
    if typing.get_origin(ann) is Literal:
        return "one of: " + ", ".join(map(str, typing.get_args(ann)))
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return "a mapping with keys: " + ", ".join(sorted(_keys_of(ann)))
    if typing.get_origin(ann) is list:
        return "a list"
    if typing.get_origin(ann) is dict:
        return "a mapping"
    return {str: "a text", int: "a whole number", float: "a number", bool: "true or false"}.get(
        ann, "")


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
        try:
            units.configure_currencies(economics.currency_rates)
        except ValueError as exc:
            # pint cannot redefine a unit: one process holds one table of rates
            code = str(exc).split()[1] if str(exc).startswith("currency ") else ""
            problems.append(Problem(
                str(files["economics"]), line_of(econ_marks, ("currency_rates", code)),
                f"currency_rates.{code}" if code else "currency_rates",
                f"{exc}; expected the rate already in use (one table of exchange rates "
                "per run)"))
            raise SpecError(problems) from None
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
        problems.extend(_validation_problems(exc, file, marks, root, model=model, data=clean))
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
        problems.extend(_validation_problems(exc, file, marks, model=Route, data=clean))
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
            add(("line", i, "name"), f"duplicate step name {n!r} (first used by line[{seen[n]}] "
                                     f"at line {route.line_of('line', seen[n], 'name')}); "
                                     "expected unique names")
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
    """Design references exist and have the unit they are used in: a step's per_cell in
    the step's unit, an edge's per_cell in the upstream step's unit, a material amount
    in the material's price basis (kg, m2 or m3), a per-unit quantity in basis/step unit.
    A mismatch would silently mix kg with m² in the flow, so it is an error here."""
    from .cell import CellDesignError, design_refs

    try:
        refs = design_refs(route)
    except CellDesignError as exc:
        add(("cell",) + tuple(exc.path), str(exc))
        return
    units_of = {s.name: s.unit for s in route.line}
    mats = route.all_materials
    made = {s.makes for s in route.line if s.makes}
    for i, s in enumerate(route.line):
        if _is_quantity(s.per_cell):
            try:
                _, unit = units.parse_amount(s.per_cell)
            except units.UnitParseError as exc:
                add(("line", i, "per_cell"), str(exc))
            else:
                if unit != s.unit:
                    add(("line", i, "per_cell"), f"per_cell {s.per_cell!r} is in {unit}; expected "
                                                 f"an amount of the step's unit {s.unit}")
        elif s.per_cell not in refs:
            add(("line", i, "per_cell"), f"unknown design reference {s.per_cell!r}"
                f"{closest(s.per_cell, refs)}")
        elif refs[s.per_cell].unit != s.unit:
            add(("line", i, "per_cell"),
                f"design reference {s.per_cell!r} is in {refs[s.per_cell].unit}, but the step "
                f"works in {s.unit}; expected a reference in {s.unit}"
                f"{_refs_in(refs, s.unit)}")
        for j, e in enumerate(s.inputs):
            if e.per_cell is None:
                continue
            if _is_quantity(e.per_cell):
                try:
                    _, unit = units.parse_amount(e.per_cell)
                except units.UnitParseError as exc:
                    add(("line", i, "inputs", j, "per_cell"), str(exc))
                    continue
                if e.step in units_of and unit != units_of[e.step]:
                    add(("line", i, "inputs", j, "per_cell"),
                        f"per_cell {e.per_cell!r} is in {unit}; expected an amount of upstream "
                        f"step {e.step!r}'s unit {units_of[e.step]}")
            elif e.per_cell not in refs:
                add(("line", i, "inputs", j, "per_cell"),
                    f"unknown design reference {e.per_cell!r}{closest(e.per_cell, refs)}")
            elif e.step in units_of and refs[e.per_cell].unit != units_of[e.step]:
                add(("line", i, "inputs", j, "per_cell"),
                    f"design reference {e.per_cell!r} is in {refs[e.per_cell].unit}, but "
                    f"upstream step {e.step!r} works in {units_of[e.step]}; expected a "
                    f"reference in {units_of[e.step]}{_refs_in(refs, units_of[e.step])}")
        for j, mu in enumerate(s.materials):
            m = mats.get(mu.material)
            basis = m.price_per_unit[1] if m is not None and m.price_per_unit else "kg"
            if _is_quantity(mu.amount):
                problem = _per_unit_problem(mu.amount, basis, s.unit)
                if problem:
                    add(("line", i, "materials", j, "amount"), problem)
            elif mu.amount not in refs:
                add(("line", i, "materials", j, "amount"),
                    f"unknown design reference {mu.amount!r}{closest(mu.amount, refs)}")
            elif refs[mu.amount].unit != basis:
                add(("line", i, "materials", j, "amount"),
                    f"design reference {mu.amount!r} is in {refs[mu.amount].unit}, but "
                    f"{mu.material!r} is priced per {basis}; expected a reference in {basis}"
                    f"{_refs_in(refs, basis)}")
            if m is not None and m.price is None and mu.material not in made:
                add(("line", i, "materials", j, "material"),
                    f"material {mu.material!r} is bought here but has no `price`; add one "
                    "in lines/materials.yaml or under the route's `materials:`")
        if s.makes and s.makes in mats:
            for raw in mats[s.makes].recipe or {}:
                r = mats.get(raw)
                if r is not None and (r.price_per_unit is None or r.price_per_unit[1] != "kg"):
                    add(("line", i, "makes"), f"raw material {raw!r} of {s.makes!r} needs a "
                                              "price per kg (e.g. \"26 USD/kg\")")


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


def _refs_in(refs, unit: str) -> str:
    names = sorted(k for k, r in refs.items() if r.unit == unit)
    shown = ", ".join(names[:8]) + (" ..." if len(names) > 8 else "")
    return f" (such as: {shown})" if names else ""


_BASIS_UNITS = {"kg": "kg", "m2": "m**2", "m3": "m**3"}


def _per_unit_problem(text: str, basis: str, step_unit: str) -> str | None:
    """None if `text` is an amount of `basis` per unit of the step, else the message."""
    target = f"{_BASIS_UNITS[basis]}/({units.STEP_UNITS[step_unit]})"
    try:
        q = units._parse(text.strip())
    except Exception as exc:  # pint raises several types for unreadable text
        return f"cannot read quantity {text!r}: {exc}"
    try:
        q.to(target)
    except Exception:
        return (f"{text!r} is not an amount of {basis} per {step_unit}; expected e.g. "
                f"\"0.05 {basis.replace('2', '^2').replace('3', '^3')}/"
                f"{step_unit.replace('2', '^2')}\" (the material is priced per {basis})")
    return None


def _is_quantity(text: str) -> bool:
    return bool(_NUMBER_TEXT.match(text))


def load_any(path: str | Path, lines_dir: str | Path | None = None) -> str:
    """Validate any ssbfab data file; return what kind it was. Used by `ssbfab validate`."""
    path = Path(path)
    raw, marks = _read(path)
    d = Path(lines_dir) if lines_dir else default_lines_dir()
    if {"line", "cell", "plant", "form"} & set(raw):
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
