//! `key=value` labels given on the command line (`collect --label`, `agent --label`).

/// A label that is not `key=value` with a non-empty key.
#[derive(Debug, thiserror::Error)]
#[error("expected `key=value`, found `{0}`")]
pub(crate) struct LabelError(String);

/// Split `key=value` at the first `=`; the key must not be empty, the value may be.
pub(crate) fn parse_label(s: &str) -> Result<(String, String), LabelError> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(LabelError(s.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_split_at_the_first_equals_sign() {
        assert_eq!(
            parse_label("role=compute").unwrap(),
            ("role".into(), "compute".into())
        );
        assert_eq!(parse_label("a=b=c").unwrap(), ("a".into(), "b=c".into()));
        assert_eq!(
            parse_label("empty=").unwrap(),
            ("empty".into(), String::new())
        );
        for bad in ["", "novalue", "=x"] {
            assert_eq!(
                parse_label(bad).unwrap_err().to_string(),
                format!("expected `key=value`, found `{bad}`")
            );
        }
    }
}
