//! PEP 503 name normalisation (Python distribution names), shared by the Python collectors
//! and the OSV advisory loader.

/// PEP 503 normalisation: lower case, runs of `-`, `_`, `.` become one `-`.
pub(crate) fn normalize_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_sep = false;
    for c in name.trim().chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_sep {
                out.push('-');
                in_sep = true;
            }
        } else {
            in_sep = false;
            out.extend(c.to_lowercase());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pep503_examples() {
        assert_eq!(normalize_name("Oslo.Config"), "oslo-config");
        assert_eq!(
            normalize_name("backports.ssl_match_hostname"),
            "backports-ssl-match-hostname"
        );
        assert_eq!(normalize_name("FrIeNdLy-_-bArD"), "friendly-bard");
        assert_eq!(normalize_name(" zope.interface "), "zope-interface");
    }

    proptest::proptest! {
        #[test]
        fn normalising_twice_changes_nothing(s in "[A-Za-z0-9._ -]{0,24}") {
            let n = normalize_name(&s);
            proptest::prop_assert_eq!(normalize_name(&n), n);
        }
    }
}
