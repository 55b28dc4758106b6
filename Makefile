# ssbfab — two commands do all set-up: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
MPI_STAMP := $(VENV)/.mpi-stamp
ROUTE  ?= sulfide-lpscl
CAPACITY ?= 10
ARGS   ?=
FILE   ?= studies/roadmaps/transition.yaml
SOLVER ?=
RANKS  ?=

.PHONY: run test test-slow validate simulate optimize roadmap bench figures lint mutation clean venv

$(PY):
	$(PYTHON) -m venv $(VENV)

# Reinstall only when the project's metadata changes (the package itself is editable).
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

# The `mpi` extra (mpi-sppy, mpi4py, the MPICH runtime as a wheel) for progressive hedging.
$(MPI_STAMP): pyproject.toml | $(STAMP)
	$(PY) -m pip install --quiet -e '.[dev,mpi]'
	@touch $(MPI_STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/ssbfab routes
	$(VENV)/bin/ssbfab compare $(ARGS)

# checks marked `mpi` (progressive hedging on MPI ranks) join when the mpi extra is installed;
# two workers (pytest-xdist), one test file or notebook at a time each, as the machine has
# two cores: a file's module fixtures are built once, and the long notebooks run beside the tests
TEST_WORKERS ?= 2
test: $(STAMP)
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile -m "not slow$$($(PY) -c 'import mpisppy, mpi4py' 2>/dev/null && echo ' or mpi')" tests --nbmake notebooks

# installs the mpi extra first, so the progressive-hedging checks always run here (and
# fail, not skip, if it cannot be imported)
test-slow: $(MPI_STAMP)
	SSBFAB_REQUIRE_MPI=1 $(PY) -m pytest -q -m slow

validate: $(STAMP)
	$(VENV)/bin/ssbfab validate lines/*.yaml lines/routes/*.yaml

simulate: $(STAMP)
	$(VENV)/bin/ssbfab simulate $(ROUTE) --capacity-gwh $(CAPACITY) $(ARGS)

optimize: $(STAMP)
	$(VENV)/bin/ssbfab optimize $(ROUTE) --capacity-gwh $(CAPACITY) $(ARGS)

# a scenario tree: SOLVER=extensive (default) or SOLVER=ph RANKS=N (installs the mpi extra)
roadmap: $(STAMP) $(if $(filter ph,$(SOLVER)),$(MPI_STAMP))
	$(VENV)/bin/ssbfab roadmap $(FILE) --out results/roadmap $(if $(SOLVER),--solver $(SOLVER)) $(if $(RANKS),--ranks $(RANKS)) $(ARGS)

bench: $(STAMP)
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

# README's figures: cost against plant size (docs/img/cost_vs_size.png and .csv) and the
# shipped roadmap's capacity and cost by year (docs/img/roadmap_*.png); a few minutes
figures: $(STAMP)
	$(PY) docs/cost_vs_size.py
	$(PY) docs/roadmap_figures.py

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(PY) -m mypy src/ssbfab

# Mutation testing of the core modules with mutmut (not part of `make test`; see
# docs/mutation.md): MODULE=cell (flow, cost, opt.data, opt.build, sim.model, loop)
# runs one module; FRESH=1 forgets the results kept from the last run.
MODULE ?=
mutation: $(STAMP)
	$(PY) tests/mutation.py $(MODULE) $(if $(FRESH),--fresh)

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache .mypy_cache
