# The README's two commands live here:
#   make run    installs into .venv (only when needed) and runs the main job
#   make test   installs into .venv (only when needed) and runs the test suite
# Installing Composer pulls ~5 GB of CUDA wheels, so the install is skipped while
# .venv's stamp matches the hash of the files that define the dependencies.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
EXTRAS ?= test
CONFIG ?= yamls/fashion_mnist.yaml
ARGS   ?=
FMNIST_DIR ?= /usr/share/datasets/fashion-mnist

DEPS_HASH := $(shell cat setup.cfg pyproject.toml | sha256sum | cut -c1-16)
STAMP     := $(VENV)/.installed-$(DEPS_HASH)-$(EXTRAS)

.PHONY: install run test data bench study study-small study-capacity preview ddp clean lint wheels gpu-data gpu-check

install: $(STAMP)

$(STAMP):
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo ">> installing composer-cutmix[$(EXTRAS)] into $(VENV) (first time: ~5 GB of wheels, a few minutes; log: $(VENV)/install.log)"
	@$(PY) -m pip install --disable-pip-version-check -q -e '.[$(EXTRAS)]' > $(VENV)/install.log 2>&1 \
	  || { grep -v '^WARNING: Location' $(VENV)/install.log | tail -n 30; echo '!! pip install failed; see $(VENV)/install.log'; exit 1; }
	@rm -f $(VENV)/.installed-*
	@touch $@
	@echo ">> $(VENV) is up to date"

# Fashion-MNIST as Debian ships it. Installed on demand when we are root on a Debian-like machine.
data:
	@if ls $(FMNIST_DIR)/train-images-idx3-ubyte* >/dev/null 2>&1; then \
	  echo ">> Fashion-MNIST found in $(FMNIST_DIR)"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo ">> installing the Debian package dataset-fashion-mnist"; \
	  (apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1 || \
	   (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1)) \
	  || { echo "!! could not install dataset-fashion-mnist; install it (sudo apt-get install dataset-fashion-mnist) or set train_data.root to a folder with the four idx files"; exit 1; }; \
	else \
	  echo "!! Fashion-MNIST is missing: run 'sudo apt-get install dataset-fashion-mnist', or put the four *-ubyte(.gz) files in a folder and pass train_data.root=... eval_data.root=..."; exit 1; \
	fi

run: install data
	$(VENV)/bin/composer-cutmix train $(CONFIG) $(ARGS)

# Two pytest-xdist workers, one per core (tests/conftest.py gives each one torch thread); one GPU-check dry run.
test: install
	$(PY) -m pytest -n 2 --dist loadfile --no-loadscope-reorder $(ARGS)

preview: install data
	$(VENV)/bin/composer-cutmix preview $(CONFIG) --out runs/preview.png $(ARGS)

# Two processes under Composer's launcher (gloo on CPU, NCCL on GPUs).
ddp: install data
	$(VENV)/bin/composer -n 2 -m composer_cutmix train $(CONFIG) $(ARGS)

# The main point: 15k images, 20 epochs, the four arms the README reports (the other three: ARGS='--arms ...').
study:
	@$(MAKE) --no-print-directory install EXTRAS=test,bench
	$(PY) benchmarks/accuracy_study.py --arms baseline cutmix mixup mixup_cutmix $(ARGS)

# The small-data point: 2k images, 100 epochs, all seven arms (about 6 min of one core per run). Runs already in
# docs/study_small_runs.json are kept, so a rerun trains only the missing ones (ARGS=--dry-run lists them).
study-small:
	@$(MAKE) --no-print-directory install EXTRAS=test,bench
	$(PY) benchmarks/accuracy_study.py --name study_small --train-subset 2000 --epochs 100 --eval-interval 5ep $(ARGS)

# The capacity point: 2k images, a ResNet-8 of width 32 that memorises them, 150 epochs; baseline, CutMix, MixUp and
# RandomMix (the best of the other mixers at the small point), 3 seeds;
# two single-threaded processes side by side (about 35 min a run on a quiet core: 3.5 h for all 12); then the tables
# and plots. Finished runs are kept (docs/study_capacity_runs.json): a rerun trains only the missing ones.
CAPACITY := --name study_capacity --train-subset 2000 --epochs 150 --eval-interval 10ep --set model.width=32 --threads 1
study-capacity:
	@$(MAKE) --no-print-directory install EXTRAS=test,bench
	@mkdir -p runs; $(PY) benchmarks/accuracy_study.py $(CAPACITY) --arms baseline cutmix $(ARGS) > runs/study_capacity-a.log 2>&1 & pid=$$!; \
	  $(PY) benchmarks/accuracy_study.py $(CAPACITY) --arms mixup random_mix $(ARGS); rc=$$?; \
	  wait $$pid || { tail -n 20 runs/study_capacity-a.log; exit 1; }; exit $$rc
	$(PY) benchmarks/accuracy_study.py $(CAPACITY) --report-only

bench:
	@$(MAKE) --no-print-directory install EXTRAS=test,bench
	$(PY) benchmarks/mix_speed.py
	$(PY) benchmarks/train_overhead.py

# ---- The GPU check (docs/gpu_check.md; the tooling is in tools/, the measurements it runs in benchmarks/). The GPU machine has no network: first, here (PyPI reachable),
#   make wheels gpu-data     the wheels it lacks into .whl/ (checked complete), Fashion-MNIST into .gpu-data/
# then on the GPU machine (device tool: carry .whl and .gpu-data), in one go of about 8 minutes:
#   make gpu-check           tests, mixing speed, training-step overhead, accuracy study -> docs/gpu_results.json
# and anywhere, on the CPU in under 2 minutes (the test suite runs it too):
#   make gpu-check DRY=1     every step of the same script with tiny sizes, results in a temporary folder
WHEELS   ?= .whl
GPU_DATA ?= .gpu-data
DRY      ?=
# The GPU image's python3 holds torch; the dry run uses this repo's .venv (made by `make test`).
GPU_PYTHON ?= $(PYTHON)

wheels:
	$(PYTHON) tools/wheels.py --dir $(WHEELS)

gpu-data: data
	@mkdir -p $(GPU_DATA)/fashion-mnist
	@for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do \
	  src=$$(ls $(FMNIST_DIR)/$$f.gz $(FMNIST_DIR)/$$f 2>/dev/null | head -n 1); \
	  test -n "$$src" || { echo "!! $$f missing in $(FMNIST_DIR)"; exit 1; }; \
	  case $$src in *.gz) cp -u $$src $(GPU_DATA)/fashion-mnist/ ;; *) gzip -c $$src > $(GPU_DATA)/fashion-mnist/$$f.gz ;; esac; \
	done
	@du -sh $(GPU_DATA) | sed 's/^/>> Fashion-MNIST for the GPU check: /'

ifeq ($(DRY),)
gpu-check:
	$(GPU_PYTHON) tools/gpu_check.py --wheels $(WHEELS) --data $(GPU_DATA)/fashion-mnist $(ARGS)
else
gpu-check:
	@test -x $(PY) || $(MAKE) --no-print-directory install
	$(PY) tools/gpu_check.py --dry $(ARGS)
endif

lint: install
	$(PY) -m ruff check composer_cutmix tests benchmarks tools examples

clean:
	rm -rf $(VENV) runs *.egg-info
