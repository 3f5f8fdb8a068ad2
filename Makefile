# Every target installs what it needs into .venv first, so a fresh clone needs only
# `make run` or `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)

HTMX_VERSION := 2.0.11
HTMX        := src/venapath/web/static/vendor/htmx.min.js
NPM_DIR     := $(VENV)/npm

UNIT_TESTS ?= tests

.PHONY: install run test test-cluster unit lint format bench docs messages clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

# The web app's one third-party script, from a pinned npm package (never a CDN at run time).
$(HTMX): Makefile
	mkdir -p $(NPM_DIR) $(dir $(HTMX))
	npm install --silent --no-audit --no-fund --prefix $(NPM_DIR) htmx.org@$(HTMX_VERSION)
	cp $(NPM_DIR)/node_modules/htmx.org/dist/htmx.min.js $(HTMX)

install: $(STAMP) $(HTMX)

run: install
	$(BIN)/venapath evaluate examples/cases/*.yaml
	$(BIN)/venapath db upgrade
	$(BIN)/venapath demo load
	$(BIN)/venapath followup due
	VENAPATH_ENV=development $(BIN)/venapath users demo
	@echo "Open http://127.0.0.1:8000/ in a browser and sign in with a demonstration account above (API docs: /docs, CDS Hooks: /cds-services); Ctrl-C stops."
	VENAPATH_ENV=development $(BIN)/venapath serve --host 127.0.0.1 --port 8000

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

format: install
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

# Everything, the Spark standalone cluster test included (tests/screen/test_spark_cluster.py).
# One worker per core (pytest-xdist), each test module on one worker (--dist loadscope) so its
# module-scoped services, databases and Spark session are built once: on two cores the whole
# run takes about half the time of one process.
test: lint
	$(BIN)/pytest -n auto --dist loadscope

# Only the screen on a Spark standalone master and two workers started on loopback (slow).
test-cluster: install
	$(BIN)/pytest -m cluster

# Where `make unit` keeps its temporary files: a RAM file system when the machine has one, so
# the SQLite commits of the tests (synchronous=FULL, an fsync each) cost no disk flush.
UNIT_TMPDIR ?= $(shell [ -d /dev/shm ] && [ -w /dev/shm ] && echo /dev/shm || echo $${TMPDIR:-/tmp})

# The inner loop (under 30 s on two idle cores): pure and in-process tests, Hypothesis at a
# fiftieth of its examples (profile dev); no Spark, PostgreSQL, subprocess servers, browsers,
# crash or load tests, no schemathesis run (its pytest plugin is not loaded): the `slow`
# marker. One worker per core (pytest-xdist); each test module stays on one worker
# (--dist loadscope), so its module-scoped services and databases are built once.
# `make test` runs everything.
unit: install
	HYPOTHESIS_PROFILE=dev TMPDIR=$(UNIT_TMPDIR) $(BIN)/pytest -q -m "not slow" -p no:schemathesis \
	  -n auto --dist loadscope $(UNIT_TESTS)

bench: install
	$(BIN)/python bench/evaluate.py
	$(BIN)/python bench/cds_load.py --rate 100 --duration 60
	$(BIN)/python bench/registry.py

docs: install
	$(BIN)/venapath kb docs --output docs/knowledge-base.md
	$(BIN)/python -m venapath.identity.docs docs/security.md

messages: install
	$(BIN)/pybabel extract --no-location --sort-output -F babel.cfg \
	  --project=VenaPath -o src/venapath/web/locale/messages.pot src/venapath/web
	$(BIN)/pybabel update --no-fuzzy-matching --ignore-obsolete -i src/venapath/web/locale/messages.pot \
	  -d src/venapath/web/locale -D messages

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
