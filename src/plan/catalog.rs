//! The Keystone catalog entries a replicated site needs: the source site's services and
//! endpoints (from a control-plane discovery) copied to the new site's region, the source host
//! of each URL replaced by a placeholder; what the new region already has is skipped.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::controlplane::{CatalogEndpoint, PlanControlPlane};
use crate::model::{CatalogChanges, CatalogEndpointSpec, CatalogService};

use super::render::shell_word;

/// Whether an endpoint serves a site: its mapped site, or its region named like the site.
fn in_site(e: &CatalogEndpoint, site: &str) -> bool {
    e.site == site || e.region == site
}

/// The placeholder of the new site's host for one interface (`BER1_PUBLIC_HOST`).
pub(crate) fn placeholder(site: &str, interface: &str) -> String {
    format!("{site}_{interface}_host")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// The URL with its host replaced (`http://10.0.0.5:8774/v2.1` → `http://NEW:8774/v2.1`), or
/// `None` when it has no `scheme://host`.
pub(crate) fn replace_host(url: &str, with: &str) -> Option<(String, String)> {
    let (scheme, rest) = url.split_once("://")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = if let Some(r) = hostport.strip_prefix('[') {
        let close = r.find(']')?;
        (&hostport[..close + 2], &r[close + 1..])
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
                (h, &hostport[h.len()..])
            }
            _ => (hostport, ""),
        }
    };
    if host.is_empty() {
        return None;
    }
    Some((format!("{scheme}://{with}{port}{path}"), host.to_owned()))
}

/// What the new site `to` needs, copied from `from`. With `own_keystone` the new site's
/// keystone starts empty: every region and service is created; otherwise services are shared
/// and exist, and the shared keystone's identity endpoints are not copied.
pub(crate) fn changes(
    cp: &PlanControlPlane,
    from: &str,
    to: &str,
    own_keystone: bool,
) -> CatalogChanges {
    let source: Vec<&CatalogEndpoint> = cp.endpoints.iter().filter(|e| in_site(e, from)).collect();
    let target: Vec<&CatalogEndpoint> = if own_keystone {
        Vec::new()
    } else {
        cp.endpoints.iter().filter(|e| in_site(e, to)).collect()
    };
    let mut c = CatalogChanges {
        source_regions: source
            .iter()
            .map(|e| e.region.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect(),
        ..CatalogChanges::default()
    };
    // The target site's region: the one its endpoints are in already, else the site's name.
    let region = target
        .first()
        .map_or_else(|| to.to_owned(), |e| e.region.clone());
    if target.is_empty() {
        c.regions.push(region.clone());
    } else {
        c.existing.push(format!("region {region}"));
    }
    let mut services: BTreeSet<(String, String)> = BTreeSet::new();
    let mut hosts: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for e in &source {
        let key = (e.catalog_type.clone(), e.service_name.clone());
        if !own_keystone && e.service_type == "identity" {
            if services.insert(key) {
                c.existing.push(format!(
                    "{} ({}): the shared keystone of {from}; no endpoint in {to}",
                    e.catalog_type, e.service_name
                ));
            }
            continue;
        }
        if services.insert(key) {
            if own_keystone {
                c.services.push(CatalogService {
                    catalog_type: e.catalog_type.clone(),
                    name: e.service_name.clone(),
                });
            } else {
                c.existing
                    .push(format!("service {} ({})", e.catalog_type, e.service_name));
            }
        }
        if target
            .iter()
            .any(|t| t.catalog_type == e.catalog_type && t.interface == e.interface)
        {
            let have = format!("endpoint {} {} in {region}", e.catalog_type, e.interface);
            if !c.existing.contains(&have) {
                c.existing.push(have);
            }
            continue;
        }
        let ph = placeholder(to, &e.interface);
        let (url, host) =
            replace_host(&e.url, &ph).unwrap_or_else(|| (e.url.clone(), String::new()));
        hosts.entry(ph).or_default().insert(host);
        let spec = CatalogEndpointSpec {
            catalog_type: e.catalog_type.clone(),
            service_name: e.service_name.clone(),
            region: region.clone(),
            interface: e.interface.clone(),
            url,
            source_url: e.url.clone(),
        };
        if !c
            .endpoints
            .iter()
            .any(|x| x.catalog_type == spec.catalog_type && x.interface == spec.interface)
        {
            c.endpoints.push(spec);
        }
    }
    for (ph, src_hosts) in hosts {
        let src_hosts: Vec<String> = src_hosts.into_iter().filter(|h| !h.is_empty()).collect();
        c.placeholders.insert(
            ph,
            format!(
                "the {to} host or VIP of these endpoints ({from} uses {})",
                src_hosts.join(", ")
            ),
        );
    }
    c
}

/// The `openstack … create` commands of the changes, each word shell-quoted.
pub(crate) fn commands(c: &CatalogChanges) -> Vec<String> {
    let mut out = Vec::new();
    for r in &c.regions {
        out.push(format!("openstack region create {}", shell_word(r)));
    }
    for s in &c.services {
        out.push(format!(
            "openstack service create --name {} {}",
            shell_word(&s.name),
            shell_word(&s.catalog_type)
        ));
    }
    for e in &c.endpoints {
        out.push(format!(
            "openstack endpoint create --region {} {} {} {}",
            shell_word(&e.region),
            shell_word(&e.service_name),
            shell_word(&e.interface),
            shell_word(&e.url)
        ));
    }
    for x in &c.existing {
        out.push(format!("# exists, skipped: {x}"));
    }
    for (ph, what) in &c.placeholders {
        out.push(format!("# {ph}: {what}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(kind: &str, name: &str, region: &str, interface: &str, url: &str) -> CatalogEndpoint {
        CatalogEndpoint {
            service_type: if kind == "volumev3" {
                "block-storage"
            } else {
                kind
            }
            .into(),
            catalog_type: kind.into(),
            service_name: name.into(),
            project: None,
            region: region.into(),
            site: region.into(),
            interface: interface.into(),
            url: url.into(),
            version_url: None,
            endpoint_id: format!("{kind}-{region}-{interface}"),
            status: "ok".into(),
            version_kind: None,
            max_version: None,
            series: Vec::new(),
        }
    }

    #[test]
    fn hosts_are_replaced_keeping_port_and_path() {
        assert_eq!(
            replace_host("http://10.0.0.5:8774/v2.1", "X"),
            Some(("http://X:8774/v2.1".into(), "10.0.0.5".into()))
        );
        assert_eq!(
            replace_host("https://api.par1.example/volume/v3/%(project_id)s", "X"),
            Some((
                "https://X/volume/v3/%(project_id)s".into(),
                "api.par1.example".into()
            ))
        );
        assert_eq!(
            replace_host("http://[fd00::1]:5000", "X"),
            Some(("http://X:5000".into(), "[fd00::1]".into()))
        );
        assert_eq!(replace_host("not a url", "X"), None);
        assert_eq!(placeholder("ber-1", "public"), "BER_1_PUBLIC_HOST");
    }

    #[test]
    fn changes_skip_what_the_target_region_has() {
        let cp = PlanControlPlane {
            endpoints: vec![
                ep("compute", "nova", "par1", "public", "http://p:8774/v2.1"),
                ep("compute", "nova", "par1", "internal", "http://i:8774/v2.1"),
                ep("identity", "keystone", "par1", "public", "http://p:5000/v3"),
                ep("volumev3", "cinderv3", "par1", "public", "http://p:8776/v3"),
                ep("compute", "nova", "ber1", "public", "http://b:8774/v2.1"),
            ],
            ..PlanControlPlane::default()
        };
        let c = changes(&cp, "par1", "ber1", false);
        assert_eq!(c.source_regions, ["par1"]);
        assert!(c.regions.is_empty(), "ber1 exists: {c:?}");
        assert!(c.existing.contains(&"region ber1".to_owned()));
        assert!(c.services.is_empty(), "shared keystone: services exist");
        let eps: Vec<(&str, &str, &str)> = c
            .endpoints
            .iter()
            .map(|e| {
                (
                    e.catalog_type.as_str(),
                    e.interface.as_str(),
                    e.url.as_str(),
                )
            })
            .collect();
        assert_eq!(
            eps,
            [
                ("compute", "internal", "http://BER1_INTERNAL_HOST:8774/v2.1"),
                ("volumev3", "public", "http://BER1_PUBLIC_HOST:8776/v3"),
            ]
        );
        assert!(c
            .existing
            .contains(&"endpoint compute public in ber1".to_owned()));
        assert!(c
            .existing
            .iter()
            .any(|x| x.starts_with("identity (keystone)")));
        let cmds = commands(&c);
        assert!(cmds.contains(&"openstack endpoint create --region ber1 cinderv3 public http://BER1_PUBLIC_HOST:8776/v3".to_owned()), "{cmds:?}");

        // Own keystone: a region, every service and identity too.
        let c = changes(&cp, "par1", "ber1", true);
        assert_eq!(c.regions, ["ber1"]);
        assert_eq!(c.services.len(), 3);
        assert_eq!(c.endpoints.len(), 4);
        assert!(commands(&c)[0] == "openstack region create ber1");
    }
}
