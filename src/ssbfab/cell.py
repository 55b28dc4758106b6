"""Cell design: from a route's layers to capacity, energy, mass, volume and the
design bill of materials per cell (BatPaC 5.0's design rules, simplified to a
stacked pouch).

Rules (all per cell; "area" of an electrode counts each coated side):
- solid density of a composite  ρs = 1 / Σ(wᵢ/ρᵢ)
- areal mass per side           m = t·(1-ε)·ρs
- cathode areal capacity        q = m · w_active · c_active · first-cycle efficiency
                                (mAh/g = Ah/kg, so q is in Ah/m²)
- cathode coated area           A_c = C / q
- composite anode               q_a = N/P · q; active mass = q_a / c_a; t_a = m_a/((1-ε_a)ρs_a)
- anode and separator area      A_a = A_s = A_c · anode_area_ratio (overhang)
- foils                         foil area = coated area / 2 (double-sided sheets)
- liquid                        fill · (pore volume of cathode, anode, separator)
- stack thickness               Σ over layers of thickness × number of layers
                                (a layer's volume / the face area of its sheets)
- stack footprint               the anode sheet: the cathode sheet W × H grown by a
                                uniform overhang δ on every edge, (W+2δ)(H+2δ) = ratio·W·H
- cell volume                   outer width × outer height × outer thickness, with
                                width = W + 2δ + 2·seal_margin,
                                height = H + 2δ + tab_ends·tab_margin
                                         + (2 - tab_ends)·seal_margin,
                                thickness = stack thickness + 2·film_thickness
                                (BatPaC's way: the cell's outer dimensions); a given
                                packaging_volume_overhead overrides this with
                                Σ layer volumes · (1 + overhead)
- sheets                        cathode and anode sheets are double-sided (A/2 per
                                sheet face area); separator sheets are single, one per
                                cathode face

Each material is bought in the basis of its price: by kg, by m² (foils, separator
film: the area of the layer or foil it forms) or by m³ (liquid electrolyte priced
per litre). Whatever the basis, its mass counts in the cell's mass.

`design_refs` exposes these per-cell quantities by name ("cathode.area",
"material.LPSCl", "sheets" ...) for the line data's `per_cell` and material amounts;
a component's ref ("separator.separator_film") is in its purchase basis.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .data.schema import CellDesign, Layer, Route
from .errors import closest


class CellDesignError(ValueError):
    """A cell design that cannot be computed; `path` is the field's path in `cell:`."""

    def __init__(self, message: str, path: tuple = ()):
        super().__init__(message)
        self.path = path


@dataclass(frozen=True)
class DesignRef:
    value: float
    unit: str  # kg, m2, m3, sheet, cell


@dataclass(frozen=True)
class CellResult:
    route: str
    capacity_ah: float
    nominal_v: float
    energy_wh: float
    mass_kg: float
    volume_l: float
    outer_m: tuple[float, float, float]  # width, height, thickness of the cell (m)
    stack_thickness_m: float  # the electrode stack inside the pouch
    cathode_area_m2: float
    anode_area_m2: float
    separator_area_m2: float
    cathode_areal_capacity_mah_cm2: float
    sheets: float
    design_bom: dict[str, DesignRef] = field(default_factory=dict)  # material -> per cell
    refs: dict[str, DesignRef] = field(default_factory=dict)

    @property
    def wh_per_kg(self) -> float:
        return self.energy_wh / self.mass_kg

    @property
    def wh_per_l(self) -> float:
        return self.energy_wh / self.volume_l

    @property
    def energy_kwh(self) -> float:
        return self.energy_wh / 1000.0


def _material(route: Route, name: str, path: tuple):
    m = route.all_materials.get(name)
    if m is None:
        raise CellDesignError(f"unknown material {name!r}{closest(name, route.all_materials)}", path)
    return m


def _density(route: Route, name: str, path: tuple) -> float:
    m = _material(route, name, path)
    if m.density is None:
        raise CellDesignError(f"material {name!r} needs a density", path)
    return m.density


def _solid_density(route: Route, layer: Layer, path: tuple) -> float:
    return 1.0 / sum(w / _density(route, n, path + ("components", n))
                     for n, w in layer.components.items())


def _capacity(route: Route, name: str, path: tuple) -> float:
    m = route.all_materials.get(name)
    if m is None or m.specific_capacity is None:
        raise CellDesignError(f"active material {name!r} needs a specific_capacity", path)
    return m.specific_capacity  # mAh/g == Ah/kg


class _Purchases:
    """The design bill of materials in each material's purchase basis, and the cell mass.

    Keeping the mass here, next to the basis conversion, is what lets a film bought by
    area (or a liquid bought by volume) still weigh what it weighs.
    """

    def __init__(self, route: Route):
        self.route = route
        self.qty: dict[str, float] = {}
        self.unit: dict[str, str] = {}
        self.mass = 0.0  # kg

    def add(self, material: str, mass: float, area: float | None, path: tuple) -> DesignRef:
        """Buy `mass` kg of `material` forming `area` m² (None: not a sheet-like part)."""
        m = _material(self.route, material, path)
        basis = m.price_per_unit[1] if m.price_per_unit is not None else "kg"
        if basis == "m2":
            if area is None:
                raise CellDesignError(
                    f"material {material!r} is priced per m^2 but is used here by mass; "
                    "give it a price per kg", path)
            q = area
        elif basis == "m3":
            q = mass / _density(self.route, material, path)
        else:
            q = mass
        self.qty[material] = self.qty.get(material, 0.0) + q
        self.unit[material] = basis
        self.mass += mass
        return DesignRef(q, basis)


def _layer(route: Route, layer: Layer, name: str, mass: float, area: float,
           buy: _Purchases, refs: dict[str, DesignRef]) -> None:
    """Buy the components of a coated layer of `mass` kg covering `area` m²."""
    for n, w in layer.components.items():
        refs[f"{name}.{n}"] = buy.add(n, mass * w, area, (name, "components", n))
    refs[f"{name}.mass"] = DesignRef(mass, "kg")


def _foil(route: Route, material: str, thickness: float | None, area: float,
          buy: _Purchases, path: tuple) -> float:
    """Buy a current-collector foil of `area` m² and `thickness` m; its thickness (m),
    which a collector must have."""
    if thickness is None:
        raise CellDesignError("collector_thickness is required with a collector", path)
    mass = area * thickness * _density(route, material, path)
    buy.add(material, mass, area, path)
    return thickness


def design(route: Route) -> CellResult:
    """Compute the cell of a route (raises CellDesignError with the field's path).

    Units: capacity Ah, voltage V, energy Wh, mass kg, volume L, areas m² (each
    coated side counted), areal capacity mAh/cm²; the design BOM per cell in each
    material's purchase basis (kg, m² or m³).
    """
    d: CellDesign | None = route.cell
    if d is None:
        raise CellDesignError("this line file has no cell design", ())
    buy = _Purchases(route)
    refs: dict[str, DesignRef] = {"cell": DesignRef(1.0, "cell")}
    volume = 0.0  # m³ of the electrode stack's layers
    thick = 0.0  # m: the stack's thickness, layer by layer
    pores = 0.0  # m³ of pore space a liquid can fill

    # cathode
    c = d.cathode
    assert c.thickness is not None  # CellDesign requires the cathode's thickness
    if c.active not in c.components:
        raise CellDesignError(f"active material {c.active!r} is not among the components",
                              ("cathode", "active"))
    rho_c = _solid_density(route, c, ("cathode",))
    m_c = c.thickness * (1 - c.porosity) * rho_c  # kg/m² per side
    q_c = m_c * c.components[c.active] * _capacity(route, c.active, ("cathode", "active"))
    q_c *= c.first_cycle_efficiency  # Ah/m²
    if q_c <= 0:
        raise CellDesignError("cathode areal capacity is zero", ("cathode",))
    a_c = d.capacity / q_c
    sheet_area = d.electrode_width * d.electrode_height
    _layer(route, c, "cathode", m_c * a_c, a_c, buy, refs)
    refs["cathode.area"] = DesignRef(a_c, "m2")
    refs["cathode.sheets"] = DesignRef(a_c / (2 * sheet_area), "sheet")
    volume += c.thickness * a_c
    thick += c.thickness * a_c / sheet_area  # one cathode layer per coated side
    pores += c.porosity * c.thickness * a_c
    if c.collector:
        foil = a_c / 2
        t_f = _foil(route, c.collector, c.collector_thickness, foil, buy, ("cathode", "collector"))
        refs["collector.cathode"] = DesignRef(foil, "m2")
        volume += t_f * foil
        thick += t_f * foil / sheet_area

    # anode
    ratio = d.anode_area_ratio
    a_a = a_c * ratio
    anode_face = sheet_area * ratio  # anode and separator sheets carry the overhang
    if d.anode is not None:
        an = d.anode
        if an.active not in an.components:
            raise CellDesignError(f"active material {an.active!r} is not among the components",
                                  ("anode", "active"))
        q_a = d.np_ratio * q_c  # Ah/m² per side
        active_mass = q_a / _capacity(route, an.active, ("anode", "active"))
        m_a = active_mass / an.components[an.active]  # kg/m² per side
        rho_a = _solid_density(route, an, ("anode",))
        t_a = an.thickness if an.thickness is not None else m_a / ((1 - an.porosity) * rho_a)
        _layer(route, an, "anode", m_a * a_a, a_a, buy, refs)
        volume += t_a * a_a
        thick += t_a * a_a / anode_face
        pores += an.porosity * t_a * a_a
        collector, collector_t = an.collector, an.collector_thickness
    else:
        mt = d.metal_anode
        assert mt is not None  # CellDesign: exactly one of anode and metal_anode
        rho = _density(route, mt.material, ("metal_anode", "material"))
        an_mass = mt.thickness * a_a * rho
        refs[f"anode.{mt.material}"] = buy.add(mt.material, an_mass, a_a,
                                               ("metal_anode", "material"))
        refs["anode.mass"] = DesignRef(an_mass, "kg")
        volume += mt.thickness * a_a
        thick += mt.thickness * a_a / anode_face
        collector, collector_t = mt.collector, mt.collector_thickness
    refs["anode.area"] = DesignRef(a_a, "m2")
    refs["anode.sheets"] = DesignRef(a_a / (2 * sheet_area * ratio), "sheet")
    if collector:
        foil = a_a / 2
        path = ("anode" if d.anode is not None else "metal_anode", "collector")
        t_f = _foil(route, collector, collector_t, foil, buy, path)
        refs["collector.anode"] = DesignRef(foil, "m2")
        volume += t_f * foil
        thick += t_f * foil / anode_face

    # separator / solid electrolyte layer: one per cathode face, with the anode's overhang
    s = d.separator
    assert s.thickness is not None  # CellDesign requires the separator's thickness
    a_s = a_a
    rho_s = _solid_density(route, s, ("separator",))
    _layer(route, s, "separator", s.thickness * (1 - s.porosity) * rho_s * a_s, a_s, buy, refs)
    refs["separator.area"] = DesignRef(a_s, "m2")
    refs["separator.sheets"] = DesignRef(a_s / (sheet_area * ratio), "sheet")
    volume += s.thickness * a_s
    thick += s.thickness * a_s / anode_face
    pores += s.porosity * s.thickness * a_s

    # liquid electrolyte (liquid and semi-solid cells) fills part of the pore space
    if d.liquid is not None:
        vol = d.liquid.fraction_of_pores * pores  # m³
        rho_l = _density(route, d.liquid.material, ("liquid", "material"))
        buy.add(d.liquid.material, vol * rho_l, None, ("liquid", "material"))
        refs["liquid.volume"] = DesignRef(vol, "m3")
        refs["liquid.mass"] = DesignRef(vol * rho_l, "kg")

    for group, parts in (("packaging", d.packaging),
                         ("stack_pressure_hardware", d.stack_pressure_hardware)):
        for n, kg in parts.items():
            refs[f"packaging.{n}"] = buy.add(n, kg, None, (group, n))

    refs["sheets"] = DesignRef(refs["cathode.sheets"].value + refs["anode.sheets"].value, "sheet")
    for n, q in buy.qty.items():
        refs[f"material.{n}"] = DesignRef(q, buy.unit[n])

    outer = _outer(d, thick)
    if d.packaging_volume_overhead is not None:  # the user's flat factor wins
        volume *= 1 + d.packaging_volume_overhead
    else:
        volume = outer[0] * outer[1] * outer[2]
    energy = d.capacity * d.nominal_voltage
    return CellResult(
        route=route.name, capacity_ah=d.capacity, nominal_v=d.nominal_voltage, energy_wh=energy,
        mass_kg=buy.mass, volume_l=volume * 1000.0, outer_m=outer, stack_thickness_m=thick,
        cathode_area_m2=a_c, anode_area_m2=a_a,
        separator_area_m2=a_s, cathode_areal_capacity_mah_cm2=q_c / 10.0,
        sheets=refs["sheets"].value,
        design_bom={n: DesignRef(q, buy.unit[n]) for n, q in buy.qty.items()}, refs=refs,
    )


def _outer(d: CellDesign, stack_thickness: float) -> tuple[float, float, float]:
    """Outer width, height and thickness of the pouch cell (m) around a stack of
    `stack_thickness` m (see the module docstring)."""
    w, h = d.electrode_width, d.electrode_height
    r = max(d.anode_area_ratio, 1.0)  # the larger sheet sets the stack's footprint
    # uniform overhang δ on every edge: 4δ² + 2(W+H)δ - (r-1)WH = 0
    delta = (math.sqrt((w + h) ** 2 + 4 * (r - 1) * w * h) - (w + h)) / 4
    p = d.pouch
    width = w + 2 * delta + 2 * p.seal_margin
    height = h + 2 * delta + p.tab_ends * p.tab_margin + (2 - p.tab_ends) * p.seal_margin
    return width, height, stack_thickness + 2 * p.film_thickness


def design_refs(route: Route) -> dict[str, DesignRef]:
    """Named per-cell design quantities of a route (see the module docstring)."""
    return design(route).refs
