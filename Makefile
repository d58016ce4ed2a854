# The README's two commands: `make demo` (the main job) and `make test` (the suite CI runs).
# Both create or refresh .venv (CPU paddle) when pyproject.toml changed, on a machine with only Python 3 and pip.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
VENV26 := .venv26
PY26   := $(VENV26)/bin/python
PIP_FLAGS ?= -q --disable-pip-version-check

.PHONY: demo test test-unit test-notebooks test-paddle26 notebooks venv clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install $(PIP_FLAGS) -e ".[dev,cpu]"
	touch $@

# the last 2.x release of paddle, with numpy<2 as it needs; unit tests only
$(VENV26)/.installed: pyproject.toml
	test -x $(PY26) || $(PYTHON) -m venv $(VENV26)
	$(PY26) -m pip install $(PIP_FLAGS) -e ".[test]" "paddlepaddle==2.6.2" "numpy<2"
	touch $@

# the main job: article 002's max-pool vs stride-2 LeNet on the embedded real MNIST digits, 3 seeds (2.5-5 min on
# a fresh 2-core machine: about 1 min of set-up, 1 min 40 s of training on an AMD EPYC, 3-4 min on a Xeon);
# notebook 03 then shows (reuses) these runs
demo: $(VENV)/.installed
	@echo "paddle-cnn run pool-vs-stride --profile quick --seeds 3"
	@PADDLE_CNN_RERUN="make demo" $(PY) -m paddle_cnn run pool-vs-stride --profile quick --seeds 3
	@echo "notebook: $(VENV)/bin/jupyter lab notebooks/03_pool_vs_stride2_mnist.ipynb"
	@echo "layers:   $(VENV)/bin/paddle-cnn summary lenet_nopool   (or: source $(VENV)/bin/activate)"

# unit tests and every notebook under the smoke profile, in one pytest run; notebook 00 is executed in a fresh
# kernel and compared cell by cell with its committed outputs by tests/test_notebook_outputs.py, so nbmake skips it
test: $(VENV)/.installed
	PADDLE_CNN_PROFILE=smoke $(PY) -m pytest -q tests notebooks --nbmake \
		--deselect notebooks/00_layer_arithmetic.ipynb::00_layer_arithmetic.ipynb

test-unit: $(VENV)/.installed
	PADDLE_CNN_PROFILE=smoke $(PY) -m pytest -q tests

test-notebooks: $(VENV)/.installed
	PADDLE_CNN_PROFILE=smoke $(PY) -m pytest -q notebooks --nbmake

# re-execute, in place, the notebooks whose data is embedded: quick profile, 3 seeds; finished runs of the same
# plans in logs/ are reused (rm -rf logs/lenet-mnist ... to retrain)
NB_EMBEDDED := notebooks/00_layer_arithmetic.ipynb notebooks/02_lenet_alexnet_mnist.ipynb \
               notebooks/03_pool_vs_stride2_mnist.ipynb
notebooks: $(VENV)/.installed
	PADDLE_CNN_PROFILE=quick $(VENV)/bin/jupyter nbconvert --to notebook --execute --inplace \
		--ExecutePreprocessor.timeout=3600 --ExecutePreprocessor.store_widget_state=False $(NB_EMBEDDED)

# on paddle 2.6 the tests that touch paddle's API (layers, shapes, training, checkpoints, data, devices); the CLI,
# runner, report and notebook tests exercise our own code, which is the same on both, and run above
PADDLE26_TESTS := tests/test_models.py tests/test_model_structure.py tests/test_arithmetic_property.py \
                  tests/test_train.py tests/test_fit_inputs.py tests/test_gpu_paths.py tests/test_metrics.py tests/test_device.py tests/test_data.py tests/test_atomic.py \
                  tests/test_blas_conv.py
test-paddle26: $(VENV26)/.installed
	PADDLE_CNN_PROFILE=smoke $(PY26) -m pytest -q $(PADDLE26_TESTS) \
		tests/test_launch.py::test_spawn_two_gloo_ranks_match_one_process

clean:
	rm -rf $(VENV) $(VENV26) *.egg-info .pytest_cache
