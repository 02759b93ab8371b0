#!/usr/bin/env python3
"""Reference comparators for nminus's differential tests.

Reads tab-separated version pairs on stdin, writes one line per pair: `<`, `=`, `>`, or
`! reason` when the reference rejects a version. Mode (argv[1]):

  pep440   Python `packaging.version.Version` (the reference PEP 440 implementation)
  pep440-normalize  one version per line -> str(Version(v)) or `! reason`
  rpm      librpm through Debian's python3-rpm: `rpm.ver` (EVR: epoch, version, release)
"""
import sys


def main() -> None:
    mode = sys.argv[1]
    out = sys.stdout
    if mode.startswith("pep440"):
        from packaging.version import InvalidVersion, Version

        for line in sys.stdin:
            line = line.rstrip("\n")
            try:
                if mode == "pep440-normalize":
                    out.write(str(Version(line)) + "\n")
                    continue
                a, b = line.split("\t")
                va, vb = Version(a), Version(b)
                out.write("<\n" if va < vb else (">\n" if va > vb else "=\n"))
            except InvalidVersion as e:
                out.write(f"! {e}\n")
    elif mode == "rpm":
        import rpm

        for line in sys.stdin:
            a, b = line.rstrip("\n").split("\t")
            va, vb = rpm.ver(a), rpm.ver(b)
            out.write("<\n" if va < vb else (">\n" if va > vb else "=\n"))
    else:
        sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
