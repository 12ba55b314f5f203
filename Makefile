# Almanac's developer entry points. `make help` lists them.

# Buf runs from the Go module proxy at this version; nothing else is downloaded.
BUF_VERSION := v1.75.0
BUF := go run github.com/bufbuild/buf/cmd/buf@$(BUF_VERSION)

# DEMO_DIR is where `make demo` creates the demo feature repository, and
# DEMO_GRPC / DEMO_HTTP where its feature server listens.
DEMO_DIR ?= demo
DEMO_GRPC ?= 127.0.0.1:16566
DEMO_HTTP ?= 127.0.0.1:18080
# TESTFLAGS are extra flags for `go test`, e.g. TESTFLAGS='-run Redis -v'.
TESTFLAGS ?=
# BENCHFLAGS are passed to every benchmark program, e.g. BENCHFLAGS=-quick.
BENCHFLAGS ?=

.DEFAULT_GOAL := help
.PHONY: help build demo test lint proto bench

help: ## list the targets
	@awk 'BEGIN { FS = ":.*## " } /^[a-z]+:.*## / { printf "  %-6s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

build: ## build bin/almanac
	go build -o bin/almanac ./cmd/almanac

demo: build ## run the demo end to end in DEMO_DIR (default: demo)
	rm -rf $(DEMO_DIR)
	bin/almanac init $(DEMO_DIR) --demo
	bin/almanac --repo $(DEMO_DIR) plan
	bin/almanac --repo $(DEMO_DIR) apply --yes
	bin/almanac --repo $(DEMO_DIR) plan
	bin/almanac --repo $(DEMO_DIR) list views
	bin/almanac --repo $(DEMO_DIR) list services
	bin/almanac --repo $(DEMO_DIR) materialize-incremental now
	bin/almanac --repo $(DEMO_DIR) export --service trip_pricing_v1 \
		--entities $(DEMO_DIR)/data/labels/trip_outcomes.parquet \
		--out $(DEMO_DIR)/training/trip_pricing.parquet --dataset trip_pricing_train
	bin/almanac --repo $(DEMO_DIR) list datasets
	bin/almanac --repo $(DEMO_DIR) get --local --service driver_ranking_v1 --entity driver_id=1001
	@echo "--- An upstream bug: a new hour of driver_hourly arrives with conv_rate 0.35 too low."
	cp $(DEMO_DIR)/data/incoming/driver_hourly_shifted.parquet $(DEMO_DIR)/data/driver_hourly/
	@echo "    Its hour is behind driver_stats' watermark (the time of the first run): materialize its range again."
	bin/almanac --repo $(DEMO_DIR) materialize 2000-01-01 now driver_stats
	@echo "--- Serve, and run a serving application: lookups, a push, 3000 priced trips."
	go build -o bin/sdk-example ./examples/sdk
	bin/almanac --repo $(DEMO_DIR) serve --grpc-addr $(DEMO_GRPC) --http-addr $(DEMO_HTTP) & pid=$$!; \
		bin/sdk-example -addr $(DEMO_GRPC) -traffic 3000; status=$$?; \
		kill -TERM $$pid; wait $$pid; exit $$status
	@echo "--- Drift of the served lookups against the training set."
	bin/almanac --repo $(DEMO_DIR) drift --dataset trip_pricing_train --service trip_pricing_v1 --since 1h
	bin/almanac --repo $(DEMO_DIR) drift --dataset trip_pricing_train --service trip_pricing_v1 --since 1h \
		-o html --out $(DEMO_DIR)/drift.html

test: ## install redis-server if missing, lint, run every test with -race
	scripts/ensure-redis.sh
	$(MAKE) --no-print-directory lint
	go test -race -count=1 $(TESTFLAGS) ./...

lint: ## go vet, gofmt check (generated *.pb.go excluded), buf lint
	go vet ./...
	@unformatted=$$(find . -path ./.git -prune -o -name testdata -prune -o \
		-name '*.go' ! -name '*.pb.go' -exec gofmt -l {} +); \
	if [ -n "$$unformatted" ]; then \
		echo "gofmt -w needed on:"; echo "$$unformatted"; exit 1; \
	fi
	$(BUF) lint

proto: ## regenerate proto/**/*.pb.go from the .proto files
	$(BUF) generate

bench: ## run the benchmarks of BENCHMARKS.md (BENCHFLAGS=-quick for a smoke run)
	go test -run=NONE -bench=. -benchtime=10x ./online/... ./drift/
	go test -run=NONE -bench=BenchmarkAppend -benchtime=1000x ./offline/
	go run ./bench/offline $(BENCHFLAGS)
	go run ./bench/materialize $(BENCHFLAGS)
	go run ./bench/serving $(BENCHFLAGS)
	go run ./bench/drift $(BENCHFLAGS)
	go run ./bench/windows $(BENCHFLAGS)
	go run ./bench/windows -export $(BENCHFLAGS)
