# The compendium's commands. `make book` regenerates everything (full profile);
# `make test` is what CI runs (library tests, notebooks on the smoke profile, book build).
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
JB := $(BIN)/jupyter-book build --all -W -n --keep-going

# Read data from the local mirror when there is one (these machines have no internet).
ifneq ($(wildcard ../shared/data),)
export REXBENCH_DATA_MIRROR ?= $(abspath ../shared/data)
endif
# Downloads (AudioMNIST, a data set without a mirror) are cached in the repository.
export REXBENCH_CACHE ?= $(abspath data/cache)
# Two cores: keep torch from oversubscribing them.
export OMP_NUM_THREADS ?= 2
export MPLBACKEND := Agg
# glibc keeps freed blocks in the heap instead of returning them to the system: no
# result changes, the forward passes stop page-faulting (benchmarks/bench_malloc.py).
# The values are rexbench.compendium.bench.MALLOC_ENV (a test checks they agree).
export MALLOC_MMAP_THRESHOLD_ ?= 33554432
export MALLOC_TRIM_THRESHOLD_ ?= 4294967296
export PYDEVD_DISABLE_FILE_VALIDATION := 1

.PHONY: all book test test-lib test-notebooks smoke-chapters smoke-reference smoke-book check-site screenshots verify env lock bench clean

all: book

env: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -q -r requirements.lock
	$(BIN)/pip install --disable-pip-version-check -q --no-deps --no-build-isolation -e .
	@touch $(STAMP)

# Incremental: only chapters whose notebook, parameters, library, lock file or inputs
# changed are re-executed (FORCE=1 re-executes every chapter).
book: $(STAMP)
	$(BIN)/python scripts/run_chapters.py --profile full $(if $(FORCE),--force)
	$(JB) .
	$(BIN)/python scripts/check_html.py _build/html book
	@echo "Book: $(abspath _build/html/index.html)"

# The full book in headless Chromium: every page loads its images without JavaScript errors,
# nothing is cut off, and a screenshot of every page at 1400 and 390 px in _build/screenshots/.
screenshots: $(STAMP)
	test -f _build/html/index.html || $(JB) .
	$(BIN)/python scripts/check_html.py _build/html book
	$(BIN)/python scripts/browser_check.py _build/html --screenshots _build/screenshots

# Each smoke chapter is executed once (smoke-chapters); nbval then re-runs those executed
# copies, whose artifacts are all on disk by then, and compares the cells marked
# NBVAL_CHECK_OUTPUT with the outputs of the first run; the tables are compared byte for
# byte with the committed reference (tests/reference/smoke_tables; `make smoke-reference`).
# Two at a time (two cores): the library tests beside the smoke chapters, then the smoke
# book's build and checks beside nbval, which re-runs its own copy of the smoke book
# (_build/nbval/), so the two never write the same files.
test:
	@$(MAKE) --no-print-directory -j2 --output-sync=target LIB_THREADS=1 test-lib smoke-book test-notebooks

test-lib: $(STAMP)
	OMP_NUM_THREADS=$(or $(LIB_THREADS),$(OMP_NUM_THREADS)) $(BIN)/python -m pytest -p no:cacheprovider tests -q

# The smoke profile runs one torch thread per chapter and two chapters at a time (the book's
# parts side by side): two threads per chapter, two chapters at once, oversubscribe the two
# cores and run 3-7x slower. Its tables depend on the thread count (float sums in training
# are split by thread), so the reference tables are those of one thread.
SMOKE_THREADS := 1
smoke-chapters: $(STAMP)
	OMP_NUM_THREADS=$(SMOKE_THREADS) $(BIN)/python scripts/run_chapters.py --profile smoke --jobs 2

test-notebooks: smoke-chapters
	rm -rf _build/nbval && mkdir -p _build/nbval/_build/smoke
	$(BIN)/python scripts/nbval_copies.py _build/smoke/book _build/nbval/notebooks
	cp -r _build/smoke/book _build/nbval/_build/smoke/book
	ln -s ../../data _build/nbval/data
	cd _build/nbval && OMP_NUM_THREADS=$(SMOKE_THREADS) ../../$(BIN)/python -m pytest -q -p no:cacheprovider --nbval-lax --nbval-current-env notebooks
	$(BIN)/python scripts/compare_tables.py tests/reference/smoke_tables _build/smoke/book/tables
	$(BIN)/python scripts/compare_tables.py tests/reference/smoke_tables _build/nbval/_build/smoke/book/tables

# After a change that is meant to change the smoke profile's tables.
smoke-reference: smoke-chapters
	rm -rf tests/reference/smoke_tables && mkdir -p tests/reference/smoke_tables
	cp $$(ls _build/smoke/book/tables/*.csv | grep -v /bench_) tests/reference/smoke_tables/

# The gate that the book builds and reads well: execute the smoke profile, build it, check
# the HTML (every saved figure shown, no stderr, machine paths or broken links) and open
# every page in headless Chromium (images load, no JavaScript errors, nothing cut off).
smoke-book: smoke-chapters
	$(JB) _build/smoke
	$(MAKE) --no-print-directory check-site SITE=_build/smoke/_build/html PAGES=_build/smoke/book SHOTS=_build/screenshots/smoke
	@echo "Smoke book: $(abspath _build/smoke/_build/html/index.html)"

SITE ?= _build/html
PAGES ?= book
SHOTS ?= _build/screenshots
check-site: $(STAMP)
	$(BIN)/python scripts/check_html.py $(SITE) $(PAGES)
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || { \
	  echo "make: the browser check needs Chromium, which is not installed:"; \
	  echo "      apt-get update && apt-get install -y chromium   (.ci/run does this)"; exit 2; }
	$(BIN)/python scripts/browser_check.py $(SITE) --screenshots $(SHOTS)

# Re-execute the committed full-profile chapters in book/ and compare the cells marked
# NBVAL_CHECK_OUTPUT (the tables the book's claims rest on) with their committed outputs.
# Runs on a copy in _build/verify/ (book/ and the chapter stamps stay untouched), reusing
# data/full/ artifacts where present; from a fresh clone it recomputes them.
# CHAPTERS picks some, e.g. `make verify CHAPTERS=0[1-4]`.
CHAPTERS ?= [0-9][0-9]
verify: $(STAMP)
	rm -rf _build/verify && mkdir -p _build/verify/book data
	cp -r book/[0-9][0-9]_*.ipynb book/tables book/figures _build/verify/book/
	ln -s ../../data _build/verify/data
	cd _build/verify && ../../$(BIN)/python -m pytest -q -p no:cacheprovider --nbval-lax --nbval-current-env book/$(CHAPTERS)_*.ipynb

# Speed benchmarks (not part of make test); the first sets up rex-xai's own venv.
bench: $(STAMP)
	$(BIN)/python benchmarks/bench_rex_reference.py
	$(BIN)/python benchmarks/bench_raman.py
	$(BIN)/python benchmarks/bench_stroke.py
	$(BIN)/python benchmarks/bench_batch.py
	$(BIN)/python benchmarks/bench_inference.py
	$(BIN)/python benchmarks/bench_malloc.py

# Regenerate the lock file from requirements.in in a scratch environment.
lock:
	rm -rf _build/lockenv && $(PYTHON) -m venv _build/lockenv
	_build/lockenv/bin/pip install -q -r requirements.in
	{ echo "# Exact pins of the whole environment (Python 3.11), generated by 'make lock' from requirements.in."; \
	  echo "# torch==2.13.0 is the CPU build where one is configured (see README: Installing elsewhere)."; \
	  _build/lockenv/bin/pip freeze | sed 's/^torch==2.13.0+cpu$$/torch==2.13.0/'; } > requirements.lock

clean:
	rm -rf _build
