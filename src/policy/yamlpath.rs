//! Map YAML paths (`rules[0].series.max_lag`) to line numbers of a block-style YAML document,
//! so that validation errors can say `file:line`. Heuristic but exact for block style (what the
//! shipped policies and their documentation use); a path inside flow style (`{a: 1}`) resolves to
//! the line of its nearest block-style ancestor.

use std::collections::HashMap;

/// Path → 1-based line.
#[derive(Debug, Default)]
pub struct LineIndex {
    lines: HashMap<String, usize>,
}

impl LineIndex {
    /// Index `text`.
    pub fn new(text: &str) -> Self {
        // Stack of (indent, path, list counter for a sequence under this key).
        let mut stack: Vec<(usize, String)> = Vec::new();
        let mut counters: HashMap<String, usize> = HashMap::new();
        let mut lines = HashMap::new();
        for (i, raw) in text.lines().enumerate() {
            let lineno = i + 1;
            let trimmed = raw.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with("---") {
                continue;
            }
            let mut indent = raw.len() - trimmed.len();
            let mut rest = trimmed;
            // Sequence items: `- key: value` or `- value`.
            while let Some(after) = rest
                .strip_prefix("- ")
                .or_else(|| (rest == "-").then_some(""))
            {
                while stack.last().is_some_and(|(ind, _)| *ind > indent) {
                    stack.pop();
                }
                // The parent is the nearest entry with indent < this dash's indent, or the key at
                // the same indent (YAML allows `key:\n- item` at the same indent).
                while stack.last().is_some_and(|(ind, _)| {
                    *ind >= indent && !counters.contains_key(&stack.last().unwrap().1)
                }) {
                    stack.pop();
                }
                let parent = stack.last().map(|(_, p)| p.clone()).unwrap_or_default();
                let n = counters.entry(parent.clone()).or_insert(0);
                let path = format!("{parent}[{n}]");
                *n += 1;
                lines.entry(path.clone()).or_insert(lineno);
                let item_indent = indent + 2;
                stack.push((indent + 1, path));
                indent = item_indent;
                rest = after.trim_start();
                if rest.is_empty() {
                    break;
                }
            }
            if rest.is_empty() {
                continue;
            }
            let Some(key) = key_of(rest) else { continue };
            while stack.last().is_some_and(|(ind, _)| *ind >= indent) {
                stack.pop();
            }
            let parent = stack.last().map(|(_, p)| p.clone()).unwrap_or_default();
            let path = if parent.is_empty() {
                key.to_owned()
            } else {
                format!("{parent}.{key}")
            };
            lines.entry(path.clone()).or_insert(lineno);
            counters.entry(path.clone()).or_insert(0);
            stack.push((indent, path));
        }
        Self { lines }
    }

    /// The line of `path`, or of its nearest indexed ancestor.
    pub fn line(&self, path: &str) -> Option<usize> {
        let mut p = path.to_owned();
        loop {
            if let Some(l) = self.lines.get(&p) {
                return Some(*l);
            }
            let cut = p.rfind(['.', '['])?;
            p.truncate(cut);
        }
    }
}

/// The key of a `key: value` line (unquoted or quoted), if it is one.
fn key_of(s: &str) -> Option<&str> {
    if s.starts_with('{') || s.starts_with('[') {
        return None;
    }
    if let Some(q) = s.strip_prefix('"') {
        let end = q.find('"')?;
        return q[end + 1..]
            .trim_start()
            .starts_with(':')
            .then(|| &q[..end]);
    }
    let colon = s
        .find(": ")
        .or_else(|| s.ends_with(':').then(|| s.len() - 1))?;
    let k = s[..colon].trim();
    (!k.is_empty() && !k.contains(' ')).then_some(k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_to_lines() {
        let t = "version: 1\nrules:\n  - name: a\n    series:\n      max_lag: 1\n  - name: b\n    select: {kinds: [x]}\nwaivers:\n- id: w\n  expires: 2026-01-01\n";
        let ix = LineIndex::new(t);
        assert_eq!(ix.line("version"), Some(1));
        assert_eq!(ix.line("rules[0].name"), Some(3));
        assert_eq!(ix.line("rules[0].series.max_lag"), Some(5));
        assert_eq!(ix.line("rules[1]"), Some(6));
        assert_eq!(ix.line("rules[1].select.kinds[0]"), Some(7));
        assert_eq!(ix.line("waivers[0].expires"), Some(10));
        assert_eq!(ix.line("nothing"), None);
    }
}

/// Deepest nesting of YAML collections accepted (block and flow together). Policies, feed
/// definitions and advisories nest a handful of levels; the YAML parser's time grows with the
/// square of the nesting, so deeper documents are refused before they reach it.
pub(crate) const MAX_YAML_NESTING: usize = 64;

/// The first line (1-based) at which `text` nests collections more than [`MAX_YAML_NESTING`]
/// deep, found in one linear pass: flow brackets outside quotes and comments, block levels by
/// indentation and by compact `- ` / `? ` items on one line. Block scalars (`|`, `>`) are
/// skipped. `None` when the document stays within the bound (it may still be invalid YAML).
pub(crate) fn too_deep(text: &str) -> Option<usize> {
    let mut flow = 0usize;
    let mut indents: Vec<usize> = Vec::new();
    // Inside a block scalar: the indentation of the line that opened it.
    let mut scalar_of: Option<usize> = None;
    for (i, line) in text.lines().enumerate() {
        let lineno = i + 1;
        let b = line.as_bytes();
        let mut pos = b.iter().take_while(|&&c| c == b' ').count();
        if pos == b.len() || b[pos] == b'#' {
            continue;
        }
        if let Some(parent) = scalar_of {
            if pos > parent {
                continue;
            }
            scalar_of = None;
        }
        let indent = pos;
        let mut compact = 0usize;
        if flow == 0 {
            while indents.last().is_some_and(|&t| t > indent) {
                indents.pop();
            }
            if indents.last() != Some(&indent) {
                indents.push(indent);
            }
            while pos < b.len() && matches!(b[pos], b'-' | b'?') {
                match b.get(pos + 1) {
                    Some(b' ' | b'\t') => {
                        compact += 1;
                        pos += 2;
                        while pos < b.len() && matches!(b[pos], b' ' | b'\t') {
                            pos += 1;
                        }
                    }
                    None => {
                        compact += 1;
                        pos += 1;
                    }
                    Some(_) => break,
                }
            }
        }
        if indents.len() + compact + flow > MAX_YAML_NESTING {
            return Some(lineno);
        }
        let mut quote: Option<u8> = None;
        let mut prev = b' ';
        let mut last = b' ';
        while pos < b.len() {
            let c = b[pos];
            match quote {
                Some(b'"') => {
                    if c == b'\\' {
                        pos += 1;
                    } else if c == b'"' {
                        quote = None;
                    }
                }
                Some(_) => {
                    if c == b'\'' {
                        quote = None;
                    }
                }
                None => match c {
                    b'[' | b'{' => {
                        flow += 1;
                        if indents.len() + compact + flow > MAX_YAML_NESTING {
                            return Some(lineno);
                        }
                    }
                    b']' | b'}' => flow = flow.saturating_sub(1),
                    b'"' | b'\'' if matches!(prev, b' ' | b'\t' | b'[' | b'{' | b',' | b':') => {
                        quote = Some(c);
                    }
                    b'#' if matches!(prev, b' ' | b'\t') => break,
                    _ => {}
                },
            }
            if !matches!(c, b' ' | b'\t') {
                last = c;
            }
            prev = c;
            pos += 1;
        }
        // `key: |`, `- >-`, `x: |2`: the lines below are text, not structure.
        let trimmed = line.trim_end();
        let tail = trimmed.trim_end_matches(|c: char| c.is_ascii_digit() || c == '-' || c == '+');
        if flow == 0
            && quote.is_none()
            && matches!(last, b'|' | b'>' | b'-' | b'+' | b'0'..=b'9')
            && (tail.ends_with(" |") || tail.ends_with(" >") || tail == "|" || tail == ">")
        {
            scalar_of = Some(indent);
        }
    }
    None
}

#[cfg(test)]
mod nesting_tests {
    use super::*;

    #[test]
    fn shallow_documents_pass_and_deep_ones_name_their_line() {
        for ok in [
            "a: 1\nb:\n  - c: [1, 2, {d: e}]\n",
            "text: |\n  [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\nafter: 1\n",
            "q: \"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"\n",
            "c: x # [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\n",
        ] {
            assert_eq!(too_deep(ok), None, "{ok}");
        }
        assert_eq!(too_deep(&format!("a: 1\nb: {}\n", "[".repeat(65))), Some(2));
        assert_eq!(too_deep(&format!("a:\n{}x\n", "- ".repeat(70))), Some(2));
        let mut stair = String::new();
        for i in 0..80 {
            stair.push_str(&format!("{}k{i}:\n", " ".repeat(i)));
        }
        assert_eq!(too_deep(&stair), Some(MAX_YAML_NESTING + 1));
        // Within the bound, serde_yaml still parses it.
        let ok = format!("a: {}1{}\n", "[".repeat(60), "]".repeat(60));
        assert_eq!(too_deep(&ok), None);
    }
}
