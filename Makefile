# Everyday commands of the port mapper toolkit. `make test` is what a change
# must pass and what .ci/run runs; see README.md.

GO       ?= go
# FUZZTIME is the budget of each fuzz target under `make fuzz`: a count of
# inputs (Nx), not a duration. Go 1.26's coordinator can report a spurious
# "context deadline exceeded" failure when a duration runs out while a worker
# is mid-input (golang/go#75804, fixed in Go 1.27); a count has no deadline.
FUZZTIME ?= 200000x
# TESTFLAGS go to `go test` under `make test` (.ci/run passes -count=1).
TESTFLAGS ?=
BIN      := bin

# Go lives in /usr/local/go/bin on the project's machines; it may not be on
# a root shell's PATH, and rpcbind, ip and nft live in /usr/sbin.
export PATH := $(PATH):/usr/local/go/bin:/usr/sbin:/sbin

.PHONY: all build test lint fuzz bench demo clean

all: build

# Every main package under cmd/ into bin/; nothing to do while cmd/ is empty.
# The commands in STATIC are built without cgo, since a static binary maps
# no libc or ld.so: portmapd, the resident daemon, has 1.4 MiB less RSS, and
# rpcinfo starts about 1 ms sooner (docs/performance.md). Neither then asks
# the NSS modules of /etc/nsswitch.conf: portmapd resolves no host names and
# reads the -s user from /etc/passwd; rpcinfo resolves names from /etc/hosts
# and DNS only. `make build STATIC=` builds every command with cgo. GOTAGS:
# urfave_cli_no_docs leaves urfave/cli's man page generator out of the
# binaries (they print their committed, embedded pages). A plain
# `go build ./cmd/...` works too; it just makes larger, slower-starting
# binaries.
STATIC ?= portmapd rpcinfo
GOTAGS ?= urfave_cli_no_docs
build:
	@mkdir -p $(BIN)
	@pkgs=$$(if [ -d cmd ]; then $(GO) list -f '{{if eq .Name "main"}}{{.ImportPath}}{{end}}' ./cmd/...; fi); \
	if [ -z "$$pkgs" ]; then \
		echo "build: no commands under cmd/ yet"; \
	else \
		static=; dynamic=; \
		for p in $$pkgs; do \
			case " $(STATIC) " in *" $${p##*/} "*) static="$$static $$p";; *) dynamic="$$dynamic $$p";; esac; \
		done; \
		{ [ -z "$$dynamic" ] || $(GO) build -tags '$(GOTAGS)' -o $(BIN)/ $$dynamic; } && \
		{ [ -z "$$static" ] || CGO_ENABLED=0 $(GO) build -tags '$(GOTAGS)' -o $(BIN)/ $$static; } && ls $(BIN); \
	fi

# The checks a change must pass: formatting and vet, then every test under the
# race detector. The interop tests need root, rpcbind, libtirpc-dev, nftables
# and iproute2 (.ci/run installs them); without them they skip locally and fail
# under CI=true. The 14-minute cap keeps the whole run under 15 minutes.
test: lint
	$(GO) test -race -timeout 14m $(TESTFLAGS) ./...

lint:
	@out=$$(gofmt -l .); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# Each fuzz target (func FuzzXxx in a _test.go file) for FUZZTIME. New
# failing inputs land in the package's testdata/fuzz and are committed as
# regression cases.
fuzz:
	@set -e; \
	dirs=$$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -r -n1 dirname | sort -u); \
	if [ -z "$$dirs" ]; then echo "fuzz: no fuzz targets"; exit 0; fi; \
	for dir in $$dirs; do \
		for target in $$($(GO) test -list '^Fuzz' $$dir | grep '^Fuzz'); do \
			echo "fuzz: $$dir $$target, $(FUZZTIME)"; \
			$(GO) test -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) $$dir; \
		done; \
	done

# Go micro-benchmarks, then each comparison of docs/performance.md against its
# reference (rpcbind, Debian's rpcinfo, libtirpc's pmap_set) in one run.
bench: build
	$(GO) test -run '^$$' -bench . -benchmem ./...
	bash bench/compare.sh

# Build, start portmapd on a loopback port, register the seed table with
# pmapset, list it with rpcinfo -p and -s, stop the server. Needs no root.
demo:
	@GO=$(GO) BIN=$(BIN) bash scripts/demo.sh

clean:
	rm -rf $(BIN) coverage.out coverage.html
