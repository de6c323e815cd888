# `make demo`: set up .venv, build the built-in example model, list its layers, quantize it and compare.
# `make test`: set up .venv if needed, then run ruff and the whole test suite.
VENV := .venv
BIN := $(VENV)/bin
DEMO := build/demo

.PHONY: setup demo test lint bench clean

setup:
	@bash scripts/bootstrap.sh

demo: setup
	@mkdir -p $(DEMO)
	$(BIN)/nnsurgeon example residual -o $(DEMO)/example.nnp --force
	$(BIN)/nnsurgeon list-layers $(DEMO)/example.nnp
	$(BIN)/nnsurgeon quantize $(DEMO)/example.nnp --after ReLU,Affine -o $(DEMO)/example.q.nnp --force
	$(BIN)/nnsurgeon list-layers $(DEMO)/example.q.nnp --type MinMaxQuantize
	$(BIN)/nnsurgeon compare $(DEMO)/example.nnp $(DEMO)/example.q.nnp --random --samples 16

lint: setup
	$(BIN)/ruff check nnsurgeon tests bench

test: setup lint
	$(BIN)/python -m pytest

bench: setup
	$(BIN)/python bench/bench_speed.py

clean:
	rm -rf $(VENV) build .pytest_cache
