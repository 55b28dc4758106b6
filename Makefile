# ssbfab — two commands do all set-up: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
ROUTE  ?= sulfide-lpscl
CAPACITY ?= 10
ARGS   ?=
FILE   ?= studies/roadmaps/transition.yaml

.PHONY: run test test-slow validate simulate optimize roadmap bench figures lint mutation clean venv

$(PY):
	$(PYTHON) -m venv $(VENV)

# Reinstall only when the project's metadata changes (the package itself is editable).
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/ssbfab routes
	$(VENV)/bin/ssbfab compare $(ARGS)

test: $(STAMP)
	$(PY) -m pytest -q -m "not slow" tests --nbmake notebooks

test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow

validate: $(STAMP)
	$(VENV)/bin/ssbfab validate lines/*.yaml lines/routes/*.yaml

simulate: $(STAMP)
	$(VENV)/bin/ssbfab simulate $(ROUTE) --capacity-gwh $(CAPACITY) $(ARGS)

optimize: $(STAMP)
	$(VENV)/bin/ssbfab optimize $(ROUTE) --capacity-gwh $(CAPACITY) $(ARGS)

roadmap: $(STAMP)
	$(VENV)/bin/ssbfab roadmap $(FILE) --out results/roadmap $(ARGS)

bench: $(STAMP)
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

# README's cost-versus-size figure (docs/img/cost_vs_size.png and .csv; a few minutes)
figures: $(STAMP)
	$(PY) docs/cost_vs_size.py

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
