# The two set-up commands of the README. Each creates .venv and installs what it needs on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench clean

$(STAMP): pyproject.toml
	@echo "Creating $(VENV) and installing driftloop with MLflow, scikit-learn and the test tools into it"
	@echo "(a few minutes the first time; pip shows each package)..."
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --progress-bar on -e ".[serve,test]"
	touch $(STAMP)
	@echo "Installed into $(VENV)."

## demo: run driftloop's main job and its retrain loop on the embedded store (sqlite:///mlflow.db in this folder)
demo: $(STAMP)
	MLFLOW_DISABLE_TELEMETRY=true $(BIN)/driftloop demo
	@echo "The classifier case (weather type, 5 classes, Seattle 2012-2015): $(BIN)/driftloop simulate --data seattle-weather --policy all"

## test: run the whole test suite
test: $(STAMP)
	MLFLOW_DISABLE_TELEMETRY=true $(BIN)/python -m pytest -n 2 --dist loadfile

## bench: run the benchmarks (each prints its comparison with the baseline it measures in the same run; record
## the figures in BENCHMARKS.md). bench/drift_baselines.py, bench/estimate_nannyml.py, bench/estimate_oracle.py and
## bench/multivariate_nannyml.py need a side environment (see BENCHMARKS.md) and are not run here (bench/multivariate.py
## runs the last with --side-python when given one).
BENCHMARKS := drift monitor serve serve_hostile startup calibration policies retrain_oracle estimate multivariate
bench: $(STAMP)
	@for name in $(BENCHMARKS); do \
	  echo "== bench/$$name.py"; \
	  MLFLOW_DISABLE_TELEMETRY=true $(BIN)/python bench/$$name.py || exit 1; \
	done

clean:
	rm -rf $(VENV) mlflow.db mlruns mlartifacts
