# Doorstep: the README's two commands are `make demo` and `make test`; both do all the set-up.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SEED ?= 20240301

.PHONY: demo test test-slow fuzz lab lint simulate bench clean-reports notebooks

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test]"
	$(BIN)/python -m ipykernel install --sys-prefix --name doorstep --display-name "Python (doorstep)" >/dev/null
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/doorstep demo --seed $(SEED)

simulate: $(STAMP)
	$(BIN)/doorstep simulate --seed $(SEED)

test: $(STAMP)
	$(BIN)/doorstep simulate --seed $(SEED) --quiet
	$(BIN)/python -m pytest -m "not slow and not fuzz" tests --nbval notebooks --nbval-current-env \
		--doctest-modules src/doorstep -p no:cacheprovider
	$(BIN)/ruff check src tests benchmarks tools

test-slow: $(STAMP)
	$(BIN)/python -m pytest -m slow tests -p no:cacheprovider

fuzz: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[test,fuzz]"
	DOORSTEP_REQUIRE_ATHERIS=1 $(BIN)/python -m pytest -m fuzz tests/test_fuzz.py -p no:cacheprovider

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks tools

lab: $(STAMP)
	$(BIN)/doorstep simulate --seed $(SEED) --quiet
	$(BIN)/jupyter lab --notebook-dir=notebooks

bench: $(STAMP)
	$(BIN)/python benchmarks/run_demo.py
	$(BIN)/python benchmarks/estimators.py --quick
	$(BIN)/python benchmarks/inference.py --quick
	$(BIN)/python benchmarks/read_export.py --rows 200000
	$(BIN)/python benchmarks/cleaning.py --quick
	$(BIN)/python benchmarks/checks.py --seeds 5 --scale 0.1
	$(BIN)/python benchmarks/batch.py --quick

clean-reports:
	rm -rf reports/*/

notebooks: $(STAMP)
	$(BIN)/python tools/build_notebooks.py
	$(BIN)/doorstep simulate --seed $(SEED) --quiet
	cd notebooks && ../$(BIN)/jupyter nbconvert --to notebook --execute --inplace \
		--ExecutePreprocessor.kernel_name=python3 00_design.ipynb 01_fieldwork_checks.ipynb 01_clean.ipynb 02_balance.ipynb 03_impact.ipynb 04_report.ipynb
