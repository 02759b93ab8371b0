//! pip requirements files: exact pins, options, `-r` / `-c` includes.

use super::shared::pypi_lock;
use crate::model::{Location, Package, Problem, ProblemKind};

/// An `-r` / `-c` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Include {
    /// The file named, as written.
    pub target: String,
    /// 1-based line.
    pub line: usize,
    /// `-c` (constraints) rather than `-r`.
    pub constraint: bool,
}

/// A parsed requirements file.
#[derive(Debug, Default)]
pub(crate) struct RequirementsFile {
    /// Exact pins.
    pub packages: Vec<Package>,
    /// Lines skipped or not understood.
    pub problems: Vec<Problem>,
    /// `-r` / `-c` lines, in order.
    pub includes: Vec<Include>,
}

/// Parse a pip requirements file; `-r` / `-c` includes are reported as
/// [`ProblemKind::Skipped`] problems (the collector follows `-r` inside the root).
pub(crate) fn parse_requirements(text: &str, loc: &Location) -> (Vec<Package>, Vec<Problem>) {
    let mut f = parse_requirements_file(text, loc);
    for inc in f.includes {
        let what = if inc.constraint {
            "constraints"
        } else {
            "requirements"
        };
        f.problems.push(Problem::new(
            loc.clone().at_line(inc.line),
            ProblemKind::Skipped,
            format!("included {what} file `{}` not followed here", inc.target),
        ));
    }
    (f.packages, f.problems)
}

/// Parse a pip requirements file, returning its includes separately.
pub(crate) fn parse_requirements_file(text: &str, loc: &Location) -> RequirementsFile {
    let mut out = RequirementsFile::default();
    for (n, raw) in logical_lines(text) {
        let line = strip_comment(&raw).trim();
        if line.is_empty() {
            continue;
        }
        let here = loc.clone().at_line(n);
        if line.starts_with('-') {
            option_line(line, n, &here, &mut out);
            continue;
        }
        if line.contains("${") {
            out.problems.push(Problem::new(
                here,
                ProblemKind::Skipped,
                format!(
                    "`{}` uses an environment variable, unknown here",
                    short(line)
                ),
            ));
            continue;
        }
        let (req, opts) = split_options(line);
        match parse_requirement(req) {
            // A range or a bare name says what may be installed, not what is: nothing to
            // judge, but never silently (a requirements file of ranges is not "no findings").
            Ok(None) => out.problems.push(Problem::new(
                here,
                ProblemKind::Skipped,
                format!(
                    "`{}` is not pinned to one version (`==`): not judged; scan the environment it was installed into, or a lock",
                    short(req)
                ),
            )),
            Ok(Some(pin)) => {
                let mut p = pypi_lock(
                    pin.name,
                    pin.version,
                    "python-requirements",
                    here,
                    "registry",
                );
                if !pin.extras.is_empty() {
                    p.extra.insert("extras".to_owned(), pin.extras.join(","));
                }
                if let Some(m) = pin.marker {
                    p.extra.insert("marker".to_owned(), m.to_owned());
                }
                let hashes = hashes(opts);
                if !hashes.is_empty() {
                    p.extra.insert("hashes".to_owned(), hashes.join(","));
                }
                out.packages.push(p);
            }
            Err((kind, msg)) => out.problems.push(Problem::new(here, kind, msg)),
        }
    }
    out
}

pub(super) fn short(s: &str) -> String {
    let mut t: String = s.chars().take(80).collect();
    if t.len() < s.len() {
        t.push('…');
    }
    t
}

/// Join backslash continuations (pip's rules: a comment line ends a continuation). Returns
/// (first line number, logical line).
pub(super) fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Vec::new();
    let mut buf = String::new();
    let mut start = 0usize;
    let mut cont = false;
    for (i, raw) in text.split('\n').enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let comment = line.trim_start().starts_with('#');
        if !cont {
            start = i + 1;
        }
        if let (Some(body), false) = (line.strip_suffix('\\'), comment) {
            buf.push_str(body);
            cont = true;
        } else {
            if comment && cont {
                buf.push(' ');
            }
            buf.push_str(line);
            out.push((start, std::mem::take(&mut buf)));
            cont = false;
        }
    }
    if cont {
        out.push((start, buf));
    }
    out
}

/// Cut a `#` comment that starts the line or follows whitespace.
pub(super) fn strip_comment(s: &str) -> &str {
    let b = s.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        if c == b'#' && (i == 0 || b[i - 1].is_ascii_whitespace()) {
            return &s[..i];
        }
    }
    s
}

/// Options that only steer pip (index, hashes mode …): ignored.
pub(super) const GLOBAL_OPTIONS: &[&str] = &[
    "i",
    "index-url",
    "extra-index-url",
    "no-index",
    "f",
    "find-links",
    "pre",
    "trusted-host",
    "prefer-binary",
    "require-hashes",
    "only-binary",
    "no-binary",
    "use-feature",
    "progress-bar",
    "Z",
    "always-unzip",
    "process-dependency-links",
];

pub(super) fn option_line(line: &str, n: usize, here: &Location, out: &mut RequirementsFile) {
    let (name, value) = if let Some(rest) = line.strip_prefix("--") {
        let end = rest
            .find(|c: char| c == '=' || c.is_whitespace())
            .unwrap_or(rest.len());
        let value = rest[end..].trim_start_matches('=').trim();
        (&rest[..end], value)
    } else {
        let rest = &line[1..];
        let first = rest.chars().next().map_or(0, char::len_utf8);
        (&rest[..first], rest[first..].trim())
    };
    match name {
        "r" | "requirement" | "c" | "constraint" => {
            let target = value.split_whitespace().next().unwrap_or("");
            if target.is_empty() {
                out.problems.push(Problem::new(
                    here.clone(),
                    ProblemKind::Malformed,
                    format!("`-{name}` without a file name"),
                ));
            } else {
                out.includes.push(Include {
                    target: target.to_owned(),
                    line: n,
                    constraint: matches!(name, "c" | "constraint"),
                });
            }
        }
        "e" | "editable" => out.problems.push(Problem::new(
            here.clone(),
            ProblemKind::Skipped,
            format!(
                "editable requirement `{}` has no pinned version",
                short(value)
            ),
        )),
        n if GLOBAL_OPTIONS.contains(&n) => {}
        _ => out.problems.push(Problem::new(
            here.clone(),
            ProblemKind::Malformed,
            format!("unknown option in `{}`", short(line)),
        )),
    }
}

/// Split a requirement line at its first per-requirement option (`--hash`, `-C` …).
pub(super) fn split_options(line: &str) -> (&str, &str) {
    let mut prev_ws = false;
    for (i, c) in line.char_indices() {
        if c == '-' && prev_ws {
            return (line[..i].trim(), &line[i..]);
        }
        prev_ws = c.is_whitespace();
    }
    (line, "")
}

pub(super) fn hashes(opts: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut toks = opts.split_whitespace();
    while let Some(t) = toks.next() {
        let v = if let Some(v) = t.strip_prefix("--hash=") {
            Some(v.to_owned())
        } else if t == "--hash" {
            toks.next().map(str::to_owned)
        } else {
            None
        };
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            out.push(v);
        }
    }
    out
}

/// An exact pin.
pub(super) struct Pin<'a> {
    name: &'a str,
    version: &'a str,
    extras: Vec<&'a str>,
    marker: Option<&'a str>,
}

pub(super) fn valid_name(n: &str) -> bool {
    let b = n.as_bytes();
    !b.is_empty()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
}

pub(super) fn is_url_or_path(req: &str) -> bool {
    if req.starts_with(['.', '/', '~']) {
        return true;
    }
    if let Some((scheme, _)) = req.split_once("://") {
        if !scheme.is_empty()
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '.' | '-'))
        {
            return true;
        }
    }
    let lower = req
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    [".whl", ".tar.gz", ".zip", ".tar.bz2", ".tgz"]
        .iter()
        .any(|e| lower.ends_with(e))
        && !lower.contains(['=', '<', '>', '!', '~'])
}

pub(super) const OPERATORS: [&str; 8] = ["===", "==", "~=", "!=", "<=", ">=", "<", ">"];

/// A PEP 508 requirement: `Ok(Some)` for an exact pin, `Ok(None)` for a range or bare name.
pub(super) fn parse_requirement(req: &str) -> Result<Option<Pin<'_>>, (ProblemKind, String)> {
    let malformed = |m: String| Err((ProblemKind::Malformed, m));
    if is_url_or_path(req) {
        return Err((
            ProblemKind::Skipped,
            format!(
                "URL or path requirement `{}` has no pinned version",
                short(req)
            ),
        ));
    }
    let end = req
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .unwrap_or(req.len());
    let name = &req[..end];
    if name.is_empty() {
        return malformed(format!("no project name in `{}`", short(req)));
    }
    if !valid_name(name) {
        return malformed(format!("`{}` is not a valid project name", short(name)));
    }
    let mut rest = req[end..].trim_start();
    let mut extras = Vec::new();
    if let Some(r) = rest.strip_prefix('[') {
        let Some(close) = r.find(']') else {
            return malformed(format!("unclosed `[` in `{}`", short(req)));
        };
        for x in r[..close]
            .split(',')
            .map(str::trim)
            .filter(|x| !x.is_empty())
        {
            if !valid_name(x) {
                return malformed(format!("`{}` is not a valid extra", short(x)));
            }
            extras.push(x);
        }
        rest = r[close + 1..].trim_start();
    }
    if rest.starts_with('@') {
        return Err((
            ProblemKind::Skipped,
            format!("direct reference `{}` has no pinned version", short(req)),
        ));
    }
    let (spec, marker) = match rest.split_once(';') {
        Some((s, m)) => {
            let m = m.trim();
            if m.is_empty() {
                return malformed(format!("empty environment marker in `{}`", short(req)));
            }
            (s.trim(), Some(m))
        }
        None => (rest.trim(), None),
    };
    let spec = spec
        .strip_prefix('(')
        .and_then(|s| s.strip_suffix(')'))
        .map_or(spec, str::trim);
    if spec.is_empty() {
        return Ok(None);
    }
    let mut exact = None;
    for clause in spec.split(',') {
        let c = clause.trim();
        let Some(op) = OPERATORS.iter().find(|o| c.starts_with(**o)) else {
            return malformed(format!(
                "expected a version operator (`==`, `>=` …), found `{}`",
                short(c)
            ));
        };
        let v = c[op.len()..].trim();
        if v.is_empty() {
            return malformed(format!("`{op}` without a version in `{}`", short(req)));
        }
        if *op == "===" {
            if v.contains(char::is_whitespace) {
                return malformed(format!("invalid version `{}`", short(v)));
            }
            exact.get_or_insert(v);
            continue;
        }
        if !v.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'+' | b'!' | b'*' | b'-')
        }) {
            return malformed(format!("invalid version `{}`", short(v)));
        }
        if *op == "==" && !v.contains('*') {
            exact.get_or_insert(v);
        }
    }
    Ok(exact.map(|version| Pin {
        name,
        version,
        extras,
        marker,
    }))
}
