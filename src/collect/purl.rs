//! Package URLs (purl spec): `pkg:type/namespace/name@version?qualifiers`.

/// Percent-encode a purl component (everything but unreserved characters).
pub(crate) fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Build a purl. Qualifiers are sorted by key as the spec requires; empty values are dropped.
pub(crate) fn build(
    ty: &str,
    namespace: Option<&str>,
    name: &str,
    version: &str,
    qualifiers: &[(&str, &str)],
) -> String {
    let mut s = format!("pkg:{ty}/");
    if let Some(ns) = namespace.filter(|n| !n.is_empty()) {
        for (i, seg) in ns.split('/').enumerate() {
            if i > 0 {
                s.push('/');
            }
            s.push_str(&encode(seg));
        }
        s.push('/');
    }
    s.push_str(&encode(name));
    if !version.is_empty() {
        s.push('@');
        s.push_str(&encode(version));
    }
    let mut q: Vec<_> = qualifiers.iter().filter(|(_, v)| !v.is_empty()).collect();
    q.sort_by_key(|(k, _)| *k);
    for (i, (k, v)) in q.iter().enumerate() {
        s.push(if i == 0 { '?' } else { '&' });
        s.push_str(k);
        s.push('=');
        s.push_str(&encode(v));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deb_purl_with_epoch_and_qualifiers() {
        assert_eq!(
            build(
                "deb",
                Some("debian"),
                "python3-nova",
                "2:26.2.2-1~deb12u5",
                &[("arch", "all"), ("distro", "debian-12")]
            ),
            "pkg:deb/debian/python3-nova@2%3A26.2.2-1~deb12u5?arch=all&distro=debian-12"
        );
        assert_eq!(
            build("pypi", None, "oslo-config", "9.4.0", &[]),
            "pkg:pypi/oslo-config@9.4.0"
        );
    }
}
