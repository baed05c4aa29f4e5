# The two set-up commands of the README: `make run` and `make test`. Each creates the virtual
# environment if it is missing and installs the pinned requirements first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test test-slow lint bench schema clean

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV) || \
		($(PYTHON) -m pip install --quiet virtualenv && $(PYTHON) -m virtualenv $(VENV))
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	# the `parcours` command line (cli/), linked to this checkout
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

run: $(STAMP)
	$(PY) -m chalicelib.local.serve

test: $(STAMP)
	$(PY) -m pytest -m "not slow"

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
	rm -rf $(VENV) .pytest_cache

# Deploy to AWS (credentials and AWS_DEFAULT_REGION from the environment; the aws CLI installed):
# the infra stack first, then the Chalice app with the stack's outputs filled into its config.
# SENDER_EMAIL is required on the first deploy of a stage; later deploys keep the stack's value.
STAGE ?= dev
STACK ?= parcours-$(STAGE)
SENDER_EMAIL ?=
SES_CONFIGURATION_SET ?= parcours-$(STAGE)

.PHONY: deploy
deploy: $(STAMP)
	aws cloudformation deploy --template-file infra/template.yaml --stack-name $(STACK) \
	  --capabilities CAPABILITY_NAMED_IAM --no-fail-on-empty-changeset \
	  --parameter-overrides Stage=$(STAGE) TablePrefix=parcours-$(STAGE)- \
	  SesConfigurationSetName=$(SES_CONFIGURATION_SET) $(if $(SENDER_EMAIL),SenderEmail=$(SENDER_EMAIL))
	$(PY) -m infra.deploy --stage $(STAGE) --stack $(STACK)
