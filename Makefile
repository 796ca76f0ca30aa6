# Two commands on a fresh machine:
#   make run    set up .venv (idempotent) and run the default tier (snakemake --cores 2)
#   make test   set up .venv (idempotent) and run the test suite
PYTHON ?= python3
VENV   ?= .venv
CORES  ?= 2
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: setup run smoke real dryrun test report lint bench bench-profile bench-smoke bench-nanoaod bench-all repro clean slurm-deps xrootd-deps readme-table

setup: $(STAMP)

# torch first and pinned: it resolves to the local CPU build. Then the pinned
# project against the full lock.
$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -c requirements.lock -e ".[test]"
	touch $(STAMP)

run: setup
	$(BIN)/snakemake --cores $(CORES)

smoke: setup
	$(BIN)/snakemake --cores $(CORES) --configfile config/tiers/smoke.yaml

real: setup
	$(BIN)/snakemake --cores $(CORES) --configfile config/tiers/real.yaml

dryrun: setup
	$(BIN)/snakemake --cores $(CORES) -n

# ruff first (seconds): import order, pyflakes, annotations on public functions
test: setup
	$(BIN)/ruff check src tests workflow benchmarks
	$(BIN)/python -m pytest -q

report: setup
	$(BIN)/snakemake --cores $(CORES) --report report.html

lint: setup
	$(BIN)/ruff check src tests workflow benchmarks
	$(BIN)/snakemake --lint

# the default tier in a fresh temporary directory: wall, CPU, load, peak memory, per-study CPU and the
# critical path -> benchmarks/results/default-<date>.md (run it on an idle machine; the report states the load)
bench: setup
	$(BIN)/python benchmarks/pipeline_timing.py --tier default --cores $(CORES)

# README's studies table (default tier holds, effect +- error) from the newest make bench report
readme-table:
	$(BIN)/python -m colliderflow readme-table $$(ls benchmarks/results/default-*.md | tail -1)

# the default tier under py-spy: where the CPU goes, by category and study ->
# benchmarks/results/profile-default-<date>.md (+ .pyspy.txt, the raw stacks; not in git)
bench-profile: setup
	$(BIN)/python -m pip install -q py-spy==0.4.3
	$(BIN)/python benchmarks/pipeline_timing.py --tier default --cores $(CORES) --no-dry-run --profile

bench-smoke: setup
	$(BIN)/python benchmarks/pipeline_timing.py --tier smoke --cores $(CORES)

bench-nanoaod: setup
	$(BIN)/python benchmarks/nanoaod_ingest.py

# nanoaod ingest + smoke-tier timing
bench-all: setup
	$(BIN)/python benchmarks/run_all.py

# same seed, same bytes: the smoke tier of every study twice, every output compared (STUDIES="a b" for some)
repro: setup
	nice $(BIN)/python benchmarks/reproducibility.py $(STUDIES)

# Debian's slurm-wlm and munge for tests/workflow/test_slurm.py (root; .ci/run
# calls it; elsewhere that test skips and says why)
slurm-deps:
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slurm-wlm munge \
	  || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slurm-wlm munge)

# Debian's XRootD server for tests/data/test_xrootd.py (root; .ci/run calls it; the client
# bindings, xrootd and fsspec-xrootd, are pinned wheels that make setup installs)
xrootd-deps:
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends xrootd-server \
	  || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends xrootd-server)

clean:
	rm -rf results/*/ results/summary.md resources/*/ logs .snakemake runs
