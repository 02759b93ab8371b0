#!/usr/bin/env bash
# Build the Debian packages `nminus` and `nminus-agent` from binaries already built, with
# dpkg-deb alone (no debhelper, no cargo-deb): a package for each of `nminus` and
# `nminus-agent` found in BINARY_DIR.
#
#   scripts/build-deb.sh BINARY_DIR OUT_DIR
#
# For a release: `cargo build --release --bin nminus` and `scripts/build-agent.sh` (the static
# agent), then put both in one directory. CI packages the binaries it already has
# (target/debug/nminus and the static agent; scripts/check-packaging.sh).
#
# What goes in (packaging/): the binaries in /usr/bin (stripped), systemd units in
# /lib/systemd/system, /etc/nminus/*.env (conffiles), maintainer scripts, man pages
# (`nminus man`; nminus-agent's from its --help), shell completions, copyright with the
# licenses of the crates linked in, changelogs, lintian overrides.
# The version is the newest entry of packaging/debian/changelog; its upstream part must be
# what the binaries' --version says. Prints the paths of the packages written.
# Environment: NMINUS_DEB_COMPRESS=TYPE[:LEVEL] (default xz; CI uses gzip:1, ~40 times faster
# on a debug build's 45 MB binary).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[[ $# -eq 2 ]] || { sed -n '2,/^set /{/^#/s/^# \{0,1\}//p}' "$0" >&2; exit 2; }
bindir=$1 out=$2
pkgdir=packaging

for tool in dpkg-deb dpkg-shlibdeps strip gzip; do
  command -v "$tool" >/dev/null || { echo "build-deb.sh: $tool is required (apt-get install dpkg-dev binutils)" >&2; exit 2; }
done
[[ -x $bindir/nminus || -x $bindir/nminus-agent ]] \
  || { echo "build-deb.sh: neither $bindir/nminus nor $bindir/nminus-agent is an executable" >&2; exit 2; }

changelog=$pkgdir/debian/changelog
version=$(sed -n '1s/^nminus (\([^)]*\)).*/\1/p' "$changelog")
[[ -n $version ]] || { echo "build-deb.sh: $changelog: line 1 is not \`nminus (VERSION) ...\`" >&2; exit 2; }
upstream=${version%-*}
maintainer=$(sed -n 's/^ -- \(.*>\)  .*/\1/p' "$changelog" | head -n 1)
date=$(sed -n 's/^ -- .*>  \(.*\)/\1/p' "$changelog" | head -n 1)
# Reproducible: every file's time is the changelog's.
SOURCE_DATE_EPOCH=$(date -d "$date" +%s)
export SOURCE_DATE_EPOCH
arch=$(dpkg --print-architecture)
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The licenses of the crates the binaries link (normal dependencies, not dev or build ones).
crates() {
  if cargo tree --locked --offline -e normal --prefix none -f '{p} {l}' 2>/dev/null \
      | sed 's/ (proc-macro)//; s/ ([^)]*)//' | sort -u > "$work/crates"; then
    { echo "Rust crates linked into the nminus binaries (Cargo.lock), with their licenses:"; echo
      grep -v '^nminus ' "$work/crates"; } > "$1"
  else
    echo "build-deb.sh: cargo tree failed: the crate list is left out of the package" >&2
  fi
}

# Roff from `--help` text: no fill, backslashes and leading dots escaped.
roff_help() { sed -e 's/\\/\\e/g' -e "s/^\\([.']\\)/\\\\\\&\\1/"; }

agent_man() {
  local bin=$1
  echo ".TH NMINUS-AGENT 1 \"$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%d)\" \"nminus-agent $upstream\" \"User Commands\""
  echo ".SH NAME"
  echo "nminus-agent \\- inventory this node and push it to the nminus analyzer"
  echo ".SH SYNOPSIS"
  echo ".B nminus-agent"
  echo ".BR collect | enroll | run"
  echo ".RI [ options ]"
  echo ".SH DESCRIPTION"
  echo ".nf"
  COLUMNS=78 "$bin" --help | roff_help
  echo ".fi"
  local sub
  for sub in collect enroll run; do
    echo ".SH \"NMINUS-AGENT ${sub^^}\""
    echo ".nf"
    COLUMNS=78 "$bin" "$sub" --help | roff_help
    echo ".fi"
  done
  cat <<'ROFF'
.SH FILES
.TP
.I /etc/nminus/agent.env
Settings of nminus-agent.service (NMINUS_SERVER, NMINUS_AGENT_ARGS).
.TP
.I /var/lib/nminus/agent/agent.json
The node's token (mode 0600), written by
.BR "nminus-agent enroll" .
.TP
.I /var/lib/nminus/agent/spool/
Inventories waiting for the server.
.SH "SEE ALSO"
.BR nminus (1),
.BR systemd.timer (5)
ROFF
}

# stage PKG: the common part of a package's tree in $work/PKG.
stage() {
  local pkg=$1 root=$work/$1
  install -d -m 0755 "$root/DEBIAN" "$root/usr/bin" "$root/lib/systemd/system" "$root/etc/nminus" \
    "$root/usr/share/doc/$pkg" "$root/usr/share/man/man1" "$root/usr/share/lintian/overrides"
  install -m 0755 "$bindir/$pkg" "$root/usr/bin/$pkg"
  strip --remove-section=.comment --remove-section=.note "$root/usr/bin/$pkg"
  local got
  got=$("$root/usr/bin/$pkg" --version)
  [[ $got == "$pkg $upstream" ]] \
    || { echo "build-deb.sh: $bindir/$pkg --version says \`$got\`, $changelog says $version" >&2; exit 2; }
  install -m 0644 "$pkgdir/debian/copyright" "$root/usr/share/doc/$pkg/copyright"
  crates "$root/usr/share/doc/$pkg/crates.txt"
  gzip -9n < "$changelog" > "$root/usr/share/doc/$pkg/changelog.Debian.gz"
  gzip -9n < CHANGELOG.md > "$root/usr/share/doc/$pkg/changelog.gz"
  install -m 0644 "$pkgdir/debian/$pkg/lintian-overrides" "$root/usr/share/lintian/overrides/$pkg"
  local s
  for s in postinst prerm postrm; do
    install -m 0755 "$pkgdir/debian/$pkg/$s" "$root/DEBIAN/$s"
  done
}

# finish PKG EXTRA_DEPENDS: control, conffiles, then the .deb.
finish() {
  local pkg=$1 extra=$2 root=$work/$1
  local shlibs depends size
  mkdir -p "$work/shlibs-$pkg/debian"
  printf 'Source: nminus\n\nPackage: %s\nArchitecture: any\n' "$pkg" > "$work/shlibs-$pkg/debian/control"
  shlibs=$(cd "$work/shlibs-$pkg" && dpkg-shlibdeps -O -e"$root/usr/bin/$pkg" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
  depends=$(printf '%s\n' "$shlibs" "$extra" | sed '/^$/d' | paste -sd, | sed 's/, */, /g')
  find "$root/etc" -type f -printf '/etc/%P\n' | sort > "$root/DEBIAN/conffiles"
  [[ -s $root/DEBIAN/conffiles ]] || rm "$root/DEBIAN/conffiles"
  size=$(du -sk --apparent-size --exclude=DEBIAN "$root" | cut -f1)
  sed -e "s|@VERSION@|$version|" -e "s|@ARCH@|$arch|" -e "s|@MAINTAINER@|$maintainer|" \
      -e "s|@INSTALLED_SIZE@|$size|" -e "s|@DEPENDS@|$depends|" \
      "$pkgdir/debian/$pkg/control.in" > "$root/DEBIAN/control"
  # An empty Depends: is not allowed.
  sed -i '/^Depends: *$/d' "$root/DEBIAN/control"
  (cd "$root" && find . -path ./DEBIAN -prune -o -path ./etc -prune -o -type f -printf '%P\0' \
    | LC_ALL=C sort -z | xargs -0r md5sum) > "$root/DEBIAN/md5sums"
  find "$root" -newermt "@$SOURCE_DATE_EPOCH" -exec touch --no-dereference -d "@$SOURCE_DATE_EPOCH" {} +
  local deb=$out/${pkg}_${version}_${arch}.deb
  dpkg-deb --root-owner-group "${compress[@]}" --build "$root" "$deb" >/dev/null
  echo "$deb"
}

umask 022
comp=${NMINUS_DEB_COMPRESS:-xz}
compress=(-Z"${comp%%:*}")
[[ $comp == *:* ]] && compress+=(-z"${comp#*:}")

if [[ -x $bindir/nminus ]]; then
  stage nminus
  root=$work/nminus
  install -m 0644 "$pkgdir"/systemd/nminus-serve.service "$pkgdir"/systemd/nminus-sync.service \
    "$pkgdir"/systemd/nminus-sync.timer "$root/lib/systemd/system/"
  install -m 0644 "$pkgdir"/etc/serve.env "$pkgdir"/etc/sync.env "$root/etc/nminus/"
  # Man pages from the CLI definition. nminus-agent.1 (`nminus agent`) is left to the
  # nminus-agent package, whose binary takes the same options (`nminus-agent run`) and
  # needs the name for its own page.
  "$root/usr/bin/nminus" man -o "$work/man"
  rm "$work/man/nminus-agent.1"
  for page in "$work"/man/*.1; do
    gzip -9n < "$page" > "$root/usr/share/man/man1/$(basename "$page").gz"
  done
  install -d "$root/usr/share/bash-completion/completions" "$root/usr/share/zsh/vendor-completions" \
    "$root/usr/share/fish/vendor_completions.d" "$root/usr/share/doc/nminus/examples/policies"
  "$root/usr/bin/nminus" completions bash > "$root/usr/share/bash-completion/completions/nminus"
  "$root/usr/bin/nminus" completions zsh > "$root/usr/share/zsh/vendor-completions/_nminus"
  "$root/usr/bin/nminus" completions fish > "$root/usr/share/fish/vendor_completions.d/nminus.fish"
  install -m 0644 policies/*.yaml "$root/usr/share/doc/nminus/examples/policies/"
  finish nminus adduser
fi

if [[ -x $bindir/nminus-agent ]]; then
  stage nminus-agent
  root=$work/nminus-agent
  install -m 0644 "$pkgdir"/systemd/nminus-agent.service "$pkgdir"/systemd/nminus-agent.timer \
    "$root/lib/systemd/system/"
  install -m 0644 "$pkgdir"/etc/agent.env "$root/etc/nminus/"
  agent_man "$root/usr/bin/nminus-agent" | gzip -9n > "$root/usr/share/man/man1/nminus-agent.1.gz"
  finish nminus-agent ""
fi
