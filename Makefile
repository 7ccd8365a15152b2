# nnlab: `make demo` trains the default model; `make test` runs the whole suite.
VENV ?= .venv
PY := $(VENV)/bin/python
export MALLOC_MMAP_THRESHOLD_ = 33554432
export MALLOC_TRIM_THRESHOLD_ = 68719476736
export MALLOC_TOP_PAD_ = 268435456

.PHONY: demo test install bench clean

$(PY):
	python3 -m venv $(VENV)
	$(PY) -m pip install --upgrade pip >/dev/null

$(VENV)/.installed: pyproject.toml | $(PY)
	$(PY) -m pip install -e '.[test]'
	touch $@

install: $(VENV)/.installed

demo: install
	$(VENV)/bin/nnlab train configs/classify/digits_mlp.yaml

# pytest's exit code 5 (no tests collected) is a failure here, not a pass.
test: install
	$(PY) -m pytest -q; rc=$$?; if [ $$rc -eq 5 ]; then echo "no tests ran"; exit 1; fi; exit $$rc

# each prints its figures against a reference measured in the same run; run them on an otherwise idle machine
bench: install
	$(PY) benchmarks/engine_overhead.py
	$(PY) benchmarks/engine_overhead.py --channels-last
	$(PY) benchmarks/mnist_time_to_accuracy.py
	$(PY) benchmarks/optim_step.py
	$(PY) benchmarks/zoo_throughput.py
	$(PY) benchmarks/augment_throughput.py
	$(PY) benchmarks/serve_load.py
	$(PY) benchmarks/eval_speed.py
	$(PY) benchmarks/sliding_vs_conv.py
	$(PY) benchmarks/segment_peer.py --data.path=../shared/datasets/pennfudanped
	$(PY) benchmarks/pixelcnn_sampling.py
	$(PY) benchmarks/sequence_throughput.py

clean:
	rm -rf $(VENV) build *.egg-info
