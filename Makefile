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

.PHONY: install run test data bench study preview ddp clean lint

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

test: install
	$(PY) -m pytest $(ARGS)

preview: install data
	$(VENV)/bin/composer-cutmix preview $(CONFIG) --out runs/preview.png $(ARGS)

# Two processes under Composer's launcher (gloo on CPU, NCCL on GPUs).
ddp: install data
	$(VENV)/bin/composer -n 2 -m composer_cutmix train $(CONFIG) $(ARGS)

study:
	@$(MAKE) --no-print-directory install EXTRAS=test,bench
	$(PY) benchmarks/accuracy_study.py $(ARGS)

bench:
	@$(MAKE) --no-print-directory install EXTRAS=test,bench
	$(PY) benchmarks/mix_speed.py
	$(PY) benchmarks/train_overhead.py

lint: install
	$(PY) -m ruff check composer_cutmix tests benchmarks examples

clean:
	rm -rf $(VENV) runs *.egg-info
