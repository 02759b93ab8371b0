//! The YAML nesting pre-check: policies, feed definitions, advisories and release data are
//! refused before parsing when they nest deeper than anything nminus reads.

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

/// What a document nested too deeply is told (policies, feed definitions, advisories).
pub(crate) fn nesting_message() -> String {
    format!(
        "nested more than {MAX_YAML_NESTING} levels deep (collections inside collections): not parsed"
    )
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
