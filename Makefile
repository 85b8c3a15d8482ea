# Ferry's entry points. Every target installs or checks what it needs itself (through scripts/),
# so `make demo` and `make test` work on a fresh Debian or Ubuntu machine that has Rust.
# Run `make` or `make help` for the list.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-builtin-rules

CARGO ?= cargo
export CARGO

# System packages beyond what scripts/setup-rust.sh ensures for compiling (build-essential,
# pkg-config): cargo fetches crates over HTTPS. Later issues add the desktop and test-peer
# packages (DESIGN section 5) here.
SYSTEM_PACKAGES := ca-certificates

# A fresh checkout in CI gains nothing from incremental compilation, only disk and time.
ifeq ($(CI),true)
export CARGO_INCREMENTAL := 0
export CARGO_TERM_COLOR := never
endif

.PHONY: help setup peers test-tools ui-setup ui-build ui-test fmt-check clippy purity doc lint test demo demo-stop demo-cli bench bench-upload bench-sync clean

help: ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(firstword $(MAKEFILE_LIST)) | \
	    awk 'BEGIN { FS = ":.*## " } { printf "  make %-12s %s\n", $$1, $$2 }'

setup: ## Install missing system packages; check the Rust toolchain
	bash scripts/apt-ensure.sh $(SYSTEM_PACKAGES)
	bash scripts/setup-rust.sh

peers: ## Install the pinned Node.js test peers (tests/peers/, npm ci when the lock file changed)
	bash scripts/setup-node.sh

test-tools: ## Install the programs the tests start (dbus-run-session, gnome-keyring-daemon)
	bash scripts/setup-test-tools.sh

ui-setup: ## Install the window's Node packages (npm ci in ui/) and Chromium for its browser tests
	bash scripts/setup-ui.sh

ui-build: ui-setup ## Build the window (ui/dist), which the desktop shell embeds
	npm --prefix ui run build

ui-test: ui-setup ## Check, unit-test, build and browser-test the window (ui/; screenshots in ui/test-output/)
	bash scripts/ui-test.sh

fmt-check: setup ## Check formatting (cargo fmt)
	$(CARGO) fmt --all -- --check

clippy: setup desktop-setup ui-build ## Lint every crate and target (the desktop shell too), warnings as errors
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

purity: setup ## Check that ferry-proto stays sans-IO
	bash scripts/check-proto-purity.sh

doc: setup ## Build ferry-proto's docs, warnings as errors
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc -p ferry-proto --no-deps --locked

lint: fmt-check purity clippy doc ## All of the checks above (cheapest first)

# The window's tests (ui-test) and the real-app end-to-end test (e2e-desktop) print their
# counts as cargo-style "test result:" lines into the same log, so the closing summary counts
# them too; the summary is printed even when they fail.
test: setup lint peers test-tools ui-setup desktop-setup ## Lint, then every test: the workspace (with the interop peers), the window's, and the real app end to end
	mkdir -p target
	$(CARGO) test --workspace --locked 2>&1 | tee target/test-output.log
	ui=0; bash scripts/ui-test.sh 2>&1 | tee -a target/test-output.log || ui=$$?; \
	    e2e=0; bash scripts/e2e-desktop.sh 2>&1 | tee -a target/test-output.log || e2e=$$?; \
	    bash scripts/test-summary.sh target/test-output.log; \
	    exit $$(( ui || e2e ))

demo: setup ## Build everything, start ferry-server on 127.0.0.1 and the desktop app signed in and syncing a demo folder
	bash scripts/demo.sh

demo-stop: ## Stop what `make demo` left running (the app, ferry-server, Xvfb)
	bash scripts/demo-stop.sh

demo-cli: setup peers ## The protocols and the CLI: ferry-server with real third-party clients and `ferry upload`
	$(CARGO) build --locked -p ferry-server -p ferry-cli -p ferry-proto --examples --bins
	bash scripts/demo-cli.sh

bench: bench-upload bench-sync ## Both benchmarks below; results appended to docs/benchmarks.md

bench-upload: setup ## upload throughput: ferry-server vs @tus/server, ferry upload, a 20 ms link, 50 at once, 4 GiB memory
	bash scripts/bench.sh

bench-sync: setup ## folder sync: 10,000 small files (also tus-js-client x20, a 20 ms link), rescan of 100,000, rename, latency
	python3 scripts/bench-sync.py

clean: ## Remove build output
	$(CARGO) clean

# The desktop app (src-tauri + ui). `test` above runs its lint, its unit tests and the
# end-to-end test; `package` builds the .deb (a release build: several minutes).
.PHONY: desktop-setup desktop-lint package check-deb e2e-desktop

desktop-setup: ## Install the Debian packages the desktop app builds with (WebKitGTK, tray)
	bash scripts/setup-desktop.sh

desktop-lint: setup desktop-setup ## Lint and unit-test the desktop shell (ferry-desktop), warnings as errors
	$(CARGO) clippy -p ferry-desktop --all-targets --locked -- -D warnings
	$(CARGO) test -p ferry-desktop --locked

package: setup desktop-setup ## Build the desktop app's .deb (tauri build --bundles deb) and print its path
	bash scripts/package-deb.sh

check-deb: ## Install the newest .deb with dpkg -i and check it starts under Xvfb (root)
	bash scripts/check-deb.sh

e2e-desktop: setup ## The real app under Xvfb through tauri-driver; screenshots in target/e2e/
	bash scripts/e2e-desktop.sh
