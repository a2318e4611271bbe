# mxguard — see README.md. `make run` starts the milter on the embedded
# default configuration; `make test` runs every test.
GO          ?= go
BIN         ?= bin/mxguard
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS     := -X main.version=$(VERSION)
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.6.1
FUZZTIME    ?= 1m
# Each package with fuzz targets, and its targets.
FUZZ_PKGS   := ./checks/access ./checks/dnsbl ./checks/syntax ./config ./postfixcfg ./dmarc/authres ./dmarc/policy ./dmarc/spf ./dmarc/dkim

.PHONY: all build run test race check fmt fuzz bench clean deb

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

# The Debian package dist/mxguard_<version>_amd64.deb (deploy/README.md).
deb:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/mxguard
	VERSION='$(VERSION)' deploy/build-deb.sh $(BIN)

clean:
	rm -rf bin cover.out var dist
