# journey-analytics: the two commands in the README (make demo, make test) and a benchmark.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SAMPLE_DATE := 2026-10-31

.PHONY: demo test bench venv sample clean browser

venv: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "journey-analytics needs Python 3.11, found " + sys.version.split()[0]'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip==25.3"
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

demo: $(STAMP)
	PREFECT_SERVER_ANALYTICS_ENABLED=false $(BIN)/journey run --date $(SAMPLE_DATE) \
		--landing data/sample --warehouse data/warehouse/journey.duckdb --reports reports

test: $(STAMP) browser
	PREFECT_SERVER_ANALYTICS_ENABLED=false $(BIN)/python -m pytest

# Headless Chromium for the dashboard test, from Debian's packages.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; \
	} || echo "note: could not install chromium; the browser test will be skipped"

bench: $(STAMP)
	PREFECT_SERVER_ANALYTICS_ENABLED=false $(BIN)/python benchmarks/run_benchmark.py --events 1000000 10000000

# Regenerate the bundled sample (deterministic).
sample: $(STAMP)
	rm -rf data/sample
	$(BIN)/journey simulate --customers 3000 --days 31 --seed 7 --out data/sample

clean:
	rm -rf $(VENV) data/warehouse reports
