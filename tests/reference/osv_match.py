#!/usr/bin/env python3
"""Independent PyPA/OSV matcher for nminus's differential tests.

Reads `name==version` pins on stdin; for each, loads every OSV YAML record of that PyPI package
from the PyPA advisory database (argv[1] = its `vulns/` folder) with PyYAML and evaluates the
`ECOSYSTEM` ranges (OSV spec: introduced / fixed / last_affected / limit) and explicit `versions`
lists with Python `packaging`. Withdrawn records never match. Writes `id<TAB>name<TAB>version`
for every match, sorted. Records whose ranges packaging cannot parse are written as
`!<TAB>id<TAB>reason`.
"""
import os
import re
import sys

import yaml
from packaging.version import InvalidVersion, Version


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def affected(v: Version, events) -> bool:
    intro, fixed, last, limit = [], [], [], []
    for e in events:
        for k, val in e.items():
            {"introduced": intro, "fixed": fixed, "last_affected": last, "limit": limit}[k].append(str(val))
    for lim in limit:
        if lim != "*" and v >= Version(lim):
            return False
    for i in intro:
        iv = None if i == "0" else Version(i)
        if iv is not None and v < iv:
            continue
        if any((iv is None or Version(f) >= iv) and Version(f) <= v for f in fixed):
            continue
        if any((iv is None or Version(l) >= iv) and Version(l) < v for l in last):
            continue
        return True
    return False


def main() -> None:
    root = sys.argv[1]
    out = []
    for line in sys.stdin:
        line = line.strip()
        if not line or "==" not in line:
            continue
        name, ver = line.split("==", 1)
        v = Version(ver)
        d = os.path.join(root, norm(name))
        if not os.path.isdir(d):
            continue
        for f in sorted(os.listdir(d)):
            if not f.endswith(".yaml"):
                continue
            with open(os.path.join(d, f)) as fh:
                rec = yaml.safe_load(fh)
            if rec.get("withdrawn"):
                continue
            for a in rec.get("affected", []):
                pkg = a.get("package", {})
                if pkg.get("ecosystem") != "PyPI" or norm(pkg.get("name", "")) != norm(name):
                    continue
                try:
                    hit = any(Version(str(x)) == v for x in a.get("versions", []) if _valid(str(x)))
                    for r in a.get("ranges", []):
                        if r.get("type") == "ECOSYSTEM" and affected(v, r.get("events", [])):
                            hit = True
                except InvalidVersion as e:
                    out.append(f"!\t{rec['id']}\t{e}")
                    continue
                if hit:
                    out.append(f"{rec['id']}\t{norm(name)}\t{ver}")
    for o in sorted(set(out)):
        print(o)


def _valid(s: str) -> bool:
    try:
        Version(s)
        return True
    except InvalidVersion:
        return False


if __name__ == "__main__":
    main()
