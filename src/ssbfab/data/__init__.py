"""The data package: schema, units, sources, loader, whole-route checks, overrides.

    from ssbfab.data import load_route, resolve_route, Route

Modules inside ssbfab import the submodules (`ssbfab.data.schema`, `.loader`, ...)
directly; this face resolves names lazily so that importing it loads nothing."""

from __future__ import annotations

import importlib

_WHERE = {
    **dict.fromkeys(["load_route", "load_shared", "resolve_route", "route_files", "load_any",
                     "default_lines_dir", "DATA_DIR_ENV"], "loader"),
    "check_route": "checks",
    "Overrides": "overrides",
}


def __getattr__(name: str):
    module = _WHERE.get(name, "schema")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name, None)
    if value is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return value
