"""Units: one pint registry for the whole project.

Every quantity in `lines/` is written as a string with its unit ("2.5e6 CNY/t",
"35 m/min", "-50 degC", "2.2 MUSD", "99.5 %"). Inside the code each field holds a
plain float in one *canonical* unit chosen per dimension (hours, kg, m², USD, kW,
kWh ...), so that the simulator and optimiser do arithmetic on floats while the
data keeps its units.

Currencies are a dimension of their own (`[currency]`) with USD as the base; other
currencies are defined from one table of exchange rates (lines/economics.yaml) by
`configure_currencies`, so "2.5e6 CNY/t" converts to USD/kg through that table and
nowhere else. `cell` and `sheet` are counting dimensions of their own, so that a
rate in sheets per minute cannot be given to a step that makes cells.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache

import pint

ureg = pint.UnitRegistry(autoconvert_offset_to_baseunit=True)
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
    "gas_per_mass": "cm**3/g",
    "amount": "mol",
    "years": "year",
}


class UnitParseError(ValueError):
    """A quantity string that could not be read, or read with the wrong dimension."""


_CURRENCIES: dict[str, float] = {"USD": 1.0}


def configure_currencies(rates_usd_per_unit: dict[str, float]) -> None:
    """Define each currency from its rate in USD per unit (e.g. CNY: 0.139).

    Prefixed forms (kUSD, MUSD, MCNY) come from pint's SI prefixes. Redefining a
    currency with the same rate is a no-op; a different rate is refused because
    pint cannot redefine units and two rates in one process would be two truths.
    """
    for code, rate in rates_usd_per_unit.items():
        if code == "USD":
            continue
        if code in _CURRENCIES:
            if not math.isclose(_CURRENCIES[code], rate, rel_tol=1e-12):
                raise ValueError(
                    f"currency {code} already defined at {_CURRENCIES[code]} USD, not {rate}"
                )
            continue
        ureg.define(f"{code} = {rate!r} USD")
        _CURRENCIES[code] = rate
    _parse.cache_clear()


def known_currencies() -> dict[str, float]:
    return dict(_CURRENCIES)


_PERCENT = re.compile(r"(?<![\w])%")
_CURRENCY_WORD = re.compile(r"(?<![A-Za-z])[kMG]?([A-Z]{3})(?![A-Za-z])")


def _normalise(text: str) -> str:
    # pint reads "%" only in some versions; spell it out. "µ" and "um" both mean micro.
    text = _PERCENT.sub(" percent", text)
    return text.replace("µ", "u").replace("²", "**2").replace("³", "**3")


@lru_cache(maxsize=4096)
def _parse(text: str) -> pint.Quantity:
    return ureg.Quantity(_normalise(text))


def parse_quantity(value: object, kind: str) -> float:
    """Parse a quantity string (or a bare number for dimensionless kinds) into
    the canonical unit of `kind` and return the magnitude as a float."""
    target = CANONICAL[kind]
    if isinstance(value, bool):
        raise UnitParseError(f"expected a quantity in {target}, found a boolean")
    if isinstance(value, (int, float)):
        if kind == "fraction":
            return float(value)
        raise UnitParseError(
            f"expected a quantity with a unit convertible to {target} "
            f"(e.g. \"{_example(kind)}\"), found the bare number {value!r}"
        )
    if not isinstance(value, str):
        raise UnitParseError(f"expected a quantity string such as \"{_example(kind)}\"")
    text = value.strip()
    missing = _unknown_currency(text)
    if missing:
        raise UnitParseError(
            f"currency {missing!r} in {value!r} has no exchange rate; "
            f"known: {', '.join(sorted(_CURRENCIES))} (add it to lines/economics.yaml currencies.rates)"
        )
    try:
        q = _parse(text)
    except Exception as exc:  # pint raises several types for unreadable text
        raise UnitParseError(f"cannot read quantity {value!r}: {exc}") from None
    if not isinstance(q, pint.Quantity):
        q = ureg.Quantity(q)
    try:
        out = q.to(target).magnitude
    except pint.DimensionalityError:
        raise UnitParseError(
            f"{value!r} has dimension {q.dimensionality}, expected {kind} "
            f"convertible to {target} (e.g. \"{_example(kind)}\")"
        ) from None
    out = float(out)
    if not math.isfinite(out):
        raise UnitParseError(f"{value!r} is not a finite number")
    return out


def _unknown_currency(text: str) -> str | None:
    # Currency codes are three capitals, optionally SI-prefixed (kUSD, MCNY); no
    # physical unit we use is spelled that way, so an unknown one is a missing rate.
    for m in _CURRENCY_WORD.finditer(text):
        if m.group(1) not in _CURRENCIES:
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
    "gas_per_mass": "0.1 cm^3/g",
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
        raise UnitParseError(f"expected {what} such as \"{example}\", found {value!r}")
    try:
        q = _parse(value.strip())
    except Exception as exc:
        raise UnitParseError(f"cannot read {what} {value!r}: {exc}") from None
    for unit_name, canonical in STEP_UNITS.items():
        try:
            return float(q.to(f"{canonical}{per}").magnitude), unit_name
        except (pint.DimensionalityError, AttributeError):
            continue
    raise UnitParseError(f"{value!r} is not {expected} (e.g. \"{example}\")")


# The units a step can work on, and their canonical pint spelling.
STEP_UNITS: dict[str, str] = {
    "kg": "kg",
    "m2": "m**2",
    "sheet": "sheet",
    "cell": "cell",
    "lot": "lot",
}


def dew_point_to_ppmv(dew_point_c: float, pressure_hpa: float = 1013.25) -> float:
    """Water content (ppmv) of air with the given frost point, by the Magnus
    formula over ice: e = 6.112·exp(22.46·T/(272.62+T)) hPa (the WMO coefficients over ice)."""
    e = 6.112 * math.exp(22.46 * dew_point_c / (272.62 + dew_point_c))
    return e / pressure_hpa * 1e6
