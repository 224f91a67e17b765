# arcway: build, lab demo and the whole test suite. Both demo and test need root (network
# namespaces) and install what is missing first.

CARGO ?= cargo
export PATH := $(HOME)/.cargo/bin:$(PATH)
export CARGO_TERM_COLOR ?= never

.PHONY: all build release deps demo test fmt-check clippy check-example unit lab-clean clean

all: build

deps:
	@scripts/require-root
	@scripts/install-deps

build:
	$(CARGO) build --locked --workspace

release:
	$(CARGO) build --locked --release -p arcway
	@ls -l target/release/arcway | awk '{print "arcway release binary: " $$5 " bytes"}'

demo: deps build
	@scripts/demo

fmt-check:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --locked --workspace --all-targets -- -D warnings

check-example: build
	target/debug/arcway check-config --config examples/arcway.yaml

# Every test, the root ones included: they build their own network namespaces. Then the
# kernel WireGuard scenario, in a qemu guest booted from Debian's kernel, and the packages:
# the systemd unit, static cross builds under qemu-user, the .deb install/upgrade/purge
# cycle, the .deb under a real systemd in a container, and the OpenWrt packages.
test: deps fmt-check clippy check-example
	$(CARGO) test --locked --workspace --no-fail-fast
	tests/vm/run
	tests/pkg/run-all

lab-clean: build
	target/debug/arcway-lab cleanup

clean:
	$(CARGO) clean
