"""Cell design: from a route's layers to capacity, energy, mass, volume and the
design bill of materials per cell (BatPaC 5.0's design rules, simplified to a
stacked pouch).

Rules (all per cell; "area" of an electrode counts each coated side):
- solid density of a composite  ρs = 1 / Σ(wᵢ/ρᵢ)
- areal mass per side           m = t·(1-ε)·ρs
- cathode areal capacity        q = m · w_active · c_active   (mAh/g = Ah/kg)
- cathode coated area           A_c = C / q
- composite anode               q_a = N/P · q; active mass = q_a / c_a; t_a = m_a/((1-ε_a)ρs_a)
- anode and separator area      A_a = A_s = A_c · anode_area_ratio (overhang)
- foils                         foil area = coated area / 2 (double-sided sheets)
- liquid                        fill · (pore volume of cathode, anode, separator)
- volume                        Σ layer volumes · (1 + packaging_volume_overhead)

`design_refs` exposes these per-cell quantities by name ("cathode.area",
"material.LPSCl", "sheets" ...) for the line data's `per_cell` and material amounts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .spec import CellDesign, Layer, Route


class CellDesignError(ValueError):
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


def _density(route: Route, name: str, path: tuple) -> float:
    m = route.all_materials.get(name)
    if m is None:
        from .errors import closest

        raise CellDesignError(f"unknown material {name!r}{closest(name, route.all_materials)}", path)
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


def design(route: Route) -> CellResult:
    """Compute the cell of a route (raises CellDesignError with the field's path)."""
    d: CellDesign | None = route.cell
    if d is None:
        raise CellDesignError("this line file has no cell design", ())
    bom: dict[str, float] = {}
    units_of: dict[str, str] = {}
    refs: dict[str, DesignRef] = {"cell": DesignRef(1.0, "cell")}
    volume = 0.0
    foil_mass = 0.0  # mass of foils bought by m² (their BOM entry is an area)

    def add(material: str, qty: float, unit: str = "kg"):
        bom[material] = bom.get(material, 0.0) + qty
        units_of[material] = unit

    # cathode
    c = d.cathode
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
    cath_mass = m_c * a_c
    for n, w in c.components.items():
        add(n, cath_mass * w)
        refs[f"cathode.{n}"] = DesignRef(cath_mass * w, "kg")
    refs["cathode.area"] = DesignRef(a_c, "m2")
    refs["cathode.mass"] = DesignRef(cath_mass, "kg")
    refs["cathode.sheets"] = DesignRef(a_c / (2 * sheet_area), "sheet")
    volume += c.thickness * a_c
    pores = c.porosity * c.thickness * a_c
    if c.collector:
        foil = a_c / 2
        foil_mass += _foil(route, c.collector, c.collector_thickness, foil, add,
                           ("cathode", "collector"))
        refs["collector.cathode"] = DesignRef(foil, "m2")
        volume += (c.collector_thickness or 0.0) * foil

    # anode
    ratio = d.anode_area_ratio
    a_a = a_c * ratio
    if d.anode is not None:
        an = d.anode
        if an.active not in an.components:
            raise CellDesignError(f"active material {an.active!r} is not among the components",
                                  ("anode", "active"))
        q_a = d.np_ratio * q_c  # Ah/m² per side
        active_mass = q_a / _capacity(route, an.active, ("anode", "active"))
        m_a = active_mass / an.components[an.active]
        rho_a = _solid_density(route, an, ("anode",))
        t_a = an.thickness if an.thickness is not None else m_a / ((1 - an.porosity) * rho_a)
        an_mass = m_a * a_a
        for n, w in an.components.items():
            add(n, an_mass * w)
            refs[f"anode.{n}"] = DesignRef(an_mass * w, "kg")
        refs["anode.mass"] = DesignRef(an_mass, "kg")
        volume += t_a * a_a
        pores += an.porosity * t_a * a_a
        collector, collector_t = an.collector, an.collector_thickness
    else:
        mt = d.metal_anode
        rho = _density(route, mt.material, ("metal_anode", "material"))
        an_mass = mt.thickness * a_a * rho
        add(mt.material, an_mass)
        refs[f"anode.{mt.material}"] = DesignRef(an_mass, "kg")
        refs["anode.mass"] = DesignRef(an_mass, "kg")
        volume += mt.thickness * a_a
        collector, collector_t = mt.collector, mt.collector_thickness
    refs["anode.area"] = DesignRef(a_a, "m2")
    refs["anode.sheets"] = DesignRef(a_a / (2 * sheet_area * ratio), "sheet")
    if collector:
        foil = a_a / 2
        foil_mass += _foil(route, collector, collector_t, foil, add, ("anode", "collector"))
        refs["collector.anode"] = DesignRef(foil, "m2")
        volume += (collector_t or 0.0) * foil

    # separator / solid electrolyte layer: one per cathode face
    s = d.separator
    a_s = a_a
    rho_s = _solid_density(route, s, ("separator",))
    sep_mass = s.thickness * (1 - s.porosity) * rho_s * a_s
    for n, w in s.components.items():
        add(n, sep_mass * w)
        refs[f"separator.{n}"] = DesignRef(sep_mass * w, "kg")
    refs["separator.area"] = DesignRef(a_s, "m2")
    refs["separator.mass"] = DesignRef(sep_mass, "kg")
    volume += s.thickness * a_s
    pores += s.porosity * s.thickness * a_s

    # liquid electrolyte (liquid and semi-solid cells)
    if d.liquid is not None:
        vol = d.liquid.fraction_of_pores * pores  # m³
        rho_l = _density(route, d.liquid.material, ("liquid", "material"))
        mat = route.all_materials[d.liquid.material]
        basis = mat.price_per_unit[1] if mat.price_per_unit else "kg"
        if basis == "m3":
            add(d.liquid.material, vol, "m3")
        else:
            add(d.liquid.material, vol * rho_l)
        refs["liquid.volume"] = DesignRef(vol, "m3")
        refs["liquid.mass"] = DesignRef(vol * rho_l, "kg")

    for n, kg in {**d.packaging, **d.stack_pressure_hardware}.items():
        if n not in route.all_materials:
            from .errors import closest

            raise CellDesignError(f"unknown material {n!r}{closest(n, route.all_materials)}",
                                  ("packaging", n))
        add(n, kg)
        refs[f"packaging.{n}"] = DesignRef(kg, "kg")

    refs["sheets"] = DesignRef(refs["cathode.sheets"].value + refs["anode.sheets"].value, "sheet")
    for n, q in bom.items():
        refs[f"material.{n}"] = DesignRef(q, units_of[n])

    mass = foil_mass + sum(
        q * route.all_materials[n].density if units_of[n] == "m3" else q
        for n, q in bom.items() if units_of[n] != "m2")

    volume *= 1 + d.packaging_volume_overhead
    energy = d.capacity * d.nominal_voltage
    return CellResult(
        route=route.name, capacity_ah=d.capacity, nominal_v=d.nominal_voltage, energy_wh=energy,
        mass_kg=mass, volume_l=volume * 1000.0, cathode_area_m2=a_c, anode_area_m2=a_a,
        separator_area_m2=a_s, cathode_areal_capacity_mah_cm2=q_c / 10.0,
        sheets=refs["sheets"].value,
        design_bom={n: DesignRef(q, units_of[n]) for n, q in bom.items()}, refs=refs,
    )


def _foil(route, material, thickness, area, add, path):
    m = route.all_materials.get(material)
    if m is None:
        from .errors import closest

        raise CellDesignError(f"unknown material {material!r}{closest(material, route.all_materials)}", path)
    if thickness is None:
        raise CellDesignError("collector_thickness is required with a collector", path)
    """Add a foil to the BOM; return its mass if it is bought by area (else it is in the BOM)."""
    mass = area * thickness * _density(route, material, path)
    price = m.price_per_unit
    if price is not None and price[1] == "m2":
        add(material, area, "m2")
        return mass
    add(material, mass)
    return 0.0


def design_refs(route: Route) -> dict[str, DesignRef]:
    return design(route).refs
