"""The schema of ssbfab's data: the typed description of a route that every other part
reads (through the compiled line graph, `ssbfab.graph`).

A route file (lines/routes/*.yaml) plus the shared files (lines/materials.yaml,
lines/dry_rooms.yaml, lines/economics.yaml) load into a `Route` (see `loader`).
Quantities are written in the files with their units and stored here as floats in the
canonical unit named in each field's type (see `units.CANONICAL`): hours, kg, m², USD,
kW, kWh, fractions. Every number carries a source (`source:` on it or on an enclosing
mapping) or is marked `illustrative`; `Route.sources` keeps them for reports.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from functools import cached_property
from typing import Annotated, Any, Literal, TypeAlias

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ..errors import shorten
from . import units
from .sources import _NUMBER_TEXT
from .yamlio import line_of

# ----------------------------------------------------------------------------- types


class QuantityKind(str):
    """Marks a quantity field's kind in its type, for "expected ..." in error messages."""


RATES = "currency_rates"  # key of the validation context: USD per unit of each currency
RATES_BY_YEAR = "currency_rates_by_year"  # key of the validation context: year -> rates


def rates_of(info: ValidationInfo | None) -> Mapping[str, float]:
    """The exchange rates of the data set being validated (`context={RATES: ...}`,
    set by the loader from its economics file); USD only when none are given."""
    ctx = info.context if info is not None else None
    return (ctx or {}).get(RATES) or units.USD_ONLY


def _parser(kind: str) -> Callable[[Any, ValidationInfo], float]:
    """A before-validator that reads a quantity of `kind` into its canonical unit, at
    the exchange rates of the data set being validated."""

    def parse(v: Any, info: ValidationInfo) -> float:
        return units.parse_quantity(v, kind, rates_of(info))

    return parse


# Written out one by one (not built by a function) so that a type checker sees each
# quantity type as the float it is at run time.
Hours: TypeAlias = Annotated[float, BeforeValidator(_parser("time")), QuantityKind("time")]
Kg: TypeAlias = Annotated[float, BeforeValidator(_parser("mass")), QuantityKind("mass")]
M2: TypeAlias = Annotated[float, BeforeValidator(_parser("area")), QuantityKind("area")]
Metres: TypeAlias = Annotated[float, BeforeValidator(_parser("length")), QuantityKind("length")]
USD: TypeAlias = Annotated[float, BeforeValidator(_parser("money")), QuantityKind("money")]
KW: TypeAlias = Annotated[float, BeforeValidator(_parser("power")), QuantityKind("power")]
KWh: TypeAlias = Annotated[float, BeforeValidator(_parser("energy")), QuantityKind("energy")]
Ah: TypeAlias = Annotated[float, BeforeValidator(_parser("charge")), QuantityKind("charge")]
Volt: TypeAlias = Annotated[float, BeforeValidator(_parser("voltage")), QuantityKind("voltage")]
Density: TypeAlias = Annotated[float, BeforeValidator(_parser("density")), QuantityKind("density")]  # kg/m³
SpecificCapacity: TypeAlias = Annotated[float, BeforeValidator(_parser("specific_capacity")), QuantityKind("specific_capacity")]  # mAh/g
MolarMass: TypeAlias = Annotated[float, BeforeValidator(_parser("molar_mass")), QuantityKind("molar_mass")]  # g/mol
Fraction: TypeAlias = Annotated[float, BeforeValidator(_parser("fraction")), QuantityKind("fraction")]
DegC: TypeAlias = Annotated[float, BeforeValidator(_parser("temperature")), QuantityKind("temperature")]
PerHour: TypeAlias = Annotated[float, BeforeValidator(_parser("frequency")), QuantityKind("frequency")]
PriceTime: TypeAlias = Annotated[float, BeforeValidator(_parser("price_time")), QuantityKind("price_time")]  # USD/h
PriceEnergy: TypeAlias = Annotated[float, BeforeValidator(_parser("price_energy")), QuantityKind("price_energy")]  # USD/kWh
MoneyPerAreaYear: TypeAlias = Annotated[float, BeforeValidator(_parser("money_per_area_year")), QuantityKind("money_per_area_year")]
PowerPerArea: TypeAlias = Annotated[float, BeforeValidator(_parser("power_per_area")), QuantityKind("power_per_area")]  # kW/m²
PriceArea: TypeAlias = Annotated[float, BeforeValidator(_parser("price_area")), QuantityKind("price_area")]  # USD/m²
Mol: TypeAlias = Annotated[float, BeforeValidator(_parser("amount")), QuantityKind("amount")]
MassPerYear: TypeAlias = Annotated[float, BeforeValidator(_parser("mass_per_year")), QuantityKind("mass_per_year")]  # kg/yr
GWhPerYear: TypeAlias = Annotated[float, BeforeValidator(_parser("energy_per_year")), QuantityKind("energy_per_year")]
VolumeFlow: TypeAlias = Annotated[float, BeforeValidator(_parser("volume_flow")), QuantityKind("volume_flow")]  # m³/h
VolumePerYear: TypeAlias = Annotated[float, BeforeValidator(_parser("volume_per_year")), QuantityKind("volume_per_year")]  # m³/yr
PriceMass: TypeAlias = Annotated[float, BeforeValidator(_parser("price_mass")), QuantityKind("price_mass")]  # USD/kg
PriceVolume: TypeAlias = Annotated[float, BeforeValidator(_parser("price_volume")), QuantityKind("price_volume")]  # USD/m³
WaterDose: TypeAlias = Annotated[float, BeforeValidator(_parser("water_dose")), QuantityKind("water_dose")]  # ppmv·h
GasPerMass: TypeAlias = Annotated[float, BeforeValidator(_parser("gas_per_mass")), QuantityKind("gas_per_mass")]  # cm³/g
Years: TypeAlias = Annotated[float, BeforeValidator(_parser("years")), QuantityKind("years")]


def _dew_point(v: Any) -> float:
    t = units.parse_quantity(v, "temperature")
    low, high = units.DEW_POINT_RANGE_C
    if not low <= t <= high:
        raise ValueError(f"a dew point must lie between {low:g} degC and {high:g} degC (the "
                         "range over which ssbfab turns a dew point into water content by "
                         f"the Magnus formula over ice), found {t:g} degC")
    return t


DewPoint: TypeAlias = Annotated[float, BeforeValidator(_dew_point), QuantityKind("temperature")]


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




def _range(*fields: str, low: float = 0.0, strict: bool = True, high: float | None = None,
           unit: str = ""):
    """A field validator: each value (or each value of a mapping) must be > low
    (>= low if not strict) and <= high, in `unit` (for the message). Zero or negative
    sizes, rates and yields have no meaning and would divide by zero downstream, so
    they stop at the loader."""
    u = f" {unit}" if unit else ""

    def check(cls, v):
        for x in (v.values() if isinstance(v, dict) else [v]):
            if x is None or isinstance(x, str):
                continue
            if (x <= low if strict else x < low) or (high is not None and x > high):
                if high == 1.0:
                    want = f"{'(' if strict else '['}{low * 100:g}, {high * 100:g} %]"
                    found = f"{x * 100:g} %"
                else:
                    want = f"{'> ' if strict else '>= '}{low:g}{u}" + (
                        f" and <= {high:g}{u}" if high is not None else "")
                    found = f"{x:g}{u}"
                raise ValueError(f"must be {want}, found {found}")
        return v

    return field_validator(*fields)(check)


# A plain integer must be exactly representable as a float: the simulator and the
# optimiser compute in floats, where 2**53 + 1 silently becomes 2**53.
_LARGEST_INT = 2**53
# Control characters (NUL, escape, line separators ...) have no place in a name or a
# value: they corrupt terminals, file names and reports. Descriptions may hold line
# breaks and tabs.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_CONTROL_IN_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029]")


def _check_plain(value: Any, text: re.Pattern) -> None:
    """Refuse integers beyond a float's exact range and strings with control characters,
    in a field's value and in the keys and items of its mappings and lists (models
    inside were checked by their own validator)."""
    if isinstance(value, bool) or isinstance(value, BaseModel):
        return
    if isinstance(value, int):
        if abs(value) > _LARGEST_INT:
            raise ValueError(f"the integer {shorten(value, 40)} is too large; expected a "
                             "number of at most 2^53 (9.0e15) in size, which a float holds "
                             "exactly")
    elif isinstance(value, str):
        bad = text.search(value)
        if bad:
            raise ValueError(f"control character U+{ord(bad.group()):04X} at position "
                             f"{bad.start()} of {shorten(value, 40)}; expected printable "
                             "text")
    elif isinstance(value, dict):
        for k, x in value.items():
            _check_plain(k, _CONTROL)
            _check_plain(x, text)
    elif isinstance(value, list):
        for x in value:
            _check_plain(x, text)


class Strict(BaseModel):
    """Base: unknown keys are errors (a typo must not be silently ignored).

    Numbers are checked here once for every field: `strict` keeps a boolean from
    passing as a number (`buffer: true` is not 1) and a string from passing as one;
    `allow_inf_nan=False` refuses .nan and .inf in every float (quantities too: their
    parsed value is a float); `_plain` bounds integers and refuses control characters.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True,
                              strict=True, allow_inf_nan=False)

    @field_validator("*", mode="after")
    @classmethod
    def _plain(cls, v, info):
        _check_plain(v, _CONTROL_IN_TEXT if info.field_name == "description" else _CONTROL)
        if info.field_name == "name" and isinstance(v, str) and not v.strip():
            raise ValueError("a name must not be empty")
        return v


# ----------------------------------------------------------------------------- shared data


_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


class Price(Strict):
    """A dated price with its range for studies: `value` (central), `low`, `high` as
    quantities ("2.5e6 CNY/t"), `date` the month it was quoted ("2025-06"), and the
    `currency_year` whose exchange rates convert it (default: the date's year)."""

    value: str
    low: str | None = None
    high: str | None = None
    date: str
    currency_year: int | None = None

    @field_validator("date")
    @classmethod
    def _month(cls, v):
        import datetime

        m = _MONTH.match(v)
        if not m:
            raise ValueError(f"expected the month a price was quoted as YYYY-MM (e.g. "
                             f"\"2025-06\"), found {shorten(v)}")
        today = datetime.date.today()
        if (int(m.group(1)), int(m.group(2))) > (today.year, today.month):
            raise ValueError(f"the date {v} lies in the future (today is {today:%Y-%m}); "
                             "expected the month the price was quoted")
        return v

    @property
    def year(self) -> int:
        """The currency year: `currency_year`, else the year of `date`."""
        return self.currency_year if self.currency_year is not None else int(self.date[:4])


def price_rates(info: ValidationInfo | None, year: int | None) -> Mapping[str, float]:
    """The exchange rates of `year` from the data set's rates per year; the data set's
    (economics' currency year) rates when the year is None or has none listed."""
    ctx = (info.context if info is not None else None) or {}
    by_year = ctx.get(RATES_BY_YEAR) or {}
    if year is not None and year in by_year:
        return by_year[year]
    return rates_of(info)


def _price_kind(v: Any) -> str:
    # the tags carry brackets so that error paths leave them out (problems._validation_problems)
    return "[dated]" if isinstance(v, (dict, Price)) else "[text]"


PriceField: TypeAlias = Annotated[
    Annotated[str, Tag("[text]")] | Annotated[Price, Tag("[dated]")], Discriminator(_price_kind)]


class Material(Strict):
    """A purchased or made material. `price` may be per kg, per m² or per litre: a
    quantity, or a dated `Price` (central value, low-high range, date, currency year)."""

    price: PriceField | None = None
    density: Density | None = None
    specific_capacity: SpecificCapacity | None = None
    molar_mass: MolarMass | None = None
    recipe: dict[str, Mol] | None = None  # mol of each raw material per mol of product
    moisture_sensitive: bool = False
    scrap_credit: Fraction = 0.0  # fraction of price recovered for scrapped material
    # USD per kg a recycler pays for the material in scrapped output (on top of scrap_credit)
    recycling_credit: PriceMass = 0.0
    description: str | None = None

    # (USD per basis unit, basis), read at validation with the data set's exchange rates
    _price: tuple[float, str] | None = PrivateAttr(default=None)

    _pos = _range("density", "specific_capacity", "molar_mass", "recipe")

    @field_validator("price")
    @classmethod
    def _price_readable(cls, v, info: ValidationInfo):
        if v is None:
            return v
        if isinstance(v, str):
            if _parse_price(v, rates_of(info))[0] < 0:
                raise ValueError(f"a price must not be negative, found {shorten(v)}")
            return v
        rates = price_rates(info, v.year)
        by_year = (info.context or {}).get(RATES_BY_YEAR) or {}
        if by_year and v.year not in by_year and not _in_usd(v.value):
            raise FieldProblem("currency_year", f"no exchange rates for {v.year}; expected a "
                                                "year listed under economics "
                                                "`currency_rates_by_year` (a price converts "
                                                "at its own year's rates)")
        central, basis = _blamed("value", v.value, rates)
        if central < 0:
            raise FieldProblem("value", f"a price must not be negative, found {shorten(v.value)}")
        bounds = {}
        for k in ("low", "high"):
            text = getattr(v, k)
            if text is None:
                continue
            amount, b = _blamed(k, text, rates)
            if b != basis:
                raise FieldProblem(k, f"{shorten(text)} is per {b}, but the price is per "
                                      f"{basis}; expected the same basis")
            if amount < 0:
                raise FieldProblem(k, f"a price must not be negative, found {shorten(text)}")
            bounds[k] = amount
        lo, hi = bounds.get("low", central), bounds.get("high", central)
        if lo > hi:
            raise FieldProblem("low", f"low {shorten(v.low)} exceeds high {shorten(v.high)}; "
                                      "expected low <= value <= high")
        if not lo <= central <= hi:
            raise FieldProblem("value", f"the central value {shorten(v.value)} lies outside "
                                        f"its range {v.low} .. {v.high}; expected low <= "
                                        "value <= high")
        return v

    @model_validator(mode="after")
    def _read_price(self, info: ValidationInfo):
        # pydantic also runs this on a validated instance placed in another model
        # (SharedData): its price was read with its own rates and stays as it is
        if self.price is not None and self._price is None:
            if isinstance(self.price, str):
                self._price = _parse_price(self.price, rates_of(info))
            else:
                self._price = _parse_price(self.price.value,
                                           price_rates(info, self.price.year))
        return self

    @field_validator("scrap_credit")
    @classmethod
    def _credit(cls, v):
        if not 0 <= v <= 1:
            raise ValueError(f"must lie in [0, 1], found {v:g}")
        return v

    # checked against the price once a route's entry is merged with the shared one
    # (`checks._check_recycling_credits`)
    _recycling = _range("recycling_credit", strict=False, unit="USD/kg")

    @property
    def price_text(self) -> str | None:
        """The price as written: the central value of a dated price ("2.5e6 CNY/t")."""
        return self.price.value if isinstance(self.price, Price) else self.price

    @property
    def price_per_unit(self) -> tuple[float, str] | None:
        """(USD per basis unit, basis) with basis in kg, m2, m3; None if unpriced.
        Converted with the exchange rates of the data set the material was loaded with."""
        return self._price

    def updated_by(self, other: Material) -> Material:
        """This material with the fields `other` sets (a route's own entry over the
        shared one); the fields are parsed already, so nothing is re-read."""
        out = self.model_copy(update={k: getattr(other, k) for k in other.model_fields_set})
        if "price" in other.model_fields_set:
            out._price = other._price
        return out


def _blamed(field: str, text: str, rates: Mapping[str, float]) -> tuple[float, str]:
    """`_parse_price`, its error blamed on one field of a dated price."""
    try:
        return _parse_price(text, rates)
    except ValueError as exc:
        raise FieldProblem(field, str(exc)) from None


def _in_usd(text: str) -> bool:
    """The price text needs no exchange rate (it is in USD)."""
    try:
        _parse_price(text, units.USD_ONLY)
    except ValueError:
        return False
    return True


def _parse_price(text: str, rates: Mapping[str, float]) -> tuple[float, str]:
    for kind, basis in (("price_mass", "kg"), ("price_area", "m2"), ("price_volume", "m3")):
        try:
            return units.parse_quantity(text, kind, rates), basis
        except units.UnitParseError as exc:
            if "no exchange rate" in str(exc) or "cannot read" in str(exc):
                raise ValueError(str(exc)) from None
    raise ValueError(f"price {shorten(text)} is not per kg, per m^2 or per volume (e.g. \"26 USD/kg\")")


# The class name of an argon mini-environment in a zone's `classes` (never a dry-room class)
ARGON = "argon"


class Excursions(Strict):
    rate: PerHour  # excursions per hour (write "6 1/yr")
    duration: Hours  # mean duration
    peak: DewPoint  # dew point reached during an excursion

    _nonneg = _range("rate", "duration", strict=False)


class DryRoomClass(Strict):
    name: str
    dew_point: DewPoint
    building_extra_cost: PriceArea  # over the plain building cost per m²
    equipment_cost: PriceArea  # dehumidification / HVAC capex per m²
    power: PowerPerArea  # continuous electric load per m² of dry room
    excursions: Excursions

    _nonneg = _range("building_extra_cost", "equipment_cost", "power", strict=False)


class DryRooms(Strict):
    classes: list[DryRoomClass]
    sulfide_exposure_threshold: DewPoint  # dew point above which sulfide exposure is counted
    h2s_reference_dew_point: DewPoint  # dew point at which h2s_release of a step is measured
    # the water in an argon mini-environment (glovebox, isolator) as a dew point: what a
    # step enclosed in argon meets (`Step.argon_enclosure`, route `zones`); None: no zone
    # may choose argon
    argon_dew_point: DewPoint | None = None

    @field_validator("classes")
    @classmethod
    def _classes(cls, v):
        if not v:
            raise ValueError("expected at least one dry-room class, found an empty list")
        seen: dict[str, int] = {}
        for i, c in enumerate(v):
            if c.name == ARGON:
                raise FieldProblem(f"{i}.name", f"{ARGON!r} names the argon mini-environment "
                                                "(argon_dew_point); expected another class name")
            if c.name in seen:
                raise FieldProblem(f"{i}.name", f"duplicate dry-room class name {shorten(c.name)} "
                                                f"(first used by classes[{seen[c.name]}]); "
                                                "expected unique names")
            seen[c.name] = i
        return v


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

    _lives = _range("equipment_life", "building_life", high=100.0, unit="yr")
    # each is a share of a cost base (labour, depreciation, materials, price): 0-100 %
    _shares = _range("variable_overhead_of_labour", "variable_overhead_of_depreciation",
                     "gsa_of_labour_and_overhead", "gsa_of_depreciation", "rnd_of_depreciation",
                     "launch_of_materials", "launch_of_labour_and_overhead",
                     "working_capital_of_variable_cost", "profit_of_investment",
                     "warranty_of_price", strict=False, high=1.0)


class Annuity(Strict):
    discount_rate: Fraction
    equipment_life: Years
    building_life: Years
    fixed_om_of_capex: Fraction  # per year, of equipment + building capex
    overhead_of_labour: Fraction

    _lives = _range("equipment_life", "building_life", high=100.0, unit="yr")
    _shares = _range("discount_rate", "fixed_om_of_capex", "overhead_of_labour", strict=False,
                     high=1.0)


class Economics(Strict):
    """Plant calendar, prices of labour and energy, costing conventions."""

    currency_year: int
    currency_rates: dict[str, USD]  # USD per unit of each currency (CNY: "0.139 USD")
    # the rates of each year a price may be quoted in (a dated price converts at its
    # own year's rates); the currency year's rates are `currency_rates`
    currency_rates_by_year: dict[int, dict[str, USD]] = Field(default_factory=dict)
    operating_days_per_year: float
    shifts_per_day: int
    shift_length: Hours
    labour_rate: PriceTime
    electricity_price: PriceEnergy
    building_cost: PriceArea
    # argon delivered and purified (recirculating purifier's running and capital
    # share folded in), per m³ an argon machine consumes
    argon_price: PriceVolume = 0.0
    # scrubbing, detection and ventilation per m³ of H2S the line can release
    h2s_abatement_cost: PriceVolume = 0.0
    batpac5: BatPaC5
    annuity: Annuity

    _pos = _range("currency_rates")
    _year = _range("currency_year", low=1900, strict=False, high=2100)
    _days = _range("operating_days_per_year", high=366, unit="d")

    @field_validator("currency_rates")
    @classmethod
    def _codes(cls, v):
        for code, rate in v.items():
            if not (len(code) == 3 and code.isascii() and code.isupper() and code.isalpha()):
                raise FieldProblem(code, f"expected a three-letter currency code such as CNY, "
                                         f"found {shorten(code)}")
            if code == "USD" and rate != 1.0:
                raise FieldProblem(code, f"USD is the base currency: its rate is 1 USD, "
                                         f"found {rate:g} USD")
        return v

    _shifts = _range("shifts_per_day", high=4)
    _shift = _range("shift_length", high=24, unit="h")
    _nonneg = _range("labour_rate", "electricity_price", "building_cost", "argon_price",
                     "h2s_abatement_cost", strict=False)

    @model_validator(mode="after")
    def _day_has_24_hours(self):
        if self.shifts_per_day * self.shift_length > 24 * (1 + 1e-9):
            raise FieldProblem("shift_length", f"{self.shifts_per_day} shifts of "
                                               f"{self.shift_length:g} h are "
                                               f"{self.shifts_per_day * self.shift_length:g} h "
                                               "a day; expected shifts_per_day x shift_length "
                                               "<= 24 h")
        return self

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
                raise ValueError(f"mass fraction of {shorten(name)} must lie in 0-100 %, found {w * 100:g} %")
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


class Pouch(Strict):
    """The pouch around the electrode stack: what turns the stack into the cell's outer
    dimensions (and so its volume). Tabs leave through the edges of length
    `electrode_width`, at both ends of the height (`tab_ends: 2`) or at one (1)."""

    seal_margin: Metres  # heat seal (and fold) on each edge without tabs
    tab_margin: Metres  # tab lead-out and seal at each tab end
    film_thickness: Metres  # the laminate, once on each face of the stack
    tab_ends: Literal[1, 2] = 2

    _nonneg = _range("seal_margin", "tab_margin", "film_thickness", strict=False)


# the pouch of a cell design that gives none (docs/lines.md): illustrative EV pouch margins
DEFAULT_POUCH = Pouch.model_validate({"seal_margin": "3 mm", "tab_margin": "10 mm",
                                      "film_thickness": "0.15 mm"})


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
    pouch: Pouch = DEFAULT_POUCH  # outer dimensions, hence the cell volume
    # a user's flat override: volume = layer volumes x (1 + overhead), pouch ignored
    packaging_volume_overhead: Fraction | None = None
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
    # argon a machine consumes while the plant runs (purge, leaks, regeneration), m³/h
    argon_flow: VolumeFlow = 0.0
    # share of its process energy a machine returns (regenerative formation cyclers)
    energy_recovery: Fraction = 0.0

    _argon = _range("argon_flow", strict=False)
    _recovery = _range("energy_recovery", strict=False, high=1.0)

    @field_validator("rate")
    @classmethod
    def _rate(cls, v):
        if v is not None:
            r, _ = units.parse_rate(v)
            if r <= 0:
                raise ValueError(f"a rate must be positive, found {shorten(v)}")
        return v

    @field_validator("batch")
    @classmethod
    def _batch(cls, v):
        if v is not None:
            b, _ = units.parse_amount(v)
            if b <= 0:
                raise ValueError(f"a batch must be positive, found {shorten(v)}")
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
        assert self.cycle_time is not None  # the model check: a batch needs a cycle time
        return self.batch_size / self.cycle_time

    @property
    def availability(self) -> float:
        """Nominal fraction of time up: MTBF/(MTBF+MTTR) and planned maintenance."""
        a = 1.0
        if self.mtbf and self.mttr is not None:  # the model check: both or neither
            a *= self.mtbf / (self.mtbf + self.mttr)
        if self.maintenance:
            a *= self.maintenance.every / (self.maintenance.every + self.maintenance.duration)
        return a


class Level(Strict):
    name: str
    rate_factor: float = 1.0
    yield_: Fraction | None = Field(default=None, alias="yield")
    energy_factor: float = 1.0
    # share of the cell design's capacity a good cell delivers when made at this level
    # (e.g. a short warm-isostatic-pressing hold: 80 of 125 mAh/g); cost per kWh
    # divides by the delivered energy
    capacity_factor: Fraction = 1.0

    _capacity = _range("capacity_factor", high=1.0)

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
            raise FieldProblem("yield", f"setting level {shorten(self.name)} has no `yield` "
                                        "(expected a fraction in (0, 100 %], e.g. \"95 %\")")
        return self


class Excursion(Strict):
    effect: Literal["loss", "stop"]
    extra_loss: Fraction = 0.0  # yield lost by lots processed during an excursion

    _frac = _range("extra_loss", strict=False, high=1.0)


class Rework(Strict):
    """Off-spec output sent back through a re-mill or re-anneal (a side process with
    no machine of the line): `share` of a step's scrap is reworked, `yield` of that
    comes back as good output, at `cost` per kg reworked."""

    share: Fraction  # of the step's first-pass scrap, [0, 100 %]
    yield_: Fraction = Field(alias="yield")  # of what is reworked, (0, 100 %]
    cost: PriceMass  # USD per kg reworked (energy, labour and media of the side process)

    _share = _range("share", strict=False, high=1.0)
    _yield = _range("yield_", high=1.0)
    _cost = _range("cost", strict=False, unit="USD/kg")


class DosePoint(Strict):
    dose: WaterDose  # ppmv·h of water met
    loss: Fraction  # share of the step's output lost at that dose, [0, 100 %]

    _dose = _range("dose", strict=False, unit="ppmv*h")
    _loss = _range("loss", strict=False, high=1.0)


class RetentionPoint(Strict):
    dose: WaterDose  # ppmv·h of water met
    retention: Fraction  # ionic conductivity kept at that dose, relative to the dry powder's

    _dose = _range("dose", strict=False, unit="ppmv*h")
    _retention = _range("retention", strict=False, high=1.0)


def _monotone_in_dose(points: list, field: str, rising: bool, what: str) -> list:
    """The points of a curve over the water dose: at least one, doses strictly
    increasing, `field` never falling (`rising`) or never rising as the dose grows."""
    if not points:
        raise ValueError(f"expected at least one point {{dose, {field}}}")
    for i in range(1, len(points)):
        prev, cur = points[i - 1], points[i]
        if not cur.dose > prev.dose:
            raise FieldProblem(f"{i}.dose", f"doses must increase: {cur.dose:g} ppmv*h "
                                            f"after {prev.dose:g} ppmv*h")
        a, b = getattr(prev, field), getattr(cur, field)
        if (b < a) if rising else (b > a):
            raise FieldProblem(f"{i}.{field}", f"{what}: {b * 100:g} % after {a * 100:g} %")
    return points


def _from_dose_zero(points: list, field: str, start: float
                    ) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(doses, values of `field`) with a point (0, `start`) first unless the curve
    starts at dose 0."""
    pts = [(p.dose, getattr(p, field)) for p in points]
    if pts[0][0] > 0:
        pts.insert(0, (0.0, start))
    return tuple(d for d, _ in pts), tuple(x for _, x in pts)


def capacity_fraction(retention: float, full_at: float) -> float:
    """Share of the design capacity a cell delivers at its rate when its electrolyte
    keeps `retention` of its ionic conductivity: min(1, sqrt(retention / full_at)).

    Why this form (illustrative, docs/lines.md): in a porous composite electrode whose
    electronic conduction is ample, the depth the reaction reaches at a given current
    grows as the square root of the ionic conductivity (Newman and Tobias' penetration
    depth), so the share of the electrode used at the cell's rate does too, until the
    whole thickness is used. `full_at`: the relative conductivity at which it is (the
    design's headroom; 100 %: none)."""
    return min(1.0, math.sqrt(max(retention, 0.0) / full_at))


class Conductivity(Strict):
    """Ionic conductivity kept over the water dose (`points`: piecewise linear from 100 %
    at dose 0, flat beyond the last point) and the capacity the cell then delivers
    (`capacity_fraction` with `full_capacity_at`)."""

    points: list[RetentionPoint]
    full_capacity_at: Fraction = 1.0  # relative conductivity at which the electrode is fully used

    _full = _range("full_capacity_at", high=1.0)

    @field_validator("points")
    @classmethod
    def _monotone(cls, v):
        return _monotone_in_dose(v, "retention", rising=False,
                                 what="conductivity retained must not rise as the dose grows")

    @property
    def curve(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """(doses, retentions) with the start at dose 0 (100 % unless the first point
        is at dose 0): the simulator interpolates the same points."""
        return _from_dose_zero(self.points, "retention", start=1.0)

    def capacity_at(self, dose: float) -> float:
        """Share of the design capacity delivered after `dose` (ppmv·h): the retention
        linear between the points (numpy.interp, as the simulator), then
        `capacity_fraction`."""
        import numpy as np

        xs, rs = self.curve
        return capacity_fraction(float(np.interp(dose, xs, rs)), self.full_capacity_at)


class Dose(Strict):
    """Moisture damage as a function of the water a lot meets: dose = ppmv of the room
    × hours exposed (ppmv·h); loss = the curve through `points` (piecewise linear,
    flat beyond the last point, 0 below the first at dose 0). With `conductivity`, the
    dose also lowers the ionic conductivity of what the step makes, and so the energy
    every good cell delivers."""

    exposure: Hours  # nominal hours a lot is exposed at this step: processing + its inputs' wait
    open_share: Fraction = 1.0  # share of those hours the material is open to the room's air
    points: list[DosePoint]
    conductivity: Conductivity | None = None

    _exposure = _range("exposure", strict=False, unit="h")
    _open = _range("open_share", strict=False, high=1.0)

    @field_validator("points")
    @classmethod
    def _monotone(cls, v):
        return _monotone_in_dose(v, "loss", rising=True,
                                 what="a loss curve must not fall as the dose grows")

    @property
    def curve(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """(doses, losses) of the curve with its start at dose 0 (loss 0 unless the
        first point is at dose 0): the simulator interpolates the same points."""
        return _from_dose_zero(self.points, "loss", start=0.0)

    def loss_at(self, dose: float) -> float:
        """Share lost at `dose` (ppmv·h): linear between the points of `curve`, flat
        beyond the last (numpy.interp, as the simulator)."""
        import numpy as np

        xs, fs = self.curve
        return float(np.interp(dose, xs, fs))


class Moisture(Strict):
    # per dry-room class; classes absent are not allowed (or `dose`, for every class)
    yield_factor: dict[str, Fraction] | None = None
    dose: Dose | None = None  # a loss curve of the water dose, instead of yield_factor
    excursion: Excursion
    h2s_release: GasPerMass = 0.0  # cm³ H2S per g of material exposed at the reference dew point

    _yields = _range("yield_factor", high=1.0)  # a yield: (0, 100 %]
    _nonneg = _range("h2s_release", strict=False)

    @model_validator(mode="after")
    def _one_rule(self):
        if (self.yield_factor is None) == (self.dose is None):
            raise FieldProblem("dose" if self.dose is not None else "yield_factor",
                               "give either `yield_factor` (per dry-room class) or `dose` "
                               "(a loss curve of the water dose), not both and not neither")
        if self.dose is not None and self.excursion.extra_loss:
            raise FieldProblem("excursion", "with `dose`, an excursion's damage is the water "
                                            "it adds to the dose; expected no extra_loss")
        return self


def _positive_if_amount(v: str | None) -> str | None:
    """A per_cell written as an amount ("2 sheet") must be positive: the flow divides by
    it. (A design reference is checked against the design in `checks`.)"""
    if v is not None and _NUMBER_TEXT.match(v) and units.parse_amount(v)[0] <= 0:
        raise ValueError(f"expected a positive amount per cell, found {shorten(v)}")
    return v


class InputEdge(Strict):
    step: str
    per_cell: str | None = None  # design reference, needed when the upstream feeds several steps
    # set for the edges of `{supply: M}`: the upstream is the last step of one of M's
    # supply options, and the edge carries M at the rate the step uses it (graph.py)
    material: str | None = None

    _per_cell = field_validator("per_cell")(lambda cls, v: _positive_if_amount(v))


class MaterialUse(Strict):
    material: str
    amount: str  # a design reference ("cathode.NMC811") or a quantity per unit ("0.12 kg/m^2")
    recovered: Fraction = 0.0  # fraction recovered and reused (solvent recovery)

    _frac = _range("recovered", strict=False, high=0.999)


class ArgonEnclosure(Strict):
    """A dry-room step may run in an argon mini-environment (glovebox, isolator) when
    its zone chooses argon: each machine gets an enclosure (capex) that consumes argon
    all the plant's hours (priced as argon machines are, `argon_price`)."""

    capex: USD  # per machine enclosed, installed
    argon_flow: VolumeFlow  # m³/h per enclosure: purge, leaks, regeneration
    # the step's moisture yield factor in argon, for a step whose moisture damage is a
    # `yield_factor` table (a `dose` curve reads the argon dew point instead)
    yield_factor: Fraction | None = None

    _nonneg = _range("capex", "argon_flow", strict=False)
    _yields = _range("yield_factor", high=1.0)


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
    # may run in argon instead of the dry room, where its zone chooses argon
    argon_enclosure: ArgonEnclosure | None = None
    rework: Rework | None = None  # off-spec output reworked (kg steps)
    # H2S the process itself sends to abatement, cm³ (0 °C, 1 atm) per g started (kg
    # steps): a reagent's excess, purges and vents, whatever the dry room (not the
    # moisture release); it counts in the H2S abatement and `plant.h2s_limit`
    h2s_process: GasPerMass = 0.0
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

    _per_cell = field_validator("per_cell")(lambda cls, v: _positive_if_amount(v))
    _h2s = _range("h2s_process", strict=False, unit="cm^3/g")

    @field_validator("lot_size")
    @classmethod
    def _lot_readable(cls, v):
        if units.parse_amount(v)[0] <= 0:
            raise ValueError(f"lot_size must be positive, found {shorten(v)}")
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
        if self.h2s_process and self.unit != "kg":
            raise FieldProblem("h2s_process", f"H2S sent to abatement is per g started: a step "
                                              f"in kg, not {self.unit}")
        amount, unit = units.parse_amount(self.lot_size)
        if unit != self.unit:
            raise FieldProblem("lot_size", f"lot_size {shorten(self.lot_size)} is in {unit}; "
                                           f"expected an amount of the step's unit {self.unit}")
        names = [o.name for o in self.options]
        if len(set(names)) != len(names):
            raise FieldProblem("options", f"duplicate option names {names}")
        for i, opt in enumerate(self.options):
            if opt.unit != self.unit:
                raise FieldProblem(
                    f"options.{i}.{'rate' if opt.rate else 'batch'}",
                    f"option {shorten(opt.name)} works in {opt.unit}, but the step's unit is {self.unit}")
            # a lot is processed whole: a batch machine must hold at least one lot
            if opt.is_batch and amount > opt.batch_size * (1 + 1e-9):
                raise FieldProblem(
                    "lot_size", f"lot_size {shorten(self.lot_size)} is larger than the batch "
                                f"{shorten(opt.batch)} of option {shorten(opt.name)}; expected lot <= batch")
        if self.rework is not None and self.unit != "kg":
            raise FieldProblem("rework", f"rework applies to powder steps in kg; this step "
                                         f"works in {self.unit}")
        if self.moisture is not None and self.environment != "dry_room":
            raise FieldProblem("moisture", "`moisture` applies only to steps in the dry_room "
                                           f"environment; this step's environment is "
                                           f"{shorten(self.environment)}")
        enc = self.argon_enclosure
        if enc is not None and self.environment != "dry_room":
            raise FieldProblem("argon_enclosure", "an argon enclosure is an alternative to the "
                                                  "dry room; this step's environment is "
                                                  f"{shorten(self.environment)}")
        if (enc is not None and enc.yield_factor is None and self.moisture is not None
                and self.moisture.yield_factor is not None):
            raise FieldProblem("argon_enclosure.yield_factor",
                               "this step's moisture damage is a yield_factor table: give its "
                               "factor in argon too, e.g. \"100 %\"")
        return self

    @property
    def lot(self) -> float:
        return units.parse_amount(self.lot_size)[0]

    @cached_property
    def setting_levels(self) -> list[Level]:
        """The step's levels; a step without levels has one, 'nominal', at its yield."""
        if self.levels:
            return list(self.levels)
        return [Level.model_validate({"name": "nominal", "rate_factor": 1.0,
                                      "yield": self.yield_})]

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


class SupplyOption(Strict):
    """One way to get a material: a small line of its own (steps of `line:`), the last
    of which delivers the material. A bought material is a step that buys it."""

    name: str
    steps: list[str]  # names of steps in `line:`, upstream first; the last delivers
    limit: MassPerYear | None = None  # most kg/yr this option can deliver (a supplier's cap)
    description: str | None = None

    _pos = _range("limit")

    @field_validator("steps")
    @classmethod
    def _some(cls, v):
        if not v:
            raise ValueError("expected at least one step, found an empty list")
        return v


class Supply(Strict):
    """The ways a material may be supplied; the optimiser chooses exactly one."""

    options: list[SupplyOption]
    description: str | None = None

    @field_validator("options")
    @classmethod
    def _unique(cls, v):
        if not v:
            raise ValueError("expected at least one supply option, found an empty list")
        seen: set[str] = set()
        for i, o in enumerate(v):
            if o.name in seen:
                raise FieldProblem(f"{i}.name", f"duplicate supply option {shorten(o.name)}; "
                                                "expected unique names")
            seen.add(o.name)
        return v


class Zone(Strict):
    """Dry-room steps that share one room (or argon) whose class is chosen for the zone;
    the dry-room steps in no zone share the plant's own (`PLANT_ZONE`)."""

    name: str
    steps: list[str]  # dry-room steps of `line:`
    # dry-room classes the zone may choose (wettest to driest); default: the route's
    # classes that every step of the zone allows
    classes: list[str] | None = None
    # may also choose an argon mini-environment (every step needs an `argon_enclosure`)
    argon: bool = False
    description: str | None = None

    @field_validator("steps")
    @classmethod
    def _some(cls, v):
        if not v:
            raise ValueError("expected at least one step, found an empty list")
        return v

    @model_validator(mode="after")
    def _a_class(self):
        if self.classes == [] and not self.argon:  # argon alone is a choice of one
            raise FieldProblem("classes", "expected at least one class (or `argon: true`), "
                                          "found an empty list")
        return self


# the zone of the dry-room steps no named zone holds (today's one dry room per plant)
PLANT_ZONE = "plant"


class Plant(Strict):
    floor_area: M2  # site floor area available for the line (all environments)
    dry_room_area: M2  # largest dry room the site can hold
    default_capacity: GWhPerYear
    # most H2S the site may release a year (permit), m³/yr at the room's conditions;
    # None: no limit
    h2s_limit: VolumePerYear | None = None

    _pos = _range("floor_area", "default_capacity", "h2s_limit")
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
    # make or buy: material -> its supply options (docs/lines.md, "Supply options")
    supply: dict[str, Supply] = Field(default_factory=dict)
    # zoned plant: dry-room steps grouped into zones, each with its own class (docs/lines.md)
    zones: list[Zone] = Field(default_factory=list)
    line: list[Step]

    # A route is hashed by identity (its fields hold lists): what is compiled from a
    # checked route (ssbfab.graph.LineGraph) is cached per route object.
    __hash__ = object.__hash__

    @model_validator(mode="before")
    @classmethod
    def _supply_edges(cls, data):
        # `inputs: [{supply: M}]` draws M from every supply option's last step: one edge
        # each, marked with the material (the flow takes M from the chosen one only)
        if not isinstance(data, dict):
            return data
        last = {}
        for m, sup in (data.get("supply") if isinstance(data.get("supply"), dict) else {}).items():
            opts = sup.get("options") if isinstance(sup, dict) else None
            if isinstance(opts, list):
                last[m] = [o["steps"][-1] for o in opts if isinstance(o, dict)
                           and isinstance(o.get("steps"), list) and o["steps"]]
        line = data.get("line")
        if not isinstance(line, list):
            return data
        out = []
        for s in line:
            if isinstance(s, dict) and isinstance(s.get("inputs"), list):
                edges = []
                for e in s["inputs"]:
                    if isinstance(e, dict) and set(e) == {"supply"} and e["supply"] in last:
                        edges.extend({"step": t, "material": e["supply"]} for t in last[e["supply"]])
                    elif isinstance(e, dict) and set(e) == {"supply"}:
                        # no such supply: an edge from no step, refused by checks.py
                        edges.append({"step": "", "material": e["supply"]})
                    else:
                        edges.append(e)
                s = {**s, "inputs": edges}
            out.append(s)
        return {**data, "line": out}

    @field_validator("line")
    @classmethod
    def _some_steps(cls, v):
        if not v:
            raise ValueError("expected at least one step, found an empty list")
        return v

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
            merged[name] = m if base is None else base.updated_by(m)
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

    # ---------------------------------------------------------------- make or buy
    _full: Route | None = PrivateAttr(default=None)

    @property
    def full(self) -> Route:
        """The route with every supply option's steps (what the optimiser chooses
        among); a route without supply options, or not resolved, is its own."""
        return self._full if self._full is not None else self

    @property
    def supply_choice(self) -> dict[str, str]:
        """material -> the supply option this route runs (one each once resolved)."""
        return {m: s.options[0].name for m, s in self.supply.items()}

    def supply_member(self) -> dict[str, tuple[str, str]]:
        """step -> (material, supply option) for every step of a supply option."""
        return {st: (m, o.name) for m, s in self.supply.items() for o in s.options
                for st in o.steps}

    def with_supply(self, choice: Mapping[str, str] | None = None,
                    keep_others: bool = True) -> Route:
        """This route with one supply option per material (`choice`, default each
        material's first): the other options' steps and their edges are left out, and
        so is a material's supply when no step left draws it. Plant limits are this
        route's (a line of a plant of several keeps its share of the site).
        `keep_others=False` forgets the other options (`full` is then the result: an
        optimiser given it cannot choose another supply)."""
        full = self.full
        if not full.supply:
            return self
        choice = {**full.supply_choice, **dict(choice or {})}
        member = full.supply_member()
        drop = {st for st, (m, o) in member.items() if choice[m] != o}
        # a material no remaining step draws (LPSCl bought: no Li2S) has no supply
        while True:
            keep = [s for s in full.line if s.name not in drop]
            drawn = {e.material for s in keep for e in s.inputs if e.material}
            more = {st for st, (m, _) in member.items() if m not in drawn} - drop
            if not more:
                break
            drop |= more
        line = [s.model_copy(update={"inputs": [e for e in s.inputs if e.step not in drop]})
                if any(e.step in drop for e in s.inputs) else s for s in keep]
        supply = {m: sup.model_copy(update={"options": [o for o in sup.options
                                                        if o.name == choice[m]]})
                  for m, sup in full.supply.items() if m in drawn}
        out = full.model_copy(update={"line": line, "supply": supply, "plant": self.plant})
        for k in ("consumers", "order", "all_materials", "dry_room_options"):
            out.__dict__.pop(k, None)  # cached on the full route: recomputed for this one
        marks = {}
        for path, ln in full._marks.items():
            if len(path) >= 2 and path[0] == "line" and isinstance(path[1], int):
                name = full.line[path[1]].name if path[1] < len(full.line) else None
                if name in drop or name is None:
                    continue
                path = ("line", [s.name for s in line].index(name), *path[2:])
            marks[path] = ln
        out._marks = marks
        out._full = full if keep_others else None
        return out



class SharedData(BaseModel):
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)
    materials: dict[str, Material]
    dry_rooms: DryRooms
    economics: Economics
    files: dict[str, str]  # kind -> path


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
