# The two commands a new user needs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

CONSOLE := tianyan/web/dist/index.html
CONSOLE_MODULES := console/node_modules/.package-lock.json
CONSOLE_SOURCES := $(shell find console/src console/scripts -type f 2>/dev/null) console/index.html \
	console/vite.config.js console/package.json

.PHONY: demo test lint bench clean console


$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The web console: Node.js 20.19+ and npm install the pinned packages (package-lock.json) and Vite builds it into the
# Python package, which serves it under /console/.
$(CONSOLE_MODULES): console/package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "Node.js 20.19+ with npm is needed to build the web console"; exit 1; }
	cd console && npm ci --no-audit --no-fund --loglevel=error
	touch $(CONSOLE_MODULES)

$(CONSOLE): $(CONSOLE_MODULES) $(CONSOLE_SOURCES)
	cd console && npm run --silent build

console: $(CONSOLE)

demo: $(STAMP) $(CONSOLE)
	$(VENV)/bin/tianyan demo

test: $(STAMP) $(CONSOLE)
	$(VENV)/bin/ruff check tianyan tests bench
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check tianyan tests bench

bench: $(STAMP)
	$(PY) bench/import_cameras.py --quick

clean:
	rm -rf $(VENV) tianyan-data .pytest_cache console/node_modules tianyan/web/dist
