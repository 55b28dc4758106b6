"""Cell design and bill of materials against hand computations.

Each test writes out the numbers of the route file (and of lines/materials.yaml)
as literals and redoes the design rules by hand: solid density of a composite,
areal loading, areal capacity, area, masses, Wh/kg, Wh/L. Materials bought are
checked against "design amount / product of the yields downstream of where the
material enters", and the liquid baseline against BatPaC 5.0's published
material-yield rule.
"""

from __future__ import annotations

import textwrap

import pytest

from ssbfab import bom, flow
from ssbfab.cell import design
from ssbfab.data import load_route, resolve_route

REL = 1e-9  # the hand computation follows the same rules, so only rounding differs


def solid_density(parts):
    """ρs = 1 / Σ wᵢ/ρᵢ, in the units of the ρᵢ given."""
    return 1.0 / sum(w / rho for w, rho in parts)


def pouch_volume_l(w, h, ratio, stack, seal=0.003, tab=0.010, film=0.15e-3):
    """Outer volume (L) of a pouch with tabs at both ends of the height: the anode sheet
    is the cathode's W x H grown by a uniform overhang d, (W+2d)(H+2d) = ratio·W·H."""
    d = (-(w + h) + ((w + h) ** 2 + 4 * (ratio - 1) * w * h) ** 0.5) / 4
    assert (w + 2 * d) * (h + 2 * d) == pytest.approx(ratio * w * h, rel=1e-12)
    return (w + 2 * d + 2 * seal) * (h + 2 * d + 2 * tab) * (stack + 2 * film) * 1000


@pytest.fixture(scope="module")
def liquid(shared, lines_dir):
    return resolve_route("liquid-nmc811-graphite", lines_dir, shared=shared)


@pytest.fixture(scope="module")
def halide(shared, lines_dir):
    return resolve_route("halide-catholyte", lines_dir, shared=shared)


@pytest.fixture(scope="module")
def oxide(shared, lines_dir):
    return resolve_route("oxide-llzo", lines_dir, shared=shared)


# ----------------------------------------------------------------------------- liquid baseline


def test_liquid_baseline_cell_by_hand(liquid):
    c = design(liquid)
    # cathode: NMC811 96 % (4.65 g/cm3, 213.6 mAh/g), carbon 2 % (1.95), PVDF 2 % (1.78);
    # 66.5 um per side, 25 % porosity
    rho_c = solid_density([(0.96, 4650.0), (0.02, 1950.0), (0.02, 1780.0)])  # kg/m3
    assert rho_c == pytest.approx(4387.1, rel=1e-4)
    m_c = 66.5e-6 * (1 - 0.25) * rho_c  # kg/m2 per side
    q_c = m_c * 0.96 * 213.6  # Ah/m2 (mAh/g = Ah/kg)
    # BatPaC 5.0's plant: 68 Ah per cell over 303 M m2 / 200 M cells = 4.49 mAh/cm2
    assert q_c / 10 == pytest.approx(68 / (303e6 / 200e6) / 10, rel=2e-3)
    assert c.cathode_areal_capacity_mah_cm2 == pytest.approx(q_c / 10, rel=REL)
    a_c = 68.0 / q_c
    assert c.cathode_area_m2 == pytest.approx(a_c, rel=REL)
    # anode: graphite 98 % (2.24, 360.4 mAh/g) + binder 2 % (1.1), 30 % porosity,
    # N/P 1.1, anode area 1.04 x cathode area
    a_a = 1.04 * a_c
    m_a = 1.1 * q_c / 360.4 / 0.98  # kg/m2 per side
    t_a = m_a / ((1 - 0.30) * solid_density([(0.98, 2240.0), (0.02, 1100.0)]))
    assert c.anode_area_m2 == pytest.approx(a_a, rel=REL)
    # foils: one m2 of foil carries two m2 of coating; Al 15 um, Cu 10 um
    al, cu = a_c / 2, a_a / 2
    # separator: 15 um, 50 % porosity, 0.473 g/cm3 as a film, bought by area
    sep_mass = 15e-6 * 473.0 * a_a
    # electrolyte fills the pores of both electrodes and the separator (1.2 g/cm3)
    pores = 0.25 * 66.5e-6 * a_c + 0.30 * t_a * a_a + 0.50 * 15e-6 * a_a
    mass = (m_c * a_c + m_a * a_a + al * 15e-6 * 2700 + cu * 10e-6 * 8960 + sep_mass
            + 1200 * pores + 0.025 + 0.012)
    # the stack: one cathode, anode and separator layer per coated cathode face (a_c / W·H
    # faces of 0.10 m x 0.30 m), a foil per two faces; the pouch of the route file
    faces = a_c / 0.03
    stack = faces * (66.5e-6 + 15e-6 / 2 + t_a + 10e-6 / 2 + 15e-6)
    assert c.stack_thickness_m == pytest.approx(stack, rel=REL)
    volume_l = pouch_volume_l(0.10, 0.30, 1.04, stack)
    energy = 68 * 3.67
    assert c.energy_wh == pytest.approx(energy, rel=REL)
    assert c.mass_kg == pytest.approx(mass, rel=REL)
    assert c.volume_l == pytest.approx(volume_l, rel=REL)
    assert c.wh_per_kg == pytest.approx(energy / mass, rel=REL)
    assert c.wh_per_l == pytest.approx(energy / volume_l, rel=REL)
    # the design BOM in each material's purchase basis
    b = c.design_bom
    assert (b["NMC811"].unit, b["NMC811"].value) == ("kg", pytest.approx(0.96 * m_c * a_c, rel=REL))
    assert (b["Al_foil"].unit, b["Al_foil"].value) == ("m2", pytest.approx(al, rel=REL))
    assert (b["Cu_foil"].unit, b["Cu_foil"].value) == ("m2", pytest.approx(cu, rel=REL))
    assert (b["electrolyte_LiPF6"].unit, b["electrolyte_LiPF6"].value) == (
        "m3", pytest.approx(pores, rel=REL))
    # sheets: double-sided 0.10 m x 0.30 m electrodes
    assert c.refs["cathode.sheets"].value == pytest.approx(a_c / (2 * 0.03), rel=REL)


def test_a_film_priced_per_m2_is_bought_by_area_and_still_weighs(liquid):
    c = design(liquid)
    sep = c.design_bom["separator_film"]
    assert sep.unit == "m2"
    assert sep.value == pytest.approx(c.separator_area_m2, rel=REL)
    # the film's mass (15 um x 0.473 g/cm3 x area) is part of the cell's mass: removing
    # every other part leaves exactly it
    others = sum(q.value for n, q in c.design_bom.items() if q.unit == "kg")
    foils = c.design_bom["Al_foil"].value * 15e-6 * 2700 + c.design_bom["Cu_foil"].value * 10e-6 * 8960
    liquid_mass = c.design_bom["electrolyte_LiPF6"].value * 1200
    assert c.mass_kg - others - foils - liquid_mass == pytest.approx(
        15e-6 * 473.0 * c.separator_area_m2, rel=1e-9)
    # and its cost is area x 0.9 $/m2 (BatPaC 5.0), not a price per kg
    line = {b.material: b for b in bom.bill_of_materials(liquid, flow.nominal_yields(liquid, "dp-40"), c)}
    assert line["separator_film"].unit == "m2"
    assert line["separator_film"].cost_per_cell == pytest.approx(0.9 * line["separator_film"].quantity)


def test_liquid_materials_cost_sits_in_the_batpac_band(liquid):
    # BatPaC 5.0 NMC811-graphite at default prices: cell materials about 55-65 $/kWh
    cost = bom.materials_cost_per_kwh(liquid, flow.nominal_yields(liquid, "dp-40"))
    assert 55.0 <= cost <= 66.0


def test_batpac_material_yield_rule_on_the_liquid_route(liquid):
    """Material bought per accepted cell = design mass / (material yield x cell yield),
    with BatPaC 5.0's published yields (REFERENCE.md section 1)."""
    c = design(liquid)
    y = flow.nominal_yields(liquid, "dp-40")
    bought = flow.requirements(liquid, y, c.refs).bought
    cell_yield = 0.95
    electrode = 0.99 * 0.95 * 0.99 * 0.99  # mixing x coating x slitting x stacking
    foil = 0.95 * 0.92 * 0.99  # coating x slitting x stacking
    # the route's cell yield (formation x ageing x end-of-line test) is BatPaC's 95 %
    assert y["formation"] * y["ageing"] * y["eol_test"] == pytest.approx(cell_yield, rel=1e-4)
    for m in ("NMC811", "graphite", "carbon_black", "PVDF", "anode_binder"):
        expected = c.design_bom[m].value / (electrode * cell_yield)
        assert bought[m] == pytest.approx(expected, rel=1e-4), m
    for m in ("Al_foil", "Cu_foil"):
        expected = c.design_bom[m].value / (foil * cell_yield)
        assert bought[m] == pytest.approx(expected, rel=1e-4), m
    # NMP: 0.1195 kg/m2 on the coated area started, 99.5 % recovered
    started_area = c.cathode_area_m2 / (0.95 * 0.99 * 0.99 * cell_yield)
    assert bought["NMP"] == pytest.approx(0.1195 * 0.005 * started_area, rel=1e-4)


# ----------------------------------------------------------------------------- all-solid


def test_halide_cell_by_hand(halide):
    c = design(halide)
    # cathode: NMC811 75 % (4.65), Li2ZrCl6 22 % (2.95), carbon fibre 1.5 % (2.0),
    # binder 1.5 % (1.0); 100 um, 10 % porosity; first-cycle efficiency 88 %
    rho_c = solid_density([(0.75, 4650.0), (0.22, 2950.0), (0.015, 2000.0), (0.015, 1000.0)])
    m_c = 100e-6 * 0.90 * rho_c
    q_c = m_c * 0.75 * 213.6 * 0.88
    a_c = 70.0 / q_c
    assert c.cathode_areal_capacity_mah_cm2 == pytest.approx(q_c / 10, rel=REL)
    assert c.cathode_area_m2 == pytest.approx(a_c, rel=REL)
    # anode: micron Si 99 % (2.33, 2500 mAh/g) + binder 1 % (1.0), 40 % porosity, N/P 1.15,
    # area ratio 1.02; Cu 8 um
    a_a = 1.02 * a_c
    m_a = 1.15 * q_c / 2500.0 / 0.99
    t_a = m_a / (0.60 * solid_density([(0.99, 2330.0), (0.01, 1000.0)]))
    # separator: LPSCl 95 % (1.86) + binder 5 % (1.0), 30 um, 5 % porosity
    rho_s = solid_density([(0.95, 1860.0), (0.05, 1000.0)])
    sep_mass = 30e-6 * 0.95 * rho_s * a_a
    mass = (m_c * a_c + m_a * a_a + sep_mass + (a_c / 2) * 12e-6 * 2700
            + (a_a / 2) * 8e-6 * 8960 + 0.025 + 0.008)
    # 0.10 m x 0.25 m sheets in the route file's pouch
    stack = a_c / 0.025 * (100e-6 + 12e-6 / 2 + t_a + 8e-6 / 2 + 30e-6)
    volume_l = pouch_volume_l(0.10, 0.25, 1.02, stack)
    energy = 70 * 3.55
    assert c.mass_kg == pytest.approx(mass, rel=REL)
    assert c.volume_l == pytest.approx(volume_l, rel=REL)
    assert c.wh_per_kg == pytest.approx(energy / mass, rel=REL)
    assert c.wh_per_l == pytest.approx(energy / volume_l, rel=REL)
    # no liquid in an all-solid cell; the made electrolytes appear in the design BOM by mass
    assert "liquid.volume" not in c.refs
    assert c.design_bom["LPSCl"].value == pytest.approx(0.95 * sep_mass, rel=REL)
    assert c.design_bom["Li2ZrCl6"].value == pytest.approx(0.22 * m_c * a_c, rel=REL)


def test_oxide_cell_with_metal_anode_by_hand(oxide):
    c = design(oxide)
    # cathode: NMC811 80 % (4.65), PVDF-HFP 8 % (1.78), LiTFSI 8 % (1.33), carbon 4 % (1.95);
    # 80 um, 5 % porosity, first-cycle efficiency 90 %
    rho_c = solid_density([(0.80, 4650.0), (0.08, 1780.0), (0.08, 1330.0), (0.04, 1950.0)])
    m_c = 80e-6 * 0.95 * rho_c
    q_c = m_c * 0.80 * 213.6 * 0.90
    a_c = 60.0 / q_c
    a_a = 1.02 * a_c
    # Li metal 20 um (0.534 g/cm3) on Cu 8 um; LLZO 30 um (5.1 g/cm3) at 5 % porosity
    li = 20e-6 * 534.0 * a_a
    llzo = 30e-6 * 0.95 * 5100.0 * a_a
    mass = (m_c * a_c + li + llzo + (a_c / 2) * 12e-6 * 2700 + (a_a / 2) * 8e-6 * 8960
            + 0.022 + 0.008)
    stack = a_c / 0.025 * (80e-6 + 12e-6 / 2 + 20e-6 + 8e-6 / 2 + 30e-6)
    volume_l = pouch_volume_l(0.10, 0.25, 1.02, stack)
    assert c.cathode_area_m2 == pytest.approx(a_c, rel=REL)
    assert c.design_bom["Li_metal"].value == pytest.approx(li, rel=REL)
    assert c.design_bom["LLZO"].value == pytest.approx(llzo, rel=REL)
    assert c.mass_kg == pytest.approx(mass, rel=REL)
    assert c.volume_l == pytest.approx(volume_l, rel=REL)
    assert c.wh_per_kg == pytest.approx(60 * 3.7 / mass, rel=REL)
    # separator sheets: one per cathode face, each the anode's size (0.10 x 0.25 m x 1.02)
    assert c.refs["separator.sheets"].value == pytest.approx(a_a / (0.025 * 1.02), rel=REL)
    assert c.refs["separator.sheets"].value == pytest.approx(2 * c.refs["cathode.sheets"].value)


# ----------------------------------------------------------------------------- bought vs yields

SMALL_LINE = """\
name: small
form: all-solid
electrolyte: sulfide
source: illustrative
cell:
  capacity: "10 A*h"
  nominal_voltage: "3.7 V"
  electrode_width: "0.1 m"
  electrode_height: "0.1 m"
  cathode:
    components: {NMC811: "90 %", carbon_black: "10 %"}
    active: NMC811
    thickness: "50 um"
    porosity: "20 %"
    collector: Al_foil
    collector_thickness: "10 um"
  metal_anode: {material: Li_metal, thickness: "20 um"}
  separator:
    components: {LPSCl: "100 %"}
    thickness: "30 um"
  packaging: {pouch_laminate: "5 g"}
plant: {floor_area: "1000 m^2", dry_room_area: "500 m^2", default_capacity: "0.01 GWh/yr"}
line:
  - name: milling
    unit: kg
    per_cell: material.LPSCl
    makes: LPSCl
    yield: "80 %"
    lot_size: "10 kg"
    options: [{name: mill, capex: "1 MUSD", batch: "10 kg", cycle_time: "1 h", footprint: "10 m^2"}]
  - name: separator
    unit: m2
    per_cell: separator.area
    inputs: [milling]
    yield: "90 %"
    lot_size: "10 m^2"
    options: [{name: coater, capex: "1 MUSD", rate: "1 m^2/min", footprint: "10 m^2"}]
  - name: mixing
    unit: kg
    per_cell: cathode.mass
    yield: "95 %"
    materials:
      - {material: NMC811, amount: cathode.NMC811}
      - {material: carbon_black, amount: cathode.carbon_black}
    lot_size: "10 kg"
    options: [{name: mixer, capex: "1 MUSD", rate: "10 kg/h", footprint: "10 m^2"}]
  - name: coating
    unit: m2
    per_cell: cathode.area
    inputs: [mixing]
    levels:
      - {name: fast, yield: "70 %", rate_factor: 2}
      - {name: slow, yield: "85 %"}
    materials:
      - {material: Al_foil, amount: collector.cathode}
    lot_size: "10 m^2"
    options: [{name: coater, capex: "1 MUSD", rate: "1 m^2/min", footprint: "10 m^2"}]
  - name: anode
    unit: m2
    per_cell: anode.area
    yield: "97 %"
    materials:
      - {material: Li_metal, amount: anode.Li_metal}
    lot_size: "10 m^2"
    options: [{name: roller, capex: "1 MUSD", rate: "1 m^2/min", footprint: "10 m^2"}]
  - name: assembly
    unit: cell
    per_cell: cell
    inputs: [separator, coating, anode]
    yield: "75 %"
    materials:
      - {material: pouch_laminate, amount: packaging.pouch_laminate}
    lot_size: "10 cell"
    options: [{name: stacker, capex: "1 MUSD", rate: "1 cell/min", footprint: "10 m^2"}]
  - name: test
    unit: cell
    per_cell: cell
    inputs: [assembly]
    yield: "60 %"
    lot_size: "10 cell"
    options: [{name: tester, capex: "1 MUSD", rate: "1 cell/min", footprint: "10 m^2"}]
"""


@pytest.fixture(scope="module")
def small(shared, tmp_path_factory):
    p = tmp_path_factory.mktemp("small") / "small.yaml"
    p.write_text(textwrap.dedent(SMALL_LINE))
    return load_route(p, shared=shared)


@pytest.mark.parametrize("level, coating_yield", [("fast", 0.70), ("slow", 0.85)])
def test_bought_is_design_over_the_yields_downstream_of_entry(small, level, coating_yield):
    c = design(small)
    y = flow.nominal_yields(small, None, {"coating": level})
    lines = {b.material: b for b in bom.bill_of_materials(small, y, c)}
    d = {n: r.value for n, r in c.design_bom.items()}
    end = 0.75 * 0.60  # assembly x test: every material passes both
    # cathode materials enter at mixing and pass mixing, coating, assembly, test
    for m in ("NMC811", "carbon_black"):
        assert lines[m].quantity == pytest.approx(d[m] / (0.95 * coating_yield * end), rel=1e-12)
    # the foil enters at coating, Li at the anode step, the pouch at assembly
    assert lines["Al_foil"].quantity == pytest.approx(d["Al_foil"] / (coating_yield * end), rel=1e-12)
    assert lines["Li_metal"].quantity == pytest.approx(d["Li_metal"] / (0.97 * end), rel=1e-12)
    assert lines["pouch_laminate"].quantity == pytest.approx(0.005 / end, rel=1e-12)
    # LPSCl is made, not bought: its raws are bought by mass fraction of the recipe
    # Li6PS5Cl = 2.5 Li2S + 0.5 P2S5 + LiCl (45.95, 222.27, 42.39 g/mol)
    assert "LPSCl" not in lines
    total = 2.5 * 45.95 + 0.5 * 222.27 + 42.39
    lpscl = d["LPSCl"] / (0.80 * 0.90 * end)
    for raw, share in (("Li2S", 2.5 * 45.95), ("P2S5", 0.5 * 222.27), ("LiCl", 42.39)):
        assert lines[raw].quantity == pytest.approx(lpscl * share / total, rel=1e-12), raw


def test_small_line_mass_balance_of_started_units(small):
    """Good output of each step = what its consumers start, per good cell."""
    c = design(small)
    y = flow.nominal_yields(small, None, {"coating": "slow"})
    req = flow.requirements(small, y, c.refs)
    assert req.good["test"] == 1.0
    assert req.started["test"] == pytest.approx(1 / 0.60)
    assert req.started["assembly"] == pytest.approx(1 / (0.75 * 0.60))
    # coating must deliver one cell's cathode area for every cell started at assembly
    assert req.good["coating"] == pytest.approx(c.cathode_area_m2 * req.started["assembly"])
    assert req.good["mixing"] == pytest.approx(c.refs["cathode.mass"].value / c.cathode_area_m2
                                               * req.started["coating"])


# ----------------------------------------------------------------------------- pouch geometry


def _pouch_cell(shared, tmp_path, width, height, extra):
    """SMALL_LINE's cell with 0.08 m x 0.20 m-class sheets, an overhang of exactly 1 mm
    per edge ((0.082 x 0.202) / (0.08 x 0.20) = 1.03525) and the pouch lines `extra`."""
    text = (textwrap.dedent(SMALL_LINE)
            .replace('electrode_width: "0.1 m"', f'electrode_width: "{width} m"')
            .replace('electrode_height: "0.1 m"', f'electrode_height: "{height} m"\n'
                     '  anode_area_ratio: 1.03525' + extra))
    p = tmp_path / f"pouch-{width}-{height}-{len(extra)}.yaml"
    p.write_text(text)
    return design(load_route(p, shared=shared))


POUCH = '\n  pouch: {seal_margin: "4 mm", tab_margin: "12 mm", film_thickness: "0.2 mm"}'


def test_cell_volume_from_the_pouch_outer_dimensions_by_hand(shared, tmp_path):
    c = _pouch_cell(shared, tmp_path, 0.08, 0.20, POUCH)
    # stack: per coated cathode face 50 um cathode + half of the 10 um Al foil + 20 um Li
    # + 30 um separator; faces = cathode area / (0.08 x 0.20 m)
    faces = c.cathode_area_m2 / 0.016
    stack = faces * (50e-6 + 10e-6 / 2 + 20e-6 + 30e-6)
    assert c.stack_thickness_m == pytest.approx(stack, rel=REL)
    # outer: width 0.08 + 2 x 1 mm overhang + 2 x 4 mm seal = 0.090 m; height 0.20 + 2 x 1 mm
    # + 2 x 12 mm tab zones = 0.226 m; thickness stack + 2 x 0.2 mm film
    assert c.outer_m == pytest.approx((0.090, 0.226, stack + 0.0004), rel=1e-9)
    assert c.volume_l == pytest.approx(0.090 * 0.226 * (stack + 0.0004) * 1000, rel=1e-9)
    assert c.wh_per_l == pytest.approx(10 * 3.7 / (0.090 * 0.226 * (stack + 0.0004) * 1000),
                                       rel=1e-9)

    # the same sheets turned by 90°: the tab zones now run along the 0.08 m edges
    t = _pouch_cell(shared, tmp_path, 0.20, 0.08, POUCH)
    assert t.stack_thickness_m == pytest.approx(stack, rel=REL)
    assert t.volume_l == pytest.approx(0.210 * 0.106 * (stack + 0.0004) * 1000, rel=1e-9)
    assert t.volume_l > c.volume_l * 1.09  # 0.02226 against 0.02034 m² of footprint

    # both tabs at one end: the other end is sealed like the sides
    one = _pouch_cell(shared, tmp_path, 0.08, 0.20, POUCH[:-1] + ", tab_ends: 1}")
    assert one.outer_m[1] == pytest.approx(0.202 + 0.012 + 0.004, rel=1e-9)
    assert one.volume_l == pytest.approx(0.090 * 0.218 * (stack + 0.0004) * 1000, rel=1e-9)


def test_a_flat_overhead_is_a_user_override_of_the_pouch(shared, tmp_path):
    c = _pouch_cell(shared, tmp_path, 0.08, 0.20, POUCH + '\n  packaging_volume_overhead: "12 %"')
    a_c = c.cathode_area_m2
    layers = a_c * 50e-6 + a_c / 2 * 10e-6 + 1.03525 * a_c * (20e-6 + 30e-6)
    assert c.volume_l == pytest.approx(layers * 1.12 * 1000, rel=1e-9)


def test_shipped_cells_take_their_volume_from_the_pouch(shared, lines_dir):
    for name in ("liquid-nmc811-graphite", "sulfide-lpscl", "polymer-peo"):
        r = resolve_route(name, lines_dir, shared=shared)
        assert r.cell.packaging_volume_overhead is None, name
        c = design(r)
        w, h, t = c.outer_m
        assert c.volume_l == pytest.approx(w * h * t * 1000, rel=1e-12), name
