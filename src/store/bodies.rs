//! Finding bodies stored once by content (no SQL here): a finding's *template* is its JSON with
//! the node and the fingerprint left empty, the same on every node that has the package or
//! service it is about; the store keeps each distinct template once, keyed by its sha256, and a
//! findings row keeps the node and the fingerprint in its own columns. Reading a row back puts
//! them into the template again, so the finding is exactly the one stored.

use sha2::{Digest, Sha256};

use super::StoreError;
use crate::model::Finding;

/// A finding's template, ready to store.
#[derive(Debug)]
pub(crate) struct Template {
    /// sha256 of `json`.
    pub(crate) digest: [u8; 32],
    /// The finding without node and fingerprint, JSON.
    pub(crate) json: String,
}

/// The template of `f`, or `None` when `f` does not belong to `node` (stored whole then, so
/// that reading it back gives exactly `f`).
pub(crate) fn template(f: &Finding, node: &str) -> Result<Option<Template>, StoreError> {
    if f.node != node {
        return Ok(None);
    }
    let mut t = f.clone();
    t.node.clear();
    t.fingerprint.clear();
    let json = serde_json::to_string(&t).map_err(|e| StoreError::Corrupt {
        what: "finding",
        message: e.to_string(),
    })?;
    let digest = Sha256::digest(json.as_bytes()).into();
    Ok(Some(Template { digest, json }))
}

/// The finding of a stored row: its template (`body_id` named one) with the row's node and
/// fingerprint, else its own body.
pub(crate) fn finding(
    template: Option<&str>,
    body: Option<Finding>,
    node: String,
    fingerprint: String,
) -> Result<Finding, StoreError> {
    let corrupt = |message: String| StoreError::Corrupt {
        what: "finding",
        message,
    };
    match (template, body) {
        (Some(t), _) => {
            let mut f: Finding = serde_json::from_str(t)
                .map_err(|e| corrupt(format!("template of a finding of node {node}: {e}")))?;
            f.node = node;
            f.fingerprint = fingerprint;
            Ok(f)
        }
        (None, Some(f)) => Ok(f),
        (None, None) => Err(corrupt(format!(
            "finding {fingerprint} of node {node} has neither a body nor a template"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Evidence, FindingCode, Location, Severity, Subject};

    fn finding_on(node: &str) -> Finding {
        let mut f = Finding {
            code: FindingCode::Vulnerable,
            severity: Severity::High,
            node: node.into(),
            subject: Subject {
                ecosystem: crate::model::Ecosystem::Deb.into(),
                name: "openssl".into(),
                version: "3.0.11-1".into(),
                purl: Some("pkg:deb/debian/openssl@3.0.11-1".into()),
                location: Some(Location::path("/var/lib/dpkg/status")),
            },
            advisory: None,
            fixed_in: vec!["3.0.13-1".into()],
            evidence: Evidence::default(),
            waived_by: None,
            fingerprint: String::new(),
        };
        f.fingerprint = f.compute_fingerprint();
        f
    }

    #[test]
    fn one_template_for_every_node_and_the_finding_comes_back_exactly() {
        let (a, b) = (finding_on("n1"), finding_on("n2"));
        assert_ne!(a.fingerprint, b.fingerprint);
        let ta = template(&a, "n1").unwrap().unwrap();
        let tb = template(&b, "n2").unwrap().unwrap();
        assert_eq!(ta.digest, tb.digest);
        let back = finding(Some(&ta.json), None, "n2".into(), b.fingerprint.clone()).unwrap();
        assert_eq!(back, b);
        assert_eq!(
            serde_json::to_string(&back).unwrap(),
            serde_json::to_string(&b).unwrap()
        );
        // A finding of another node than the row's is stored whole.
        assert!(template(&a, "n2").unwrap().is_none());
        assert_eq!(
            finding(None, Some(a.clone()), "n2".into(), String::new()).unwrap(),
            a
        );
        assert!(finding(None, None, "n1".into(), "x".into()).is_err());
        assert!(finding(Some("{"), None, "n1".into(), "x".into()).is_err());
    }
}
