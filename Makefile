# l2fabric: build, run and test.
#
#   make build   build bin/l2fabric, stamped with the release tag (if the
#                commit is one) and the commit
#   make run     build and run l2fabric with its default port, or with
#                ARGS="--port ..."
#   make install install bin/l2fabric (built if missing) in $(PREFIX)/bin
#                (/usr/local/bin; DESTDIR= for packaging)
#   make test    the whole test suite, as CI runs it (as root: it installs
#                qemu and a guest kernel from Debian's packages)
#   make bench   FDB and forwarding benchmarks, and the forwarding rate
#                against vde_switch and a bare relay
#   make release binaries for macOS and Linux, arm64 and amd64, in dist/
#                (docs/release.md: the macOS build with vm: ports is made
#                and signed on a Mac)

GO ?= go
BIN := bin/l2fabric
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
# The release a tagged commit is, empty otherwise (l2fabric --version then
# says devel).
VERSION ?= $(shell git describe --tags --exact-match 2>/dev/null)
# The commit, stamped too: Go records none where VCS stamping is off
# (GOFLAGS=-buildvcs=false) or fails (a git worktree).
COMMIT ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null)$(shell git diff --quiet HEAD -- 2>/dev/null || echo +dirty)
STAMP := -X main.version=$(VERSION) -X main.commit=$(COMMIT)

.PHONY: all build run install uninstall setup vet test unit integration bench release clean

all: build

build:
	$(GO) build -ldflags "$(STAMP)" -o $(BIN) ./cmd/l2fabric

run: build
	$(BIN) $(ARGS)

# Builds bin/l2fabric only if it is not there, so that `make build && sudo
# make install` needs no Go toolchain on root's PATH.
$(BIN):
	$(MAKE) build

install: $(BIN)
	install -d $(DESTDIR)$(BINDIR)
	install -m 0755 $(BIN) $(DESTDIR)$(BINDIR)/l2fabric

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/l2fabric

# Packages the integration tests need: qemu, busybox, a Debian guest kernel.
setup:
	bash integration/setup.sh

# gofmt, go vet for Linux, and vet + build for macOS on both architectures:
# the darwin code is only ever compiled here; cgocheck type-checks the
# darwin+cgo (Virtualization.framework) files, which need the macOS SDK to
# compile, with go/types and a faked "C".
vet:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	GOOS=darwin GOARCH=arm64 CGO_ENABLED=0 $(GO) vet ./...
	GOOS=darwin GOARCH=arm64 CGO_ENABLED=0 $(GO) build ./...
	GOOS=darwin GOARCH=amd64 CGO_ENABLED=0 $(GO) vet ./...
	GOOS=darwin GOARCH=amd64 CGO_ENABLED=0 $(GO) build ./...
	$(GO) run ./internal/tools/cgocheck -goarch arm64,amd64 ./...
	$(GO) build ./...

# Unit tests under the race detector, then everything (allocation tests
# skip under -race, and the integration tests run the real binary against
# real peers: unixgram clients and qemu guests).
unit:
	$(GO) test -race -count=1 ./frames/... ./fdb/... ./fabric/... ./backends/... ./cmd/... ./internal/...

integration:
	$(GO) test -count=1 -timeout 15m ./...

test: setup vet unit integration

# In-process benchmarks (FDB, forwarding path), then the forwarding-rate
# comparison with vde_switch and a bare relay (root, after make setup).
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./fdb/ ./fabric/
	$(GO) run ./integration/bench

# Release binaries: stamped with the version (git describe: the tag, the
# commits since it and the commit, -dirty for uncommitted changes; or
# VERSION=v1.2.3), built without cgo, so the darwin ones have no vm:
# ports (docs/release.md builds and signs that one on a Mac).
RELEASE_VERSION := $(or $(VERSION),$(shell git describe --tags --always --dirty 2>/dev/null),devel)
RELEASE_TARGETS := darwin/arm64 darwin/amd64 linux/amd64 linux/arm64
RELEASE_LDFLAGS := -s -w -X main.version=$(RELEASE_VERSION) -X main.commit=$(COMMIT)

release:
	rm -rf dist
	mkdir -p dist
	@for t in $(RELEASE_TARGETS); do \
		os=$${t%/*}; arch=$${t#*/}; out=dist/l2fabric-$(RELEASE_VERSION)-$$os-$$arch; \
		echo "$$out"; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags '$(RELEASE_LDFLAGS)' -o $$out ./cmd/l2fabric || exit 1; \
	done
	cd dist && sha256sum l2fabric-* > SHA256SUMS

clean:
	rm -rf bin dist
