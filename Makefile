# colorbench: `make demo` and `make test` are the whole set-up (they install first).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
LOCK   := requirements/lock.txt
PYTEST_ARGS ?=

.PHONY: install demo test lint lock wheel clean

install: $(STAMP)

# Idempotent: creates the venv once, reinstalls only when pyproject.toml or the lock changes.
# The ranges are pyproject.toml's; the lock picks the exact versions (reproducible set-up).
$(STAMP): pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -c $(LOCK) -e '.[dev]'
	touch $(STAMP)

demo: install
	$(BIN)/colorbench run

lint: install
	$(BIN)/ruff check .

test: install lint
	$(BIN)/python -m pytest -n 2 -m "not slow and not network and not gpu" $(PYTEST_ARGS)

# Re-resolve pyproject.toml's ranges in a fresh venv (newest releases the indexes offer)
# and write their exact versions to the lock; then `make install` installs them.
lock:
	rm -rf $(VENV)-lock
	$(PYTHON) -m venv $(VENV)-lock
	$(VENV)-lock/bin/python -m pip install --quiet --upgrade "pip>=24"
	$(VENV)-lock/bin/python -m pip install --quiet -e '.[dev]'
	$(VENV)-lock/bin/python -m pip freeze --all --exclude-editable \
		| $(VENV)-lock/bin/python requirements/freeze_to_lock.py $(LOCK) > $(LOCK).new
	mv $(LOCK).new $(LOCK)
	rm -rf $(VENV)-lock

# dist/colorbench-VERSION-py3-none-any.whl, for `pip install` into another environment.
# build/ goes first: setuptools would pack stale files left there by an earlier build.
wheel: install
	rm -rf build
	$(BIN)/python -m pip wheel --quiet --no-deps --no-build-isolation --wheel-dir dist .

clean:
	rm -rf $(VENV) $(VENV)-lock runs dist build .pytest_cache .ruff_cache
