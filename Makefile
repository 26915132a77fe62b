# make demo      — set up, run the default scenario under three strategies, staff and roster it, write the report
# make test      — set up and run the tests (installs headless Chromium for the report's browser test)
# make notebooks — open the analyst notebooks in JupyterLab from the project's environment
# make bench     — the benchmark suite (takes a quarter of an hour; not part of make test)
# make fuzz      — hostile input of every class, about 10,000 generated cases (a few minutes; make test runs a small profile)
# make schema    — regenerate the scenario schema (scenarios/scenario.schema.json) and docs/scenario-reference.md
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
STRATEGIES := --strategy round_robin --strategy least_busy --strategy skill_based
TARGETS := --target "service_level>=0.8@60s" --target "abandonment_rate<=0.05"

.PHONY: demo test bench fuzz schema notebooks browser clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

$(VENV)/.notebooks: $(STAMP)
	$(BIN)/python -m pip install -q -e '.[test,notebooks]'
	touch $@

demo: $(STAMP)
	$(BIN)/convsim run scenarios/default.yaml $(STRATEGIES) --replications 10 --out out/demo
	$(BIN)/convsim schedule scenarios/default.yaml $(TARGETS) --interval 30m --replications 30 \
		--templates scenarios/templates/shifts.yaml --shrinkage 0.3 --cost 25 --out out/demo
	$(BIN)/convsim concurrency scenarios/default.yaml --replications 3 --out out/demo
	$(BIN)/convsim report out/demo

browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
		echo "installing Chromium (headless) for the report's browser test"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; }

test: $(STAMP) browser
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/python -m pytest

notebooks: $(VENV)/.notebooks
	JUPYTER_PATH=$(abspath $(VENV))/share/jupyter $(BIN)/jupyter lab $(if $(SUDO),,--allow-root) notebooks

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

schema: $(STAMP)
	$(BIN)/python -m sim.model.reference

fuzz: $(STAMP)
	$(BIN)/python tests/fuzzing.py --cases $${CASES:-10000}

clean:
	rm -rf $(VENV) out .pytest_cache .ruff_cache
