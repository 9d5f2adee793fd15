# The two entry points the README gives: `make demo` (main job) and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin

.PHONY: setup demo test test-fast matrix lint typecheck dogfood bench clean

$(VENV)/.installed: pyproject.toml examples/registry/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,redis]' -e 'examples/registry[dev]'
	touch $@

setup: $(VENV)/.installed

demo: setup
	$(BIN)/python -m registry demo
	@echo "== web UI: run '$(BIN)/python -m registry serve', then open http://127.0.0.1:8000/"
	@echo "== celery-safe check on the example (must be clean)"
	$(BIN)/celery-safe check examples/registry --exclude examples/registry/legacy
	@echo "== celery-safe check on legacy/, the same tasks written the old way (findings expected)"
	$(BIN)/celery-safe check examples/registry/legacy; test $$? -eq 1
	@echo "== celery-safe check-app on the example's app (must be clean)"
	$(BIN)/celery-safe check-app registry.celery_app:app
	@echo "== celery-safe check-app on legacy/'s app: its deployment mistakes (problems expected)"
	PYTHONPATH=examples/registry $(BIN)/celery-safe check-app legacy.celery_app:app; test $$? -eq 1

lint: setup
	$(BIN)/ruff check celery_safe examples/registry/registry

typecheck: setup
	$(BIN)/mypy --strict celery_safe
	$(BIN)/mypy --strict examples/registry/registry

dogfood: setup
	$(BIN)/celery-safe check .

# The whole suite as two pytest processes at once, every test in exactly one of them: the
# tests that start workers or use Redis or RabbitMQ in the foreground, test-fast's (the
# linter's, the codemods', the example's domain tests) in the background, output in
# var/test-fast.log, printed when both are done. The suite mostly waits (on a busy 2-core
# box: 562 CPU-s in 1,162 s split, against 1,917 s as one process). The background one gets server URLs on a
# closed port: a test using Redis or RabbitMQ without its marker fails there (under CI)
# instead of sharing the foreground's databases.
TEST_FAST_LOG ?= var/test-fast.log
# A job started with & by make's shell (no job control) ignores SIGINT (POSIX), and what
# it runs inherits that: Ctrl-C stopped the foreground half only, the other ran on after
# make had exited. And make, sent SIGTERM (`timeout ... make test`), ends only the shell:
# both halves ran on. This puts SIGINT back to its default and (Linux) asks for one when
# the shell dies, then runs the command: each half stops as a Ctrl-C stops it.
INTERRUPTIBLE = $(PYTHON) -c 'import ctypes, os, signal, sys; \
	signal.signal(signal.SIGINT, signal.SIG_DFL); \
	sys.platform != "linux" or ctypes.CDLL(None).prctl(1, signal.SIGINT); \
	os.execvp(sys.argv[1], sys.argv[1:])'
NO_SERVERS := CELERY_SAFE_REDIS_URL=redis://127.0.0.1:1 \
	CELERY_SAFE_AMQP_URL=amqp://guest:guest@127.0.0.1:1//
test: setup lint typecheck dogfood
	mkdir -p $(dir $(TEST_FAST_LOG))
	$(NO_SERVERS) $(INTERRUPTIBLE) $(BIN)/pytest -m "$(FAST)" >$(TEST_FAST_LOG) 2>&1 & fast=$$!; \
	$(INTERRUPTIBLE) $(BIN)/pytest -m "not ($(FAST))"; rest=$$?; \
	wait $$fast; fast=$$?; \
	echo "== make test: test-fast's tests, run alongside ($(TEST_FAST_LOG))"; \
	cat $(TEST_FAST_LOG); \
	test $$rest -eq 0 && test $$fast -eq 0

# The inner loop: every test that starts no Celery worker process and needs no Redis or
# RabbitMQ (pytest markers `worker`, `redis`, `amqp`); `make test` runs them all.
FAST := not worker and not redis and not amqp
test-fast: setup
	$(BIN)/pytest -q -m "$(FAST)"

# The core, workflow and embedded suites on every supported Celery minor (5.3-5.7), and on
# every other CPython this machine has (3.10-3.13) with the latest Celery: one venv each
# under var/matrix/. Needs Redis and RabbitMQ like `make test` (.ci/run starts both).
# A Celery minor runs everything: Celery's and kombu's behaviour is what differs. Another
# CPython with the same Celery and kombu runs everything but the Redis and RabbitMQ tests:
# their client code is the same pure Python on every CPython, and workers in every pool,
# the embedded broker (sqlite3) and the guard (frames, threads) still run on it.
# The two run at the same time (their tests mostly wait on workers): the other CPythons
# in the background, their output in var/matrix/pythons.log, printed when both are done.
# They share nothing with the Celery minors' run: no Redis or RabbitMQ test is selected,
# and the URLs they get point at a closed port, so a test that uses either server without
# its marker fails there (under CI) instead of sharing the other run's databases.
MATRIX_CELERY ?= 5.3 5.4 5.5 5.6 5.7
MATRIX_PYTHONS ?= 3.10 3.12 3.13
MATRIX_PYTHONS_SKIP ?= not redis and not amqp
MATRIX_PYTHONS_LOG ?= var/matrix/pythons.log
matrix:
	mkdir -p $(dir $(MATRIX_PYTHONS_LOG))
	$(NO_SERVERS) $(INTERRUPTIBLE) \
	    $(PYTHON) scripts/matrix.py --celery 5.7 --python $(MATRIX_PYTHONS) \
	    -- -m "$(MATRIX_PYTHONS_SKIP)" >$(MATRIX_PYTHONS_LOG) 2>&1 & pythons=$$!; \
	$(INTERRUPTIBLE) $(PYTHON) scripts/matrix.py --celery $(MATRIX_CELERY); minors=$$?; \
	wait $$pythons; pythons=$$?; \
	echo "== matrix: the other CPythons, run alongside ($(MATRIX_PYTHONS_LOG))"; \
	cat $(MATRIX_PYTHONS_LOG); \
	test $$minors -eq 0 && test $$pythons -eq 0

bench: setup
	for f in benchmarks/*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
