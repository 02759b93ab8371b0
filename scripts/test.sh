#!/usr/bin/env bash
# The whole test suite: unit, integration, differential (against dpkg, Python packaging,
# librpm, node-semver), fuzz-corpus replay and doc tests. Installs the reference tools it needs
# when they are missing (idempotent), then runs cargo. `.ci/run` calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
command -v dpkg >/dev/null || missing+=(dpkg)
/usr/bin/python3 -c 'import rpm' 2>/dev/null || missing+=(python3-rpm)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
command -v man >/dev/null || missing+=(man-db)
# lz4: src/releases/apt.rs compresses an index as apt keeps its lists.
command -v lz4 >/dev/null || missing+=(lz4)
test -x /usr/bin/time || missing+=(time)
command -v ansible-playbook >/dev/null || missing+=(ansible)
command -v xmllint >/dev/null || missing+=(libxml2-utils)
command -v chromium >/dev/null || missing+=(chromium)
# podman: tests/it/images.rs talks to a private `podman system service` (its API test).
command -v podman >/dev/null || missing+=(podman)
# git: tests/it/sync.rs serves repositories with `git http-backend`; jq, file: the agent check below.
command -v git >/dev/null || missing+=(git)
command -v jq >/dev/null || missing+=(jq)
command -v file >/dev/null || missing+=(file)
# postgresql: tests/it/store.rs and serve.rs start ephemeral clusters; prometheus: promtool.
test -x /usr/lib/postgresql/15/bin/initdb || missing+=(postgresql)
command -v promtool >/dev/null || missing+=(prometheus)
# prometheus-alertmanager, python3-venv: tests/it/discover.rs (alert delivery; a real Keystone).
command -v prometheus-alertmanager >/dev/null || missing+=(prometheus-alertmanager)
python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
command -v curl >/dev/null || missing+=(curl)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing reference tools: ${missing[*]}" >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Python `packaging` (the PEP 440 reference) and PyYAML (the independent OSV evaluation) for
# whichever python3 is first on PATH; Debian's packages when that python has no pip.
if ! python3 -c 'import yaml, packaging.version' 2>/dev/null; then
  python3 -m pip install --quiet --disable-pip-version-check 'packaging>=22' pyyaml \
    || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages 'packaging>=22' pyyaml \
    || as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-packaging python3-yaml >/dev/null
fi

# node-semver (the SemVer reference), in the build directory: rebuilt from the registry.
if [ ! -d target/semver-ref/node_modules/semver ]; then
  mkdir -p target/semver-ref
  npm install --silent --no-audit --no-fund --prefix target/semver-ref semver@7 >/dev/null
fi

# A real Keystone from the Python package index for tests/it/discover.rs, in target/ (reused).
scripts/keystone-test-env.sh install

cargo test --locked --all-targets "$@"
cargo test --locked --doc

# The node agent as deployed (scripts/build-agent.sh: static, agent profile, its own target
# directory): it must build, be statically linked, and collect exactly what `nminus collect`
# collects from the same root (a real Debian 12 dpkg status and Debian's OpenStack packages,
# from the shared data).
agent=$(scripts/build-agent.sh)
file -L "$agent" | grep -q 'static' || { echo "error: $agent is not statically linked: $(file -L "$agent")" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$root/var/lib/dpkg"
cp --no-preserve=mode ../shared/data/fixtures/dpkg/this-debian12/status "$root/var/lib/dpkg/status"
cp -r --no-preserve=mode ../shared/data/fixtures/python/debian12-openstack-packages/root/usr "$root/usr"
cargo build --locked --quiet --bin nminus
"$agent" collect --root "$root" --node-id ci --problems-ok -o "$work/agent.json"
target/debug/nminus collect --root "$root" --node-id ci --problems-ok -o "$work/nminus.json"
if ! diff <(jq -S 'del(.collected_at)' "$work/agent.json") <(jq -S 'del(.collected_at)' "$work/nminus.json") >"$work/diff"; then
  echo "error: the static agent and nminus collect differ on $root:" >&2
  head -n 40 "$work/diff" >&2
  exit 1
fi
test "$(jq '.packages | length' "$work/agent.json")" -gt 500 || { echo "error: the static agent found too few packages in $root" >&2; exit 1; }
echo "static agent: $(jq '.packages | length' "$work/agent.json") packages from $root, as nminus collect"

# Packages and deployment: the .debs of these binaries (lintian, systemd-analyze, dpkg -i as
# root), the Ansible role (lint, --check and a real run against localhost), the Containerfile.
NMINUS_AGENT_BIN=$agent scripts/check-packaging.sh
