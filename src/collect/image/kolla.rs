//! Kolla images: which OpenStack series an image claims (its tag, `2024.1-ubuntu-jammy`) and
//! which service it holds (the service's `*.dist-info` version). These are the facts; which
//! series that version belongs to, and whether it matches the tag, is judged against
//! openstack/releases by `fleet::check_kolla` (series mapping is not the collector's job).
//!
//! Rules:
//! - tag series: the first `-`-separated word of the tag when it is a release id (`2024.1`),
//!   `master`, or a lower-case codename (`zed`); the rest is the tag's distro (`ubuntu-jammy`).
//!   Older `ubuntu-source-nova-api:train` names work too (the tag is then the series).
//! - the service: the OpenStack service deliverable found in the image whose name is the image
//!   name or its first part (`nova-api` → `nova`, `neutron-server` → `neutron`), the longest such;
//!   else the only service deliverable in the image.

use crate::model::{KollaImage, ServiceInstance};

/// Words that are not series even when they come first in a tag.
const NOT_SERIES: [&str; 12] = [
    "latest",
    "stable",
    "ubuntu",
    "debian",
    "centos",
    "rocky",
    "rhel",
    "oraclelinux",
    "source",
    "binary",
    "amd64",
    "aarch64",
];

/// The tag of a reference (`quay.io/kolla/nova-api:2024.1-ubuntu-jammy` → `2024.1-ubuntu-jammy`).
pub(crate) fn tag_of(reference: &str) -> Option<&str> {
    let r = reference.split('@').next().unwrap_or(reference);
    let last = r.rsplit('/').next().unwrap_or(r);
    last.split_once(':')
        .map(|(_, t)| t)
        .filter(|t| !t.is_empty())
}

/// The image name of a reference (`quay.io/kolla/nova-api:2024.1` → `nova-api`), with an old
/// `<distro>-<source|binary>-` prefix removed.
pub(crate) fn image_name(reference: &str) -> &str {
    let r = reference.split('@').next().unwrap_or(reference);
    let last = r.rsplit('/').next().unwrap_or(r);
    let name = last.split(':').next().unwrap_or(last);
    for kind in ["-source-", "-binary-"] {
        if let Some(i) = name.find(kind) {
            return &name[i + kind.len()..];
        }
    }
    name
}

fn is_series_word(w: &str) -> bool {
    let release_id = w.len() == 6
        && w[..4].bytes().all(|b| b.is_ascii_digit())
        && w.as_bytes()[4] == b'.'
        && w.as_bytes()[5].is_ascii_digit();
    let codename = (3..=12).contains(&w.len())
        && w.bytes().all(|b| b.is_ascii_lowercase())
        && !NOT_SERIES.contains(&w);
    release_id || w == "master" || codename
}

/// Series and distro named by a kolla tag: `2024.1-ubuntu-jammy` → (`2024.1`, `ubuntu-jammy`).
pub(crate) fn tag_series(tag: &str) -> Option<(String, Option<String>)> {
    let (first, rest) = match tag.split_once('-') {
        Some((a, b)) => (a, Some(b)),
        None => (tag, None),
    };
    is_series_word(first).then(|| {
        (
            first.to_owned(),
            rest.filter(|r| !r.is_empty()).map(str::to_owned),
        )
    })
}

/// Whether an image looks like a kolla image: a `kolla_version` label, or `kolla` in a
/// repository path.
pub(crate) fn is_kolla(
    tags: &[String],
    labels: &std::collections::BTreeMap<String, String>,
) -> bool {
    labels.contains_key("kolla_version")
        || tags.iter().any(|t| {
            let repo = t.rsplit_once(':').map_or(t.as_str(), |(r, _)| r);
            repo.contains("kolla")
        })
}

/// The kolla view of an image.
pub(crate) fn describe(
    tags: &[String],
    labels: &std::collections::BTreeMap<String, String>,
    services: &[ServiceInstance],
) -> KollaImage {
    let mut k = KollaImage {
        kolla_version: labels.get("kolla_version").cloned(),
        ..KollaImage::default()
    };
    for t in tags {
        if let Some((s, d)) = tag_of(t).and_then(tag_series) {
            k.tag_series = Some(s);
            k.tag_distro = d;
            break;
        }
    }
    // The service this image is for.
    let names: Vec<&str> = tags.iter().map(|t| image_name(t)).collect();
    let svc: Vec<&ServiceInstance> = services.iter().filter(|s| s.kind == "service").collect();
    let by_name = svc
        .iter()
        .filter(|s| {
            names.iter().any(|n| {
                *n == s.deliverable
                    || n.strip_prefix(s.deliverable.as_str())
                        .is_some_and(|r| r.starts_with('-'))
            })
        })
        .max_by_key(|s| s.deliverable.len())
        .copied();
    let mut distinct: Vec<&str> = svc.iter().map(|s| s.deliverable.as_str()).collect();
    distinct.sort_unstable();
    distinct.dedup();
    let chosen = by_name.or_else(|| (distinct.len() == 1).then(|| svc[0]));
    if let Some(s) = chosen {
        k.service = Some(s.deliverable.clone());
        k.package = Some(s.package.clone());
        k.version = Some(s.version.clone());
    }
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags() {
        assert_eq!(
            tag_of("quay.io/openstack.kolla/nova-api:2024.1-ubuntu-jammy"),
            Some("2024.1-ubuntu-jammy")
        );
        assert_eq!(tag_of("registry:5000/kolla/nova-api"), None);
        assert_eq!(
            tag_series("2024.1-ubuntu-jammy"),
            Some(("2024.1".into(), Some("ubuntu-jammy".into())))
        );
        assert_eq!(
            tag_series("master-rocky-9"),
            Some(("master".into(), Some("rocky-9".into())))
        );
        assert_eq!(tag_series("zed"), Some(("zed".into(), None)));
        assert_eq!(tag_series("latest"), None);
        assert_eq!(tag_series("17.1.0"), None);
        assert_eq!(image_name("kolla/ubuntu-source-nova-api:train"), "nova-api");
        assert_eq!(
            image_name("quay.io/openstack.kolla/neutron-server:2024.1"),
            "neutron-server"
        );
    }
}
