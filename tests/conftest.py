import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if "MUTANT_UNDER_TEST" in os.environ:
    # the process mutmut runs in (pytest may import this module again in a fork)
    os.environ.setdefault("SSBFAB_MUTMUT_PID", str(os.getpid()))
LINES = ROOT / "lines"

# Tests read the project's own data, whatever the caller's environment says.
os.environ.pop("SSBFAB_LINES", None)
os.environ.pop("SSBFAB_SOURCES", None)


@pytest.fixture(scope="session")
def lines_dir() -> Path:
    return LINES


@pytest.fixture(scope="session")
def shared():
    from ssbfab.data import load_shared

    return load_shared(LINES)


@pytest.fixture(scope="session")
def sulfide(shared):
    from ssbfab.data import resolve_route

    return resolve_route("sulfide-lpscl", LINES, shared=shared)


@pytest.fixture(scope="session", autouse=True)
def _highs_threads_after_fork_under_mutmut():
    """Under mutation testing, restart HiGHS's thread pool in each mutant's process:
    mutmut forks every mutant from a process that already ran the tests (and HiGHS),
    and a forked child inherits the pool's state but not its threads, so its first
    MIP spins forever waiting for them (such mutants were counted as timeouts)."""
    # mutmut's own process runs the stats and the clean tests: leave its pool alone
    forked = os.environ.get("SSBFAB_MUTMUT_PID", str(os.getpid())) != str(os.getpid())
    if "MUTANT_UNDER_TEST" in os.environ and forked and "highspy" in sys.modules:
        sys.modules["highspy"].Highs.resetGlobalScheduler(True)
    yield


@pytest.fixture(autouse=True)
def _route_cache_per_test_under_mutmut():
    """Under mutation testing, forget the per-route cache of `ssbfab.cost` before each
    test: mutmut runs, for a mutant, only the tests it saw calling the mutated function,
    and a cached route would hide those calls from every test after the first."""
    if "MUTANT_UNDER_TEST" in os.environ:
        from ssbfab import cost

        cache = getattr(cost, "_CACHE", None)
        if cache is not None:
            cache.clear()
    yield
