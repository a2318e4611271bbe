# mxguard — see README.md. `make run` starts the milter on the embedded
# default configuration; `make test` runs every test.
GO          ?= go
BIN         ?= bin/mxguard
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS     := -X main.version=$(VERSION)
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@2025.1.1
FUZZTIME    ?= 1m
# Each package with fuzz targets, and its targets.
FUZZ_PKGS   := ./checks/access ./checks/syntax ./config

.PHONY: all build run test race check fmt fuzz bench clean

all: build

build:
	$(GO) build ./...
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/mxguard

run:
	$(GO) run -ldflags '$(LDFLAGS)' ./cmd/mxguard serve

test:
	$(GO) test -shuffle=on -count=1 -coverprofile=cover.out ./...

race:
	$(GO) test -race -count=1 ./...

check:
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

fmt:
	gofmt -s -w .

fuzz:
	@for pkg in $(FUZZ_PKGS); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$t"; \
	    $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

clean:
	rm -rf bin cover.out var
