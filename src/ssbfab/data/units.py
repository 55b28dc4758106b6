"""Units: one pint registry for the whole project.

Every quantity in `lines/` is written as a string with its unit ("2.5e6 CNY/t",
"35 m/min", "-50 degC", "2.2 MUSD", "99.5 %"). Inside the code each field holds a
plain float in one *canonical* unit chosen per dimension (hours, kg, m², USD, kW,
kWh ...), so that the simulator and optimiser do arithmetic on floats while the
data keeps its units.

Currencies: USD is the dimension `[currency]`; every other currency code (three
capitals: CNY, EUR) is a dimension of its own (`[currency_CNY]`), registered by name
the first time it is read. The registry holds no exchange rate: the rates travel with
the data (`Economics.currency_rates`, USD per unit) and `parse_quantity(..., rates=)`
converts "2.5e6 CNY/t" to USD/kg through the table it is given, so two data sets
with different rates load side by side in one process. `cell` and `sheet` are
counting dimensions of their own, so that a rate in sheets per minute cannot be
given to a step that makes cells.

A quantity string is read here, not by pint's expression parser: a number, then a unit
of unit names, `*`, `/`, small whole powers and parentheses (`SYNTAX`), at most
`MAX_QUANTITY_CHARS` long; every value returned is a finite float.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from functools import lru_cache

import pint

from ..errors import shorten

ureg: pint.UnitRegistry = pint.UnitRegistry(autoconvert_offset_to_baseunit=True)
ureg.define("USD = [currency] = usd = dollar")
ureg.define("cell = [cell] = cells")
ureg.define("sheet = [sheet] = sheets")
ureg.define("lot = [lot] = lots")
ureg.define("ppmv = 1e-6 = ppmV")

# Canonical unit for each field kind. A field declares the kind it expects; the
# parsed value is converted to this unit and stored as a float.
CANONICAL: dict[str, str] = {
    "time": "h",
    "mass": "kg",
    "area": "m**2",
    "length": "m",
    "volume": "m**3",
    "money": "USD",
    "power": "kW",
    "energy": "kWh",
    "charge": "A*h",
    "voltage": "V",
    "density": "kg/m**3",
    "specific_capacity": "mA*h/g",
    "molar_mass": "g/mol",
    "fraction": "dimensionless",
    "temperature": "degC",
    "frequency": "1/h",
    "price_mass": "USD/kg",
    "price_area": "USD/m**2",
    "price_volume": "USD/m**3",
    "price_energy": "USD/kWh",
    "price_time": "USD/h",
    "money_per_area_year": "USD/m**2/yr",
    "power_per_area": "kW/m**2",
    "areal_mass": "kg/m**2",
    "areal_capacity": "mA*h/cm**2",
    "pressure": "MPa",
    "energy_per_year": "GWh/yr",
    "mass_per_year": "kg/yr",
    "gas_per_mass": "cm**3/g",
    "volume_flow": "m**3/h",
    "water_dose": "ppmv*h",
    "volume_per_year": "m**3/yr",
    "amount": "mol",
    "years": "year",
}


class UnitParseError(ValueError):
    """A quantity string that could not be read, or read with the wrong dimension."""


USD_ONLY: Mapping[str, float] = {"USD": 1.0}
_CURRENCY_DIM = "[currency_"


def _register_currencies(text: str) -> None:
    # a currency code is a unit of its own dimension, without a value in USD: the
    # registry only learns the name, so no rate can leak from one data set to another
    for m in _CURRENCY_WORD.finditer(text):
        code = m.group(1)
        if code != "USD" and code not in ureg:
            ureg.define(f"{code} = {_CURRENCY_DIM}{code}]")


_PERCENT = re.compile(r"(?<![\w])%")
_CURRENCY_WORD = re.compile(r"(?<![A-Za-z])[kMG]?([A-Z]{3})(?![A-Za-z])")


def _normalise(text: str) -> str:
    # pint reads "%" only in some versions; spell it out. "µ" and "um" both mean micro.
    text = _PERCENT.sub(" percent", text)
    return text.replace("µ", "u").replace("²", "**2").replace("³", "**3")


# ----------------------------------------------------------------------------- quantity syntax
#
# A quantity is a number and a unit, nothing else: pint's own parser evaluates any
# arithmetic ("9**9**9 %" never returns, "97 %%" is 0.97 %, a long string takes
# minutes), so the text is read here and only the unit goes to pint, once it is known to
# be unit names joined by *, / and small whole powers.

MAX_QUANTITY_CHARS = 200
SYNTAX = ("a number, then a unit made of unit names joined by *, / and ^ with a small "
          "whole exponent (-9 to 9), and parentheses; no arithmetic")
_NUMBER = re.compile(r"\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*")
_UNIT_TOKEN = re.compile(
    r"\s*(?:(?P<name>(?:[^\W\d]|°)+)|(?P<one>1(?![\d.]))|(?P<percent>%)"
    r"|(?P<power>(?:\^|\*\*)\s*(?P<exp>[-+]?\d+(?:\.\d*)?))|(?P<op>[*/])|(?P<paren>[()]))")


def _read_number_and_unit(text: str) -> tuple[float, str]:
    """(the number, the unit in pint's spelling) of a quantity string, or UnitParseError
    saying what is wrong with it. Linear in the text, which is short (checked first)."""
    if len(text) > MAX_QUANTITY_CHARS:
        raise UnitParseError(f"a quantity is at most {MAX_QUANTITY_CHARS} characters, "
                             f"found {len(text)}")
    text = text.strip().replace("µ", "u").replace("²", "^2").replace("³", "^3")
    m = _NUMBER.match(text)
    if not m:
        raise UnitParseError(f"expected {SYNTAX}; it does not start with a number")
    number = float(m.group(1))
    if not math.isfinite(number):
        raise UnitParseError(f"the number {m.group(1)} is too large (beyond a float's range)")
    # a state machine over the unit's tokens: a name (or "1", "%", "(") where an operand
    # belongs, then "*", "/", a power or ")"
    pos, out, want_operand, depth = m.end(), [], True, 0
    while pos < len(text):
        t = _UNIT_TOKEN.match(text, pos)
        if t is None:
            rest = text[pos:]
            raise UnitParseError(f"cannot read {rest[:20]!r}; expected {SYNTAX}")
        kind = t.lastgroup
        assert kind is not None  # every alternative of _UNIT_TOKEN is a named group
        piece = t.group(kind)
        if kind in ("name", "one", "percent") or piece == "(":
            if not want_operand:
                raise UnitParseError(f"two units side by side before {piece!r}; join them "
                                     "with * or / (as in mA*h/g)")
            if piece == "(":
                depth += 1
            else:
                want_operand = False
            out.append("percent" if kind == "percent" else piece)
        elif want_operand:  # an operator, a power or ")" where a unit name belongs
            after = "the number" if not out else repr(out[-1])
            raise UnitParseError(f"expected a unit name after {after}, found {piece!r}; "
                                 f"expected {SYNTAX}")
        elif kind == "power":
            exp = t.group("exp")
            if out[-1].startswith("**"):
                raise UnitParseError("a power of a power; write one exponent")
            if not re.fullmatch(r"[-+]?[1-9]", exp):
                raise UnitParseError(f"the exponent {exp[:20]} is not a whole number from "
                                     "-9 to 9 (other than 0)")
            out.append(f"**{exp}")
        elif piece == ")":
            if depth == 0:
                raise UnitParseError("a ')' without its '('")
            depth -= 1
            out.append(")")
        else:  # * or /
            want_operand = True
            out.append(piece)
        pos = t.end()
    if out and (want_operand or depth):
        raise UnitParseError("the unit is unfinished (an operator or '(' at the end)")
    return number, "".join(out)


@lru_cache(maxsize=1024)
def _unit(expression: str) -> pint.Unit:
    return ureg.parse_units(expression) if expression else ureg.dimensionless


@lru_cache(maxsize=4096)
def _parse(text: str) -> pint.Quantity:
    """A quantity string ("35 m^2/min") as a pint Quantity; UnitParseError if it is not
    a number and a unit (see SYNTAX) or names a unit pint does not know."""
    number, unit = _read_number_and_unit(text)
    # the quantity keeps its currencies as units (CNY, MCNY), so neither this cache
    # nor `_unit`'s depends on any rate table
    _register_currencies(unit)
    try:
        return ureg.Quantity(number, _unit(unit))
    except pint.UndefinedUnitError as exc:
        raise UnitParseError(f"unknown unit: {exc}") from None
    except Exception as exc:  # pint raises several types for unit text it cannot use
        raise UnitParseError(f"unit {unit!r}: {exc}") from None


def _finite(value: float, original: object, target: str) -> float:
    """`value` (`original` converted to `target`) if it is a finite float."""
    if not math.isfinite(value):
        raise UnitParseError(f"expected a finite number, found {shorten(original)}"
                             + ("" if original is value else f" (not finite in {target})"))
    return value


def _in_usd(q: pint.Quantity, rates: Mapping[str, float]) -> pint.Quantity:
    """`q` with every currency other than USD replaced by USD at `rates` (USD per unit
    of each code); a code without a rate is a `UnitParseError`."""
    for dim, power in dict(q.dimensionality).items():
        if not dim.startswith(_CURRENCY_DIM):
            continue
        code = dim[len(_CURRENCY_DIM):-1]
        if code not in rates:
            raise UnitParseError(_no_rate(code, repr(f"{q:~}"), rates))
        q = q * (ureg.Quantity(rates[code], "USD") / ureg.Quantity(1.0, code)) ** power
    return q


def _no_rate(code: str, value: str, rates: Mapping[str, float]) -> str:
    return (f"currency {code!r} in {value} has no exchange rate; known: "
            f"{', '.join(sorted({'USD', *rates}))} (add it to `currency_rates` in "
            "lines/economics.yaml)")


def parse_quantity(value: object, kind: str, rates: Mapping[str, float] = USD_ONLY) -> float:
    """Parse a quantity string (or a bare number for dimensionless kinds) into
    the canonical unit of `kind` and return the magnitude as a finite float.

    `rates`: USD per unit of each currency the text may use (the loaded data's
    `Economics.currency_rates`); by default only USD is known."""
    target = CANONICAL[kind]
    if isinstance(value, bool):
        raise UnitParseError(f"expected a quantity in {target}, found a boolean")
    if isinstance(value, (int, float)):
        try:
            number = _finite(float(value), value, target)
        except OverflowError:  # an integer beyond a float's range
            raise UnitParseError(f"the integer {shorten(value, 40)} is too large for a "
                                 "float") from None
        if kind == "fraction":
            return number
        raise UnitParseError(
            f"expected a quantity with a unit convertible to {target} "
            f"(e.g. \"{_example(kind)}\"), found the bare number {shorten(value)}"
        )
    if not isinstance(value, str):
        raise UnitParseError(f"expected a quantity string such as \"{_example(kind)}\", "
                             f"found {shorten(value)}")
    missing = _unknown_currency(value, rates)
    if missing:
        raise UnitParseError(_no_rate(missing, shorten(value), rates))
    q = _in_usd(_read(value, "quantity", _example(kind)), rates)
    try:
        out = q.to(target).magnitude
    except pint.DimensionalityError:
        raise UnitParseError(
            f"{shorten(value)} has dimension {q.dimensionality}, expected {kind} "
            f"convertible to {target} (e.g. \"{_example(kind)}\")"
        ) from None
    return _finite(float(out), value, target)


def _read(value: str, what: str, example: str) -> pint.Quantity:
    """`_parse`, with the error saying what was being read and an example."""
    try:
        return _parse(value.strip())
    except UnitParseError as exc:
        raise UnitParseError(f"cannot read {what} {shorten(value)}: {exc} "
                             f"(e.g. \"{example}\")") from None


def _unknown_currency(text: str, rates: Mapping[str, float]) -> str | None:
    # Currency codes are three capitals, optionally SI-prefixed (kUSD, MCNY); no
    # physical unit we use is spelled that way, so an unknown one is a missing rate.
    for m in _CURRENCY_WORD.finditer(text):
        if m.group(1) != "USD" and m.group(1) not in rates:
            return m.group(1)
    return None


_EXAMPLES = {
    "time": "8 h",
    "mass": "50 kg",
    "area": "120 m^2",
    "length": "15 um",
    "money": "2.2 MUSD",
    "power": "150 kW",
    "energy": "12 kWh",
    "charge": "68 A*h",
    "voltage": "3.7 V",
    "density": "4.65 g/cm^3",
    "specific_capacity": "213.6 mA*h/g",
    "molar_mass": "45.95 g/mol",
    "fraction": "95 %",
    "temperature": "-50 degC",
    "frequency": "2 1/yr",
    "price_mass": "2.5e6 CNY/t",
    "price_area": "0.9 USD/m^2",
    "price_volume": "10 USD/L",
    "price_energy": "0.08 USD/kWh",
    "price_time": "25 USD/h",
    "money_per_area_year": "50 USD/m^2/yr",
    "power_per_area": "0.025 kW/m^2",
    "areal_mass": "0.12 kg/m^2",
    "areal_capacity": "4 mA*h/cm^2",
    "pressure": "300 MPa",
    "energy_per_year": "10 GWh/yr",
    "mass_per_year": "800 t/yr",
    "gas_per_mass": "0.1 cm^3/g",
    "volume_flow": "2 m^3/h",
    "water_dose": "63.5 ppmv*h",
    "volume_per_year": "50 m^3/yr",
    "amount": "2.5 mol",
    "years": "10 yr",
}


def _example(kind: str) -> str:
    return _EXAMPLES.get(kind, CANONICAL[kind])


def parse_rate(value: object) -> tuple[float, str]:
    """Parse a rate such as "35 m^2/min", "60 sheet/min", "500 kg/h".

    Returns (rate per hour in the step's canonical unit, unit name) where the unit
    name is one of kg, m2, sheet, cell, lot. The caller checks it against the step.
    """
    return _in_step_unit(value, "/h", "rate", "60 sheet/min", "a rate of kg, m^2, sheet, "
                         "cell or lot per time")


def parse_amount(value: object) -> tuple[float, str]:
    """Parse an amount of a step's unit ("200 cell", "100 kg", "500 m^2")."""
    return _in_step_unit(value, "", "amount", "200 cell", "an amount of kg, m^2, sheet, "
                         "cell or lot")


def _in_step_unit(value: object, per: str, what: str, example: str,
                  expected: str) -> tuple[float, str]:
    """(magnitude in the first step unit whose dimension fits, that unit's name)."""
    if not isinstance(value, str):
        raise UnitParseError(f"expected {what} such as \"{example}\", found {shorten(value)}")
    q = _read(value, what, example)
    for unit_name, canonical in STEP_UNITS.items():
        try:
            out = float(q.to(f"{canonical}{per}").magnitude)
        except (pint.DimensionalityError, AttributeError):
            continue
        return _finite(out, value, f"{canonical}{per}"), unit_name
    raise UnitParseError(f"{shorten(value)} is not {expected} (e.g. \"{example}\")")


# The units a step can work on, and their canonical pint spelling.
STEP_UNITS: dict[str, str] = {
    "kg": "kg",
    "m2": "m**2",
    "sheet": "sheet",
    "cell": "cell",
    "lot": "lot",
}


# Dew points ssbfab accepts (°C). The Magnus formula below has a pole at -272.62 °C and
# is fitted to about -65 °C over ice; dry rooms run at -30 to -70 °C. Beyond this range
# a number is a typo (or Kelvin written as degC), not a dry room.
DEW_POINT_RANGE_C = (-100.0, 50.0)


def check_dew_point(dew_point_c: object) -> float:
    """A dew point in °C within DEW_POINT_RANGE_C, else ValueError saying what was
    found and what is expected (non-finite, below absolute zero, near the pole)."""
    if isinstance(dew_point_c, bool) or not isinstance(dew_point_c, (int, float)):
        raise ValueError(f"expected a dew point in degC, found {dew_point_c!r}")
    t = float(dew_point_c)
    if not math.isfinite(t):
        raise ValueError(f"expected a finite dew point, found {t!r} degC")
    low, high = DEW_POINT_RANGE_C
    if not low <= t <= high:
        why = (" (below absolute zero, -273.15 degC)" if t < -273.15 else
               " (near the pole of the Magnus formula at -272.62 degC)" if t < -200 else "")
        raise ValueError(f"dew point {t:g} degC{why} is outside {low:g} to {high:+g} degC, "
                         f"the range ssbfab turns a dew point into water content over")
    return t


def dew_point_to_ppmv(dew_point_c: float, pressure_hpa: float = 1013.25) -> float:
    """Water content (ppmv) of air with the given frost point (°C, within
    DEW_POINT_RANGE_C) at `pressure_hpa`, by the Magnus formula over ice:
    e = 6.112·exp(22.46·T/(272.62+T)) hPa (the WMO coefficients over ice).
    ValueError (`check_dew_point`) for any other dew point, and for a pressure that
    is not a positive finite number of hPa."""
    t = check_dew_point(dew_point_c)
    if not (isinstance(pressure_hpa, (int, float)) and math.isfinite(pressure_hpa)
            and pressure_hpa > 0):
        raise ValueError(f"expected a positive finite pressure in hPa, found {pressure_hpa!r}")
    e = 6.112 * math.exp(22.46 * t / (272.62 + t))
    return e / pressure_hpa * 1e6
