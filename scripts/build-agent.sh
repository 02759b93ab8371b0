#!/usr/bin/env bash
# Build nminus-agent as it is deployed: one static executable (the C library linked in,
# static-pie) in the `agent` profile (fat LTO, size-optimised), for this machine's architecture.
# Being static, the one file runs on every node whatever its distribution and C library version
# (Debian, Ubuntu, RHEL/Rocky/Alma 8 and 9, SUSE, inside containers): nothing is loaded at start,
# which also makes it start faster and use less memory than the dynamically linked build.
#
# Name resolution: glibc's built-in `files` and `dns` sources (`hosts: files dns` in
# /etc/nsswitch.conf) work in a static executable; other NSS modules (sss, mdns, myhostname) are
# loaded from the node's own glibc if at all. On nodes that can resolve the server's name only
# through such a module, give `--server` an address, or use the dynamic build
# (`cargo build --profile agent --bin nminus-agent`).
#
# Usage: scripts/build-agent.sh        prints the binary's path on standard output
# Environment: NMINUS_AGENT_TARGET_DIR (default target/static-agent: its own target directory, so
# the build never waits on, or invalidates, the main one).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
triple=$(rustc -vV | sed -n 's/^host: //p')
[[ -n $triple ]] || { echo "build-agent.sh: cannot tell the host triple from rustc -vV" >&2; exit 2; }
dir=${NMINUS_AGENT_TARGET_DIR:-target/static-agent}
# --target keeps build scripts and proc-macros (host tools) dynamically linked.
RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" CARGO_TARGET_DIR=$dir \
    cargo build --locked --profile agent --bin nminus-agent --target "$triple" >&2
bin=$dir/$triple/agent/nminus-agent
[[ -x $bin ]] || { echo "build-agent.sh: $bin was not built" >&2; exit 2; }
echo "$bin"
