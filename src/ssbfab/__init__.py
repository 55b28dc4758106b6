"""ssbfab: simulate and optimise solid-state battery factories, route by route.

The Python API for notebooks and scripts (imported lazily, so `import ssbfab` is
cheap): `ssbfab.compare(...)`, `ssbfab.run_loop(...)`, `ssbfab.load_route(...)`,
`ssbfab.optimize(...)`, `ssbfab.simulate(...)`, `ssbfab.evaluate(...)`.
"""

__version__ = "0.1.0"

_API = {
    "compare": ("ssbfab.comparison", "compare"),
    "run_loop": ("ssbfab.loop", "run_loop"),
    "load_route": ("ssbfab.data.loader", "resolve_route"),
    "size_for_capacity": ("ssbfab.config", "size_for_capacity"),
    "optimize": ("ssbfab.opt", "optimize"),
    "simulate": ("ssbfab.sim", "simulate"),
    "evaluate": ("ssbfab.cost", "evaluate"),
    "design": ("ssbfab.cell", "design"),
}


def __getattr__(name):
    if name in _API:
        import importlib

        module, attr = _API[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'ssbfab' has no attribute {name!r}")
