"""ssbfab: simulate and optimise solid-state battery factories, route by route."""

__version__ = "0.1.0"
