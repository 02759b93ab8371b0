#!/usr/bin/env python3
"""Reference for nminus's upper-constraints judgement (`constraint-mismatch`).

Usage: upper_constraints.py SITE_DIR UPPER_CONSTRAINTS_TXT PYTHON_VERSION

Reads every distribution installed in SITE_DIR with `importlib.metadata`, the pins of
UPPER_CONSTRAINTS_TXT with plain string parsing (`name===version[;marker]`, `#` comments), picks
for each distribution the first pin whose marker holds for PYTHON_VERSION (`packaging.markers`),
compares with `packaging.version.Version` and writes one tab-separated line per distribution
whose installed version differs from its pin:

    normalised-name <TAB> installed <TAB> pin <TAB> line <TAB> < or >
"""
import sys
from importlib.metadata import distributions

from packaging.markers import Marker
from packaging.utils import canonicalize_name
from packaging.version import Version


def main() -> None:
    site, uc, python = sys.argv[1], sys.argv[2], sys.argv[3]
    env = {"python_version": python, "python_full_version": python}
    pins = {}
    with open(uc, encoding="utf-8") as f:
        for no, raw in enumerate(f, 1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            spec, _, marker = line.partition(";")
            name, _, version = spec.partition("===")
            if marker.strip() and not Marker(marker.strip()).evaluate(env):
                continue
            pins.setdefault(canonicalize_name(name.strip()), (version.strip(), no))
    seen = set()
    for d in distributions(path=[site]):
        name = canonicalize_name(d.metadata["Name"])
        installed = d.version
        if (name, installed) in seen or name not in pins:
            continue
        seen.add((name, installed))
        pin, no = pins[name]
        a, b = Version(installed), Version(pin)
        if a != b:
            op = "<" if a < b else ">"
            sys.stdout.write(f"{name}\t{installed}\t{pin}\t{no}\t{op}\n")


if __name__ == "__main__":
    main()
