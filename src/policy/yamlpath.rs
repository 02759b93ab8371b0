//! Map YAML paths (`rules[0].series.max_lag`) to line numbers of a block-style YAML document,
//! so that validation errors can say `file:line`. Heuristic but exact for block style (what the
//! shipped policies and their documentation use); a path inside flow style (`{a: 1}`) resolves to
//! the line of its nearest block-style ancestor.

use std::collections::HashMap;

/// Path → 1-based line.
#[derive(Debug, Default)]
pub(crate) struct LineIndex {
    lines: HashMap<String, usize>,
}

impl LineIndex {
    /// Index `text`.
    pub(crate) fn new(text: &str) -> Self {
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
    pub(crate) fn line(&self, path: &str) -> Option<usize> {
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
