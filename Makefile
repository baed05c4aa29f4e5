# The two set-up commands of the README: `make run` and `make test`. Each creates the virtual
# environment if it is missing and installs the pinned requirements first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test test-slow lint bench schema clean

$(STAMP): requirements.txt requirements-deploy.txt requirements-dev.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV) || \
		($(PYTHON) -m pip install --quiet virtualenv && $(PYTHON) -m virtualenv $(VENV))
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	# the `parcours` command line (cli/), linked to this checkout
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

run: $(STAMP)
	$(PY) -m chalicelib.local.serve

# One worker per core (pytest-xdist): the suite is CPU-bound, each test starts its own stack.
# WORKERS=0 runs it in one process, without workers. The slow suites stay in one process:
# the deploy tests share build/.
WORKERS ?= auto
test: $(STAMP)
	$(PY) -m pytest -m "not slow" -n $(WORKERS) --dist worksteal

test-slow: $(STAMP)
	$(PY) -m pytest -m slow

# ruff, then mypy (configured in pyproject.toml: strict on the rules ring, checked on the rest).
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

bench: $(STAMP)
	$(PY) -m bench

# The checked-in JSON Schema of scenario files, regenerated from the validator's vocabulary.
schema: $(STAMP)
	$(PY) -m chalicelib.scenarios.json_schema > examples/scenario.schema.json

clean:
	rm -rf $(VENV) $(DEPLOY_VENV) build .pytest_cache

# Deploying (README "Deploying to AWS"). The Lambda runtime is the Python that runs Chalice, so
# packaging and deploying run in their own venv of python3.13 or python3.12 (AWS no longer creates
# python3.11 functions): found on PATH or under ~/.pyenv, or given as DEPLOY_PYTHON=/path/to/python.
STAGE ?= dev
SUPPORTED_RUNTIME := import sys; sys.exit(sys.version_info[:2] not in ((3, 12), (3, 13)))
DEPLOY_PYTHON ?= $(firstword $(foreach candidate,python3.13 python3.12 \
	$(wildcard $(HOME)/.pyenv/versions/3.13*/bin/python3.13 $(HOME)/.pyenv/versions/3.12*/bin/python3.12),\
	$(shell $(candidate) -c '$(SUPPORTED_RUNTIME)' >/dev/null 2>&1 && command -v $(candidate))))
DEPLOY_VENV ?= .venv-deploy
DPY := $(DEPLOY_VENV)/bin/python
DEPLOY_STAMP := $(DEPLOY_VENV)/.installed

.PHONY: package deploy destroy redrive

$(DEPLOY_STAMP): requirements.txt requirements-deploy.txt
	@test -n "$(DEPLOY_PYTHON)" && $(DEPLOY_PYTHON) -c '$(SUPPORTED_RUNTIME)' || { \
	  echo "Deploying needs python3.12 or python3.13, the Lambda runtime the app is deployed to" \
	       "(none found on PATH or under ~/.pyenv): install one, or pass DEPLOY_PYTHON=/path/to/python3.12" >&2; \
	  exit 1; }
	test -x $(DPY) && $(DPY) -c '$(SUPPORTED_RUNTIME)' || $(DEPLOY_PYTHON) -m venv --clear $(DEPLOY_VENV)
	$(DPY) -m pip install --quiet --disable-pip-version-check -r requirements-deploy.txt
	touch $(DEPLOY_STAMP)

# build/STAGE/deployment.zip and build/STAGE/sam.json: what `make deploy` deploys; prints the size.
package: $(DEPLOY_STAMP)
	$(DPY) -m infra.package --stage $(STAGE)

# AWS credentials and a region from the environment (AWS_ENDPOINT_URL is honoured: an emulator).
# SENDER_EMAIL is required on the first deploy of a stage; later deploys keep the stack's values.
deploy: $(DEPLOY_STAMP)
	$(DPY) -m infra.deploy --stage $(STAGE) $(if $(SENDER_EMAIL),--sender-email $(SENDER_EMAIL)) \
	  $(if $(SENDER_DOMAIN),--sender-domain $(SENDER_DOMAIN)) $(if $(ALARM_EMAIL),--alarm-email $(ALARM_EMAIL)) \
	  $(if $(CREATE_SENDER_IDENTITY),--create-sender-identity $(CREATE_SENDER_IDENTITY)) \
	  $(if $(PUBLIC_BASE_URL),--public-base-url $(PUBLIC_BASE_URL)) $(if $(filter 1 true yes,$(TRACING)),--tracing)

# Everything of the stage, data included: CONFIRM=STAGE says so.
destroy: $(DEPLOY_STAMP)
	$(DPY) -m infra.destroy --stage $(STAGE) --confirm "$(CONFIRM)"

# The automation queue's dead letters back to the queue, once their cause is fixed.
redrive: $(DEPLOY_STAMP)
	$(DPY) -m infra.redrive --stage $(STAGE)
