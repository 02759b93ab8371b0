#!/usr/bin/env bash
# Advisory benchmarks of issue #4, against cargo-audit in the same run.
#
# 1. Every Cargo.lock of ../shared/data/fixtures/cargo that the rustsec crate reads (the lockfiles
#    of rustsec-reference-results.tsv without a PARSE-ERROR row), scanned against the full RustSec
#    database by `nminus scan --feed rustsec` and by `cargo-audit audit --no-fetch --stale
#    --no-yanked` (yanked checks need the registry index, which nminus does not read). nminus runs
#    cold (`--no-cache`: every advisory parsed and the index built in the process) and warm (the
#    compiled-index cache primed once). Wall time and peak RSS of each whole process, median of
#    RUNS runs; the (advisory, package, version) sets are checked against the reference TSV
#    (nminus's without the rows for the lockfile's own members, which it does not judge on
#    purpose: docs/findings.md).
# 2. Index build time of every feed in the data directory (the `feeds N ms` split that
#    `nminus scan` prints: load + index + release catalogs), cold, first run writing the cache, and
#    warm, scanning a one-package lockfile.
# 3. A scan of a node with 1,000 packages: a root built in a temp dir from real data (this
#    Debian 12 machine's dpkg status, more real bookworm packages from the shared apt index, and
#    three OpenStack-Ansible venvs with the shared OpenStack site-packages), every feed.
#
# cargo-audit is built once from the crate registry (`cargo install cargo-audit --locked`) into
# target/bench-tools/ and reused; nminus is built in release mode and copied to a temp dir, so a
# concurrent build cannot swap the binary mid-run.
#
# Usage: benches/cargo_audit.sh
# Environment: RUNS (default 5), NMINUS_BENCH_DATA (default ../shared/data), CARGO_AUDIT (a
# cargo-audit binary to use instead of building one), NMINUS_BIN (skip the nminus build),
# KEEP_TMP=1 (keep the work directory).
# Exit status: 0 when every run completed and nminus equals the reference (the verdict on the
# targets is printed, not enforced); 1 when nminus differs from the reference; 2 when a tool cannot
# be built or run, or any other step fails (with its line).
set -euo pipefail
export LC_ALL=C
trap 'echo "cargo_audit.sh: line $LINENO: command failed (exit $?)" >&2; exit 2' ERR

cd "$(dirname "${BASH_SOURCE[0]}")/.."
RUNS=${RUNS:-5}
DATA=${NMINUS_BENCH_DATA:-../shared/data}
TOOLS=target/bench-tools
DB=$DATA/rustsec-advisory-db
FIXTURES=$DATA/fixtures/cargo
REF=$FIXTURES/rustsec-reference-results.tsv

die() {
    echo "cargo_audit.sh: $*" >&2
    exit 2
}

for c in jq awk /usr/bin/time cargo; do
    command -v "$c" >/dev/null || die "\`$c\` is required (apt-get install jq time)"
done
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer, found \`$RUNS\`"
[[ -d $DB/crates ]] || die "no RustSec database at $DB"
[[ -f $REF ]] || die "no reference results at $REF"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/nminus-bench.XXXXXX")
cleanup() {
    if [[ ${KEEP_TMP:-0} == 1 ]]; then
        echo "work directory kept: $WORK" >&2
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT

# --- build ---------------------------------------------------------------------------------------
AUDIT=${CARGO_AUDIT:-$TOOLS/cargo-audit/bin/cargo-audit}
if [[ ! -x $AUDIT ]]; then
    echo "building cargo-audit from the crate registry into $TOOLS (takes minutes)..." >&2
    CARGO_TARGET_DIR=$TOOLS/build nice -n 10 \
        cargo install cargo-audit --locked --root "$TOOLS/cargo-audit" >&2 ||
        die "cargo install cargo-audit failed"
fi
if [[ -n ${NMINUS_BIN:-} ]]; then
    [[ -x $NMINUS_BIN ]] || die "NMINUS_BIN=$NMINUS_BIN is not executable"
    cp "$NMINUS_BIN" "$WORK/nminus"
else
    echo "building nminus (release)..." >&2
    nice -n 10 cargo build --release --quiet >&2 || die "cargo build --release failed"
    cp target/release/nminus "$WORK/nminus"
fi
NMINUS=$WORK/nminus
AUDIT_VERSION=$("$AUDIT" --version 2>/dev/null || true)
[[ -n $AUDIT_VERSION ]] || die "$AUDIT does not run"
NMINUS_VERSION=$("$NMINUS" --version)

# --- measurement helpers -------------------------------------------------------------------------
# measure OUT ERR CMD...: runs CMD under GNU time; sets T (wall seconds, from $EPOCHREALTIME:
# time's own %e has a 10 ms resolution, too coarse for runs of 20 ms), M (peak RSS, KiB) and RC.
measure() {
    local out=$1 err=$2 t0 t1
    shift 2
    RC=0
    t0=$EPOCHREALTIME
    /usr/bin/time -o "$WORK/time.txt" -f '%e %M' "$@" >"$out" 2>"$err" || RC=$?
    t1=$EPOCHREALTIME
    T=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", b - a }')
    M=$(awk 'END { print $2 }' "$WORK/time.txt")
}

# ok_rc TOOL LABEL: exit codes 0 (clean) and 1 (findings) are results; anything else is a failure.
ok_rc() {
    if [[ $RC != 0 && $RC != 1 ]]; then
        echo "$1 failed on $2 (exit $RC):" >&2
        tail -n 20 "$WORK/err" >&2
        exit 2
    fi
}

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ms() { awk -v s="$1" 'BEGIN { printf "%.1f", s * 1000 }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
# difflines A B: the lines only in A (<) or only in B (>), on one line.
# The (name, version) of each `[[package]]` (or v1 `[root]`) of a Cargo.lock without a `source`:
# the project's own crates, which nminus does not judge and the rustsec crate does.
local_members() {
    awk '
        function flush() { if (inpkg && name != "" && !src) print name "\t" ver; inpkg = 0; name = ""; ver = ""; src = 0 }
        /^\[\[package\]\]/ || /^\[root\]/ { flush(); inpkg = 1; next }
        /^\[/ { flush(); next }
        inpkg && /^name *=/ { v = $0; sub(/^name *= *"/, "", v); sub(/".*/, "", v); name = v }
        inpkg && /^version *=/ { v = $0; sub(/^version *= *"/, "", v); sub(/".*/, "", v); ver = v }
        inpkg && /^source *=/ { v = $0; sub(/^source *= *"/, "", v); sub(/".*/, "", v); if (v != "") src = 1 }
        END { flush() }' "$1"
}
difflines() { diff "$1" "$2" | sed -n 's/^\([<>]\) /\1 /p' | tr '\t\n' '  ' || true; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

# feeds_ms ERRFILE: the `feeds [and release data] N ms` split of nminus scan's summary line.
feeds_ms() { sed -n 's/.*(collect [0-9]* ms, feeds[^0-9]*\([0-9]*\) ms.*/\1/p' "$1" | tail -n 1; }
collect_ms() { sed -n 's/.*(collect \([0-9]*\) ms,.*/\1/p' "$1" | tail -n 1; }

nminus_scan() { "$NMINUS" scan --data "$DATA" --format json "$@"; }

echo "# nminus advisory benchmarks (issue #4)"
echo
echo "- $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(sed -n 's/^PRETTY_NAME="\(.*\)"/\1/p' /etc/os-release), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- $NMINUS_VERSION; $AUDIT_VERSION (--no-fetch --stale --no-yanked); RUNS=$RUNS; database $(awk '/^commit:/ { print $2, $3 }' "$DB/SOURCE.txt")"
echo

# --- 1. lockfiles against RustSec ----------------------------------------------------------------
mapfile -t LOCKS < <(awk -F'\t' 'NR > 1 { all[$1] = 1; if ($2 == "PARSE-ERROR") bad[$1] = 1 }
    END { for (f in all) if (!(f in bad)) print f }' "$REF" | sort)
((${#LOCKS[@]} > 0)) || die "no lockfiles in $REF"

WARM_CACHE=$WORK/cache-warm
WALK_CACHE=$WORK/cache-walk
# The operator's setup: a data directory kept by `nminus sync` (here from the shared data as a
# mirror), which both tools read; cargo-audit reads the same folder as its database.
SYNCED=$WORK/data
"$NMINUS" sync --from "$DATA" --feed rustsec --data "$SYNCED" >"$WORK/out" 2>"$WORK/err" ||
    die "nminus sync --from $DATA --feed rustsec failed: $(tail -n 5 "$WORK/err")"
SDB=$SYNCED/${DB#"$DATA"/}
[[ -d $SDB/crates ]] || die "the synced RustSec folder $SDB is missing"
# Prime the warm caches (and the page cache for both tools).
"$NMINUS" scan --data "$SYNCED" --feed rustsec --format json --cache-dir "$WARM_CACHE" "$FIXTURES/${LOCKS[0]}" >/dev/null 2>&1 || true
nminus_scan --feed rustsec --cache-dir "$WALK_CACHE" "$FIXTURES/${LOCKS[0]}" >/dev/null 2>&1 || true
"$AUDIT" audit --db "$SDB" --no-fetch --stale --no-yanked --json --file "$FIXTURES/${LOCKS[0]}" >/dev/null 2>&1 || true

MISMATCH=0
AUDIT_DIFF=0
declare -a R_COLD=() R_WARM=() R_WALK=() M_COLD=() M_WARM=() M_WALK=()
declare -a ROWS=() NOTES=()
for rel in "${LOCKS[@]}"; do
    # Both tools read the file under its own name (`workspace-Cargo.lock`, `cratesio_cargo.lock`,
    # `one-package.lock` …): nminus recognises an explicitly named lockfile by its content when
    # its name says nothing, and fails (exit 2, which stops this script) on one it cannot read.
    lock=$FIXTURES/$rel
    [[ -f $lock ]] || die "missing lockfile $lock"
    pkgs=$(awk -F'\t' -v f="$rel" '$1 == f && $5 != "-" { n = $5 } END { print n + 0 }' "$REF")
    : >"$WORK/tc"
    : >"$WORK/tw"
    : >"$WORK/ta"
    : >"$WORK/tk"
    : >"$WORK/mc"
    : >"$WORK/mw"
    : >"$WORK/mk"
    : >"$WORK/ma"
    # Every tool writes its JSON report to standard output, redirected to a file.
    for ((i = 0; i < RUNS; i++)); do
        measure "$WORK/cold.json" "$WORK/err" "$NMINUS" scan --data "$DATA" --feed rustsec \
            --format json --no-cache "$lock"
        ok_rc nminus "$rel"
        echo "$T" >>"$WORK/tc"
        echo "$M" >>"$WORK/mc"
        measure "$WORK/warm.json" "$WORK/err" "$NMINUS" scan --data "$SYNCED" --feed rustsec \
            --format json --cache-dir "$WARM_CACHE" "$lock"
        ok_rc nminus "$rel"
        echo "$T" >>"$WORK/tw"
        echo "$M" >>"$WORK/mw"
        measure "$WORK/walk.json" "$WORK/err" "$NMINUS" scan --data "$DATA" --feed rustsec \
            --format json --cache-dir "$WALK_CACHE" "$lock"
        ok_rc nminus "$rel"
        echo "$T" >>"$WORK/tk"
        echo "$M" >>"$WORK/mk"
        measure "$WORK/audit.json" "$WORK/err" "$AUDIT" audit --db "$SDB" --no-fetch --stale \
            --no-yanked --json --file "$lock"
        ok_rc cargo-audit "$rel"
        echo "$T" >>"$WORK/ta"
        echo "$M" >>"$WORK/ma"
    done
    tc=$(median <"$WORK/tc")
    tw=$(median <"$WORK/tw")
    tk=$(median <"$WORK/tk")
    ta=$(median <"$WORK/ta")
    mc=$(median <"$WORK/mc")
    mw=$(median <"$WORK/mw")
    mk=$(median <"$WORK/mk")
    ma=$(median <"$WORK/ma")

    # The (advisory, package, version) sets: reference, nminus (cold and warm), cargo-audit.
    # nminus is held to the reference without the lockfile's own members.
    awk -F'\t' -v f="$rel" '$1 == f && $2 != "-" { print $2 "\t" $3 "\t" $4 }' "$REF" | sort -u >"$WORK/ref.set"
    local_members "$lock" | sort -u >"$WORK/local"
    awk -F'\t' 'NR == FNR { own[$1 "\t" $2] = 1; next } !(($2 "\t" $3) in own)' \
        "$WORK/local" "$WORK/ref.set" >"$WORK/ref.nminus.set"
    for run in cold warm walk; do
        jq -r '.findings[] | select(.code == "vulnerable") | [.advisory.id, .subject.name, .subject.version] | @tsv' \
            "$WORK/$run.json" | sort -u >"$WORK/$run.set"
        if ! cmp -s "$WORK/ref.nminus.set" "$WORK/$run.set"; then
            MISMATCH=1
            NOTES+=("nminus ($run) differs from the reference on $rel: $(difflines "$WORK/ref.nminus.set" "$WORK/$run.set")")
        fi
    done
    jq -r '.vulnerabilities.list[] | [.advisory.id, .package.name, .package.version] | @tsv' \
        "$WORK/audit.json" | sort -u >"$WORK/audit.set"
    if ! cmp -s "$WORK/ref.set" "$WORK/audit.set"; then
        AUDIT_DIFF=1
        NOTES+=("cargo-audit differs from the reference on $rel: $(difflines "$WORK/ref.set" "$WORK/audit.set")")
    fi
    # Informational advisories: nminus `advisory-notice` against cargo-audit's warnings (yanked
    # checks are off), reported, not enforced.
    jq -r '.findings[] | select(.code == "advisory-notice") | [.advisory.id, .subject.name, .subject.version] | @tsv' \
        "$WORK/cold.json" | sort -u >"$WORK/cold.info"
    jq -r '[.warnings[]?[]? | select(.advisory != null)] | .[] | [.advisory.id, .package.name, .package.version] | @tsv' \
        "$WORK/audit.json" | sort -u >"$WORK/audit.info"
    if ! cmp -s "$WORK/cold.info" "$WORK/audit.info"; then
        NOTES+=("informational advisories differ on $rel (< nminus, > cargo-audit): $(difflines "$WORK/cold.info" "$WORK/audit.info")")
    fi
    nv=$(wc -l <"$WORK/ref.set")
    ni=$(wc -l <"$WORK/audit.info")

    rc=$(ratio "$ta" "$tc")
    rw=$(ratio "$ta" "$tw")
    rk=$(ratio "$ta" "$tk")
    xc=$(ratio "$mc" "$ma")
    xw=$(ratio "$mw" "$ma")
    xk=$(ratio "$mk" "$ma")
    R_COLD+=("$rc")
    R_WARM+=("$rw")
    R_WALK+=("$rk")
    M_COLD+=("$xc")
    M_WARM+=("$xw")
    M_WALK+=("$xk")
    ROWS+=("| \`$rel\` | $pkgs | $nv / $ni | $(ms "$tc") / $(mib "$mc") | $(ms "$tw") / $(mib "$mw") | $(ms "$tk") / $(mib "$mk") | $(ms "$ta") / $(mib "$ma") | $rc× / $rw× / $rk× | $xc / $xw / $xk |")
    echo "  $rel: cold $(ms "$tc") ms, warm $(ms "$tw") ms, warm unsynced $(ms "$tk") ms, cargo-audit $(ms "$ta") ms" >&2
done

echo "## 1. One Cargo.lock against the full RustSec database: nminus against cargo-audit"
echo
echo "Median of $RUNS runs per tool, whole processes, each writing its JSON report to standard output;"
echo "time in ms / peak RSS in MiB. *cold*: \`--no-cache\` (every advisory parsed, index built); *warm*: the"
echo "compiled index of a data directory kept by \`nminus sync\` (keyed by the synced revision), the"
echo "operator's everyday case, on the folder cargo-audit reads too; *unsynced*: the compiled index of the"
echo "shared data directory, laid out by hand, which every scan fingerprints file by file. Speed-up ="
echo "cargo-audit time / nminus time; memory = nminus peak RSS / cargo-audit peak RSS (≤ 1 is within)."
echo
echo "| lockfile | packages | vulns / informational | nminus cold | nminus warm | nminus warm, unsynced | cargo-audit | speed-up cold / warm / unsynced | memory cold / warm / unsynced |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
printf '%s\n' "${ROWS[@]}"
echo
mrc=$(ratio "$(printf '%s\n' "${R_COLD[@]}" | median)" 1)
mrw=$(ratio "$(printf '%s\n' "${R_WARM[@]}" | median)" 1)
mxc=$(ratio "$(printf '%s\n' "${M_COLD[@]}" | median)" 1)
mxw=$(ratio "$(printf '%s\n' "${M_WARM[@]}" | median)" 1)
mrk=$(ratio "$(printf '%s\n' "${R_WALK[@]}" | median)" 1)
mxk=$(ratio "$(printf '%s\n' "${M_WALK[@]}" | median)" 1)
verdict() { awk -v r="$1" -v m="$2" 'BEGIN { print ((r >= 5 && m <= 1) ? "met" : "NOT met") }'; }
echo "Median over ${#LOCKS[@]} lockfiles: **cold ${mrc}× faster, memory ${mxc}** (target ≥ 5× and ≤ 1: $(verdict "$mrc" "$mxc")); **warm ${mrw}× faster, memory ${mxw}** ($(verdict "$mrw" "$mxw")); warm on the unsynced folder ${mrk}×, memory ${mxk}."
echo
if ((${#NOTES[@]})); then
    echo "Differences (informational kinds are not enforced; nminus merges advisories that share an alias into one"
    echo "finding per vulnerability and package):"
    echo
    printf -- '- %s\n' "${NOTES[@]}"
else
    echo "nminus, cargo-audit and the reference report the same (advisory, package, version) sets on every lockfile; informational advisories agree too."
fi
echo

# --- 2. index build time of every feed -----------------------------------------------------------
TINY=$FIXTURES/rustsec/cargo-audit-support/no_vulns/Cargo.lock
[[ -f $TINY ]] || die "missing $TINY"
FIRST_CACHE=$WORK/cache-first
ALL_CACHE=$WORK/cache-all
: >"$WORK/fc" # feeds ms cold
: >"$WORK/ff" # feeds ms, first run writing the cache
: >"$WORK/fw" # feeds ms warm
: >"$WORK/pc" # process s cold
: >"$WORK/pf"
: >"$WORK/pw"
: >"$WORK/mc"
: >"$WORK/mf"
: >"$WORK/mw"
nminus_scan --cache-dir "$ALL_CACHE" -o "$WORK/all.json" "$TINY" 2>"$WORK/err" || true
ADVISORIES=$(sed -n 's/.* packages against \([0-9]*\) advisories.*/\1/p' "$WORK/err")
FEEDS=$(jq -r '[.feeds[] | select(.loaded) | .name] | join(", ")' "$WORK/all.json")
[[ -n $ADVISORIES ]] || die "nminus scan with every feed printed no summary: $(tail -n 3 "$WORK/err")"
for ((i = 0; i < RUNS; i++)); do
    measure "$WORK/out" "$WORK/err" "$NMINUS" scan --data "$DATA" --format json --no-cache -o "$WORK/x.json" "$TINY"
    ok_rc nminus "every feed, cold"
    feeds_ms "$WORK/err" >>"$WORK/fc"
    echo "$T" >>"$WORK/pc"
    echo "$M" >>"$WORK/mc"
    rm -rf "$FIRST_CACHE"
    measure "$WORK/out" "$WORK/err" "$NMINUS" scan --data "$DATA" --format json --cache-dir "$FIRST_CACHE" -o "$WORK/x.json" "$TINY"
    ok_rc nminus "every feed, first run"
    feeds_ms "$WORK/err" >>"$WORK/ff"
    echo "$T" >>"$WORK/pf"
    echo "$M" >>"$WORK/mf"
    measure "$WORK/out" "$WORK/err" "$NMINUS" scan --data "$DATA" --format json --cache-dir "$ALL_CACHE" -o "$WORK/x.json" "$TINY"
    ok_rc nminus "every feed, warm"
    feeds_ms "$WORK/err" >>"$WORK/fw"
    echo "$T" >>"$WORK/pw"
    echo "$M" >>"$WORK/mw"
done
echo "## 2. Index build time of every feed in \`$DATA\`"
echo
echo "$ADVISORIES advisories from: $FEEDS. Scanning a one-package Cargo.lock; *feeds* is the split nminus prints"
echo "(load + index + release catalogs); median of $RUNS runs."
echo
echo "| case | feeds (index built) | whole process | peak RSS |"
echo "| --- | --- | --- | --- |"
echo "| cold (\`--no-cache\`) | $(median <"$WORK/fc") ms | $(ms "$(median <"$WORK/pc")") ms | $(mib "$(median <"$WORK/mc")") MiB |"
echo "| first run (empty cache dir, writes it) | $(median <"$WORK/ff") ms | $(ms "$(median <"$WORK/pf")") ms | $(mib "$(median <"$WORK/mf")") MiB |"
echo "| warm (cache) | $(median <"$WORK/fw") ms | $(ms "$(median <"$WORK/pw")") ms | $(mib "$(median <"$WORK/mw")") MiB |"
echo

# --- 3. a node with 1,000 packages ---------------------------------------------------------------
ROOT=$WORK/node-root
mkdir -p "$ROOT/etc" "$ROOT/var/lib/dpkg"
STATUS=$DATA/fixtures/dpkg/this-debian12/status
SEC=$DATA/debian-apt-indexes/bookworm-amd64/debian-security_dists_bookworm-security_main_binary-amd64_Packages.gz
MAIN=$DATA/debian-apt-indexes/bookworm-amd64/debian_dists_bookworm_main_binary-amd64_Packages.gz
SITES=$DATA/fixtures/python/openstack-site-packages
for f in "$STATUS" "$SEC" "$MAIN"; do [[ -f $f ]] || die "missing $f"; done
cat >"$ROOT/etc/os-release" <<'EOF'
PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
EOF
# Three OpenStack-Ansible venvs holding the real site-packages of three OpenStack releases.
for set in "$SITES"/*/; do
    name=$(basename "$set")
    mkdir -p "$ROOT/openstack/venvs/nova-$name"
    cp -r "$set/lib" "$ROOT/openstack/venvs/nova-$name/"
done
# dpkg: this Debian 12 machine's status, plus real bookworm packages (security-updated sources,
# at their bookworm release version) until the node holds 1,000 packages.
count_packages() {
    "$NMINUS" collect --root "$ROOT" --problems-ok -o "$WORK/inv.json" 2>/dev/null
    jq '.packages | length' "$WORK/inv.json"
}
cp "$STATUS" "$ROOT/var/lib/dpkg/status"
have=$(count_packages)
need=$((1000 - have))
((need >= 0)) || die "the base node already holds $have packages"
zcat "$SEC" | awk '/^Package: / { print $2 }' | sort -u >"$WORK/sec.names"
awk '/^Package: / { print $2 }' "$STATUS" | sort -u >"$WORK/have.names"
zcat "$MAIN" | awk -v need="$need" -v sec="$WORK/sec.names" -v have="$WORK/have.names" '
    BEGIN { while ((getline l < sec) > 0) s[l] = 1; while ((getline l < have) > 0) h[l] = 1; RS = ""; ORS = "\n\n" }
    n < need { split($0, f, "\n"); p = substr(f[1], 10); if ((p in s) && !(p in h)) { sub(/\n/, "\nStatus: install ok installed\n"); print; n++ } }
' >>"$ROOT/var/lib/dpkg/status"
have=$(count_packages)
[[ $have == 1000 ]] || die "the generated node holds $have packages, expected 1,000"
NODE_DESC=$(jq -r '[.packages | group_by(.ecosystem)[] | "\(length) \(.[0].ecosystem)"] | join(", ")' "$WORK/inv.json")

: >"$WORK/pc"
: >"$WORK/pw"
: >"$WORK/mc"
: >"$WORK/mw"
: >"$WORK/fc"
: >"$WORK/fw"
: >"$WORK/cc"
: >"$WORK/cw"
NODE_CACHE=$WORK/cache-node
nminus_scan --cache-dir "$NODE_CACHE" -o "$WORK/node.json" "$ROOT" 2>"$WORK/err" || true
for ((i = 0; i < RUNS; i++)); do
    measure "$WORK/out" "$WORK/err" "$NMINUS" scan --data "$DATA" --format json --no-cache -o "$WORK/node.json" "$ROOT"
    ok_rc nminus "the 1,000-package node, cold"
    echo "$T" >>"$WORK/pc"
    echo "$M" >>"$WORK/mc"
    feeds_ms "$WORK/err" >>"$WORK/fc"
    collect_ms "$WORK/err" >>"$WORK/cc"
    measure "$WORK/out" "$WORK/err" "$NMINUS" scan --data "$DATA" --format json --cache-dir "$NODE_CACHE" -o "$WORK/node.json" "$ROOT"
    ok_rc nminus "the 1,000-package node, warm"
    echo "$T" >>"$WORK/pw"
    echo "$M" >>"$WORK/mw"
    feeds_ms "$WORK/err" >>"$WORK/fw"
    collect_ms "$WORK/err" >>"$WORK/cw"
done
FINDINGS=$(jq '.findings | length' "$WORK/node.json")
echo "## 3. Scan of a node with 1,000 packages"
echo
echo "A root built from real data: $NODE_DESC (this Debian 12 machine's dpkg status, more bookworm"
echo "packages from the shared apt index, three OpenStack-Ansible venvs); every feed; $FINDINGS findings."
echo "Median of $RUNS runs."
echo
echo "| case | whole process | collect | feeds | peak RSS |"
echo "| --- | --- | --- | --- | --- |"
echo "| cold (\`--no-cache\`) | $(ms "$(median <"$WORK/pc")") ms | $(median <"$WORK/cc") ms | $(median <"$WORK/fc") ms | $(mib "$(median <"$WORK/mc")") MiB |"
echo "| warm (cache) | $(ms "$(median <"$WORK/pw")") ms | $(median <"$WORK/cw") ms | $(median <"$WORK/fw") ms | $(mib "$(median <"$WORK/mw")") MiB |"
echo

if ((MISMATCH)); then
    echo "nminus differs from the reference results (see Differences)." >&2
    exit 1
fi
if ((AUDIT_DIFF)); then
    echo "note: cargo-audit differs from the reference on some lockfiles (see Differences)." >&2
fi
