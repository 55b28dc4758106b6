"""Year paths of a roadmap (demand, prices, learning): the one rule for reading them."""

from __future__ import annotations


def interpolate(path: dict[int, float], year: int) -> float:
    """A path's value in `year`: linear between given years, held outside them."""
    ys = sorted(path)
    if year <= ys[0]:
        return path[ys[0]]
    if year >= ys[-1]:
        return path[ys[-1]]
    for a, b in zip(ys, ys[1:], strict=False):
        if a <= year <= b:
            return path[a] + (path[b] - path[a]) * (year - a) / (b - a)
    raise AssertionError("unreachable")
