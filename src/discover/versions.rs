//! OpenStack version documents, in every shape the upstream samples show: `{"versions": [..]}`,
//! keystone's `{"versions": {"values": [..]}}`, a versioned root `{"version": {..}}`, ironic's
//! and watcher's `default_version`; the maximum is `version` (nova, cinder, manila, masakari,
//! ironic) or `max_version` (placement, magnum, watcher).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::apidata::ApiVersion;

/// One API version listed by a document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub(crate) struct ListedVersion {
    /// `v2.1`, `v3.14`.
    pub id: String,
    /// `CURRENT`, `SUPPORTED`, `DEPRECATED`, `stable`…
    pub status: String,
    /// Minimum microversion, when it has microversions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_microversion: Option<ApiVersion>,
    /// Maximum microversion.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_microversion: Option<ApiVersion>,
}

/// What a document said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Document {
    /// A list of versions (a root).
    List(Vec<ListedVersion>),
    /// One version (a versioned root).
    One(ListedVersion),
    /// JSON, but no version in it (ironic's `/v1` lists resources).
    NoVersion,
}

/// Fields are strings; anything else counts as absent (never trusted, never a panic).
fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

fn entry(v: &Value) -> Option<ListedVersion> {
    let id = s(v, "id");
    if id.is_empty() || id.len() > 64 {
        return None;
    }
    let max = [s(v, "max_version"), s(v, "version")]
        .into_iter()
        .find_map(ApiVersion::parse);
    Some(ListedVersion {
        id: id.to_owned(),
        status: s(v, "status").chars().take(32).collect(),
        min_microversion: ApiVersion::parse(s(v, "min_version")),
        max_microversion: max,
    })
}

/// Parse a body. `Err` = not JSON (a message naming what came instead).
pub(crate) fn parse(body: &[u8]) -> Result<Document, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        let head: String = String::from_utf8_lossy(&body[..body.len().min(60)])
            .chars()
            .map(|c| if c.is_control() { '?' } else { c })
            .collect();
        format!("not a JSON version document ({e}); it starts with `{head}`")
    })?;
    if let Some(list) = v.get("versions") {
        let items = list
            .as_array()
            .or_else(|| list.get("values").and_then(Value::as_array));
        if let Some(items) = items {
            let out: Vec<ListedVersion> = items.iter().take(256).filter_map(entry).collect();
            if !out.is_empty() {
                return Ok(Document::List(out));
            }
        }
    }
    if let Some(one) = v.get("version").filter(|x| x.is_object()).and_then(entry) {
        return Ok(Document::One(one));
    }
    if let Some(d) = v.get("default_version").and_then(entry) {
        return Ok(Document::List(vec![d]));
    }
    Ok(Document::NoVersion)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_upstream_sample() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/data/openstack-api/versions");
        let read = |p: &str| fs_err::read(dir.join(p)).unwrap();
        let max = |p: &str| match parse(&read(p)).unwrap() {
            Document::List(l) => l
                .iter()
                .find(|v| v.status.eq_ignore_ascii_case("current"))
                .and_then(|v| v.max_microversion)
                .map(|v| v.to_string()),
            Document::One(o) => o.max_microversion.map(|v| v.to_string()),
            Document::NoVersion => None,
        };
        assert_eq!(max("nova/versions-get-resp.json").as_deref(), Some("2.104"));
        assert_eq!(
            max("nova/v21-version-get-resp.json").as_deref(),
            Some("2.104")
        );
        assert_eq!(max("placement/get-root.json").as_deref(), Some("1.28"));
        assert_eq!(
            max("ironic/api-root-response.json").as_deref(),
            Some("1.37")
        );
        assert_eq!(
            max("cinder/versions-response.json").as_deref(),
            Some("3.71")
        );
        assert_eq!(
            parse(&read("ironic/api-v1-root-response.json")).unwrap(),
            Document::NoVersion
        );
        match parse(&read("keystone/identity-versions-response.json")).unwrap() {
            Document::List(l) => assert!(l.iter().any(|v| v.id == "v3.4")),
            d => panic!("{d:?}"),
        }
        assert!(parse(b"<html>nope</html>")
            .unwrap_err()
            .contains("not a JSON"));
    }
}
