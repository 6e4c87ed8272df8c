# Speech-restoration benchmark. `make install && make demo`, `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
# torch is installed first and pinned: 2.13.0 is the CPU wheel on the dev/CI machines' disk; an
# unpinned torch resolves to a multi-GB CUDA build. Set TORCH_SPEC to choose another build.
TORCH_SPEC ?= torch==2.13.0
# Extras the test suite needs (heavy, weight-hungry extras such as nemo/ray stay opt-in).
EXTRAS ?= dev,train,codec,demucs,voicefixer,frcrn,ray,listen
# The small real corpora and weight mirror shipped beside the repo are used when present.
SHARED := $(abspath ../shared/data)
ifneq ($(wildcard $(SHARED)/corpora),)
export BENCHMARK_CORPORA ?= $(SHARED)/corpora
export BENCHMARK_ASSET_MIRROR ?= $(SHARED)/assets
endif
export BENCHMARK_DATA ?= $(CURDIR)/data
# The suite runs on 2 pytest-xdist workers (the dev/CI machines have 2 cores); a test file stays on
# one worker (--dist loadfile), so a module's fixtures (trained tiny checkpoints, transcripts) are
# built once. PYTEST_XDIST= runs it in one process.
PYTEST_XDIST ?= -n 2 --dist loadfile
PYTEST_ARGS ?=

.PHONY: install system-deps test testsets demo bench lint clean help

help:
	@echo "make install   create .venv and install the harness (torch first, then everything)"
	@echo "make demo      build small test sets, run the offline systems, score, write a report"
	@echo "make test      run the test suite"
	@echo "make testsets  fetch missing corpora, then build every test set ($(BENCHMARK_CORPORA))"
	@echo "make bench     speed/memory benchmarks, results in bench/results/"
	@echo "make lint      ruff, and the import-layering contracts (lint-imports, pyproject.toml)"

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install "$(TORCH_SPEC)"
	# one resolver call so every constraint (torch pin included) is seen together
	$(PY) -m pip install "$(TORCH_SPEC)" -e ".[$(EXTRAS)]"
	# Packages installed without their declared requirements (their real runtime needs are listed in
	# the extras of pyproject.toml): DAC (declares torchaudio, never used by encode/decode; every
	# torchaudio wheel pins one exact torch), DEMUCS's `denoiser` (pins torchaudio and hydra-core<1.0,
	# neither used by its model code), `voicefixer` (pulls streamlit for its GUI) and `clearvoice`
	# (FRCRN; pins numpy<2, librosa==0.10.2, torchaudio, opencv: none imported by its FRCRN code).
	$(PY) -m pip install --no-deps descript-audio-codec==1.0.0 descript-audiotools==0.7.2 \
	  denoiser==0.1.5 voicefixer==0.1.3 clearvoice==0.1.2
	$(MAKE) --no-print-directory system-deps
	touch $@

# System packages the test suite needs beyond PyPI: Debian's chromium (driven by playwright in the
# listening-page tests; playwright never downloads a browser of its own). Installed when this is
# root on a Debian/Ubuntu machine; otherwise one line naming the command to run.
system-deps:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  echo "installing chromium (apt-get) for the listening-page tests"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	    || { echo "error: apt-get install chromium failed; the listening-page tests need /usr/bin/chromium"; exit 1; }; \
	else \
	  echo "note: the listening-page tests need /usr/bin/chromium: run 'sudo apt-get install chromium'"; \
	fi

install: $(VENV)/.installed

test: $(VENV)/.installed
	$(PY) -m pytest $(PYTEST_XDIST) $(PYTEST_ARGS)

testsets: $(VENV)/.installed
	$(PY) -m benchmark testsets build all --fetch $(TESTSET_ARGS)

demo: $(VENV)/.installed
	$(PY) -m benchmark.demo

bench: $(VENV)/.installed
	mkdir -p bench/results
	$(PY) -m bench.run_all

lint: $(VENV)/.installed
	$(PY) -m ruff check benchmark systems testsets metrics tests
	$(VENV)/bin/lint-imports

clean:
	rm -rf data reports/*/ .pytest_cache
