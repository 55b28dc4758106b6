"""Units: quantity strings from the data files parse into canonical floats.

Expected values are worked out by hand in each test (SI prefixes, minutes per hour,
the exchange rate written in lines/economics.yaml, the Magnus formula's published
values), never taken from the code under test.
"""

from __future__ import annotations

import math
import re
import time

import pytest

from ssbfab.data import units
from ssbfab.data.units import (
    UnitParseError,
    dew_point_to_ppmv,
    parse_amount,
    parse_quantity,
    parse_rate,
)

# ----------------------------------------------------------------------------- plain units


@pytest.mark.parametrize("text, kind, expected", [
    ("99.5 %", "fraction", 0.995),
    ("95%", "fraction", 0.95),
    ("0.5", "fraction", 0.5),
    ("-50 degC", "temperature", -50.0),
    ("223.15 K", "temperature", -50.0),
    ("15 um", "length", 15e-6),
    ("15 µm", "length", 15e-6),
    ("0.25 m", "length", 0.25),
    ("2.2 MUSD", "money", 2.2e6),
    ("500 kUSD", "money", 5.0e5),
    ("8 h", "time", 8.0),
    ("90 min", "time", 1.5),
    ("2 d", "time", 48.0),
    ("4.65 g/cm^3", "density", 4650.0),
    ("213.6 mA*h/g", "specific_capacity", 213.6),
    ("0.2136 A*h/g", "specific_capacity", 213.6),
    ("68 A*h", "charge", 68.0),
    ("3.67 V", "voltage", 3.67),
    ("250 kW", "power", 250.0),
    ("1.2 MW", "power", 1200.0),
    ("300000 m^2", "area", 3.0e5),
    ("10 GWh/yr", "energy_per_year", 10.0),
    ("12 1/yr", "frequency", 12.0 / (365.25 * 24)),  # pint's year is the Julian year
    ("0.1 cm^3/g", "gas_per_mass", 0.1),
    ("10 USD/L", "price_volume", 1.0e4),  # 10 USD per 1e-3 m^3
    ("0.9 USD/m^2", "price_area", 0.9),
    ("26 USD/kg", "price_mass", 26.0),
])
def test_quantities_parse_to_the_canonical_unit(text, kind, expected):
    assert parse_quantity(text, kind) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("text, per_hour, unit", [
    ("84 m^2/min", 84 * 60.0, "m2"),
    ("35 m^2/min", 2100.0, "m2"),
    ("300 sheet/min", 18000.0, "sheet"),
    ("600 sheets/min", 36000.0, "sheet"),
    ("2.4 cell/min", 144.0, "cell"),
    ("150 kg/h", 150.0, "kg"),
    ("12 t/d", 500.0, "kg"),
    ("1 lot/h", 1.0, "lot"),
])
def test_rates_parse_per_hour_with_the_unit_they_count(text, per_hour, unit):
    value, u = parse_rate(text)
    assert value == pytest.approx(per_hour, rel=1e-12)
    assert u == unit


@pytest.mark.parametrize("text, amount, unit", [
    ("2000 cell", 2000.0, "cell"),
    ("50000 sheet", 50000.0, "sheet"),
    ("5000 m^2", 5000.0, "m2"),
    ("0.5 t", 500.0, "kg"),
    ("200 kg", 200.0, "kg"),
])
def test_amounts_of_a_step_unit(text, amount, unit):
    assert parse_amount(text) == (pytest.approx(amount, rel=1e-12), unit)


# ----------------------------------------------------------------------------- bad text


@pytest.mark.parametrize("text, kind", [
    ("35 m/min", "mass"),
    ("8 h", "length"),
    ("3 kW", "energy"),
    ("26 USD/kg", "price_area"),
    ("95 kg", "fraction"),
])
def test_wrong_dimension_is_refused_and_says_what_was_expected(text, kind):
    with pytest.raises(UnitParseError) as exc:
        parse_quantity(text, kind)
    msg = str(exc.value)
    assert repr(text) in msg
    assert kind in msg and units.CANONICAL[kind] in msg


@pytest.mark.parametrize("text", ["fast", "12 furlongz", "3 kg kg(", "", "1e400 kg"])
def test_unreadable_text_is_refused(text):
    with pytest.raises(UnitParseError):
        parse_quantity(text, "mass")


def test_a_bare_number_needs_a_unit_unless_it_is_a_fraction():
    with pytest.raises(UnitParseError, match="bare number"):
        parse_quantity(8, "time")
    with pytest.raises(UnitParseError):
        parse_quantity(True, "fraction")
    assert parse_quantity(0.97, "fraction") == 0.97


@pytest.mark.parametrize("text", ["3 kW", "40 m^2", "fast per minute"])
def test_a_rate_must_count_a_step_unit_per_time(text):
    with pytest.raises(UnitParseError):
        parse_rate(text)


# ----------------------------------------------------------------------------- currencies


def test_cny_per_tonne_converts_through_the_economics_table(shared):
    # lines/economics.yaml: CNY = 0.1486 USD (IRS 2022 yearly average, 6.730 CNY/USD)
    rates = shared.economics.currency_rates
    assert rates["CNY"] == pytest.approx(0.1486, rel=1e-12)
    # 2.5e6 CNY per tonne = 2.5e6 * 0.1486 USD / 1000 kg = 371.5 USD/kg
    assert parse_quantity("2.5e6 CNY/t", "price_mass", rates) == pytest.approx(371.5, rel=1e-12)
    # prefixes apply to currencies too: 2.5 MCNY/t is the same price
    assert parse_quantity("2.5 MCNY/t", "price_mass", rates) == pytest.approx(371.5, rel=1e-12)
    # EUR = 1.0515 USD: 1 kEUR = 1051.5 USD
    assert parse_quantity("1 kEUR", "money", rates) == pytest.approx(1051.5, rel=1e-12)
    # a currency in the denominator divides by its rate: 1 kg/CNY = 1/0.1486 kg/USD
    assert parse_quantity("2 USD/CNY", "fraction", rates) == pytest.approx(2 / 0.1486, rel=1e-12)


def test_unknown_currency_names_the_currency_and_where_to_add_it(shared):
    with pytest.raises(UnitParseError) as exc:
        parse_quantity("5 GBP/kg", "price_mass", shared.economics.currency_rates)
    msg = str(exc.value)
    assert "'GBP'" in msg and "no exchange rate" in msg and "economics.yaml" in msg
    assert "CNY" in msg and "USD" in msg  # the known ones are listed


def test_without_a_rate_table_only_usd_is_known():
    assert parse_quantity("2 kUSD", "money") == pytest.approx(2000.0)
    with pytest.raises(UnitParseError, match="'CNY'.*no exchange rate; known: USD"):
        parse_quantity("2.5e6 CNY/t", "price_mass")


def test_two_rate_tables_in_one_process_each_give_their_own_price():
    # the registry holds no rate: the same text, two tables, two prices in their ratio
    low = parse_quantity("1e6 CNY/t", "price_mass", {"CNY": 0.125})
    high = parse_quantity("1e6 CNY/t", "price_mass", {"CNY": 0.375})
    assert (low, high) == (pytest.approx(125.0, rel=1e-12), pytest.approx(375.0, rel=1e-12))
    assert parse_quantity("1e6 CNY/t", "price_mass", {"CNY": 0.125}) == low  # no leak back


def test_two_data_sets_with_different_rates_load_side_by_side(tmp_path, lines_dir):
    """Two copies of lines/ whose only difference is the CNY rate, loaded in one
    process in turn: each prices CNY-quoted materials through its own rate (the
    ratio of their Li2S prices is the ratio of their rates, 0.27456 / 0.13728 = 2),
    and USD-quoted ones alike."""
    import shutil

    from ssbfab.data import load_shared

    other = tmp_path / "lines"
    shutil.copytree(lines_dir, other)
    eco = other / "economics.yaml"
    text = eco.read_text()
    assert text.count('CNY: "0.13728 USD"') == 1  # the 2025 rate, Li2S's year
    eco.write_text(text.replace('CNY: "0.13728 USD"', 'CNY: "0.27456 USD"'))
    a = load_shared(lines_dir)
    b = load_shared(other)
    a_again = load_shared(lines_dir)
    pa, pb = (s.materials["Li2S"].price_per_unit[0] for s in (a, b))
    assert pa == pytest.approx(343.2, rel=1e-12)  # 2.5e6 CNY/t * 0.13728 / 1000 by hand
    assert pb / pa == pytest.approx(2.0, rel=1e-12)
    assert a_again.materials["Li2S"].price_per_unit == a.materials["Li2S"].price_per_unit
    usd = [n for n, m in a.materials.items()
           if m.price is not None and "USD" in getattr(m.price, "value", m.price)]
    assert usd and all(a.materials[n].price_per_unit == b.materials[n].price_per_unit
                       for n in usd)


def test_a_currency_does_not_convert_to_another_without_a_rate():
    # what is left of a currency after parsing is its own dimension, never USD
    q = units._parse("3 CNY")
    with pytest.raises(Exception, match="currency_CNY"):
        q.to("USD")


# ----------------------------------------------------------------------------- dew point


@pytest.mark.parametrize("dew_point, ppmv, tol", [
    (-40.0, 127.0, 1.0),  # REFERENCE.md section 2 (GM R&D measured ~126 ppm)
    (-50.0, 39.0, 0.5),
    (-60.0, 10.7, 0.1),
])
def test_dew_point_to_ppmv_matches_the_published_magnus_values(dew_point, ppmv, tol):
    assert dew_point_to_ppmv(dew_point) == pytest.approx(ppmv, abs=tol)


def test_dew_point_to_ppmv_by_hand_at_minus_40():
    # e = 6.112 hPa * exp(22.46 * -40 / (272.62 - 40)) = 0.12851 hPa; / 1013.25 hPa * 1e6
    e = 6.112 * math.exp(22.46 * -40.0 / 232.62)
    assert e == pytest.approx(0.12851, rel=1e-4)
    assert dew_point_to_ppmv(-40.0) == pytest.approx(e / 1013.25 * 1e6, rel=1e-12)
    # drier air holds less water, and a lower pressure means more ppmv for the same e
    assert dew_point_to_ppmv(-60.0) < dew_point_to_ppmv(-50.0) < dew_point_to_ppmv(-40.0)
    assert dew_point_to_ppmv(-40.0, pressure_hpa=900.0) > dew_point_to_ppmv(-40.0)


# ----------------------------------------------------------------------------- quantity syntax


@pytest.mark.parametrize("text, kind, expected", [
    ("1.5e3 kg", "mass", 1500.0),
    ("+.5 m", "length", 0.5),
    ("5. h", "time", 5.0),
    ("3 m ** 2", "area", 3.0),
    ("3 m²", "area", 3.0),
    ("40 1/yr", "frequency", 40.0 / (365.25 * 24)),
    ("  95 %  ", "fraction", 0.95),
])
def test_a_number_and_a_unit_is_read(text, kind, expected):
    assert parse_quantity(text, kind) == pytest.approx(expected, rel=1e-12)


def test_a_compound_unit_with_parentheses_and_powers():
    # 7200 kg per (m² h) = 7200 kg/m² per hour = 2 kg/m² per second
    q = units._parse("7200 kg/(m^2*h)")
    assert q.to("kg/m**2/s").magnitude == pytest.approx(2.0, rel=1e-12)
    assert units._parse("2 m^-1").to("1/m").magnitude == pytest.approx(2.0, rel=1e-12)


@pytest.mark.parametrize("text, says", [
    ("97 %%", "two units side by side"),
    ("97 % %", "two units side by side"),
    ("3 mA h/g", "two units side by side"),
    ("9**9**9 %", "expected a unit name after the number"),
    ("2*3 kg", "expected a unit name after the number"),
    ("(2) kg", "does not start with a number"),
    ("nan kg", "does not start with a number"),
    ("inf", "does not start with a number"),
    ("1e400 kg", "too large"),
    ("2 m^0", "exponent 0"),
    ("2 m^12", "exponent 12"),
    ("2 m^1.5", "exponent 1.5"),
    ("2 m^2^3", "a power of a power"),
    ("2 (m", "unfinished"),
    ("2 m)", "without its '('"),
    ("2 kg/", "unfinished"),
    ("2 kg; rm -rf", "cannot read ';"),
    ("1" * 201, "at most 200 characters"),
])
def test_anything_but_a_number_and_a_unit_is_refused_with_the_reason(text, says):
    with pytest.raises(UnitParseError, match=re.escape(says)):
        parse_quantity(text, "mass")


@pytest.mark.parametrize("text", ["9**9**9 %", "9" * 100_000 + " %", "(" * 150 + "1 kg",
                                  "1 " + "kg*" * 66 + "kg"])
def test_hostile_quantities_are_answered_at_once(text):
    # pint's expression parser never returned on the first and took minutes on the second
    t0 = time.perf_counter()
    with pytest.raises(UnitParseError):
        parse_quantity(text, "fraction")
    assert time.perf_counter() - t0 < 0.5


@pytest.mark.parametrize("value, says", [
    (float("nan"), "finite"), (float("inf"), "finite"), (-float("inf"), "finite"),
    (10**400, "too large for a float"), ("1e308 km", "finite"),
])
def test_every_value_is_finite(value, says):
    kind = "length" if isinstance(value, str) else "fraction"
    with pytest.raises(UnitParseError, match=says):
        parse_quantity(value, kind)
    with pytest.raises(UnitParseError):
        parse_rate("1e308 km/s" if isinstance(value, str) else "1e400 kg/h")


def test_dew_point_outside_the_magnus_range_is_refused():
    with pytest.raises(ValueError, match="outside"):
        dew_point_to_ppmv(-272.62)  # the formula's pole
    with pytest.raises(ValueError, match="outside"):
        dew_point_to_ppmv(-150.0)
