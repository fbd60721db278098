# The two commands of the README. Both bootstrap what they need.
SHELL := /bin/bash
export OMP_NUM_THREADS ?= 1
export MKL_NUM_THREADS ?= 1

.PHONY: demo test bootstrap lint bench

bootstrap:
	@scripts/bootstrap.sh

demo: bootstrap
	@scripts/demo.sh

test: bootstrap
	@scripts/test.sh

lint: bootstrap
	.venv/bin/ruff check .

bench: bootstrap
	@for b in bench/[!_]*.py; do echo "== $$b"; .venv/bin/python $$b --quick || exit 1; done
