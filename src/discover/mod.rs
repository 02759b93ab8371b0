//! Discovery of an OpenStack cloud through its APIs: authenticate to Keystone v3, read the
//! service catalog, GET every endpoint's version documents (root and versioned root) with
//! bounded concurrency, and tell from each endpoint's maximum microversion (or version id) the
//! series its code is, with evidence from upstream's own data (`<data>/openstack-api`).
//!
//! Version documents are public: the token is sent to Keystone only, never to the endpoints.
//! One endpoint's failure (refused, TLS, timeout, redirect loop, garbage, oversized) is recorded
//! on that endpoint; the rest is discovered.

pub(crate) mod apidata;
pub(crate) mod cloud;
pub(crate) mod fleet;
pub(crate) mod http;
pub(crate) mod keystone;
pub(crate) mod plan_view;
pub(crate) mod probe;
pub(crate) mod service;
pub(crate) mod versions;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use apidata::{ApiData, ApiVersion, SeriesEvidence};
use http::{FailKind, Failure, Limits};
use versions::{Document, ListedVersion};

/// The schema id of the JSON output; bumped on any incompatible change.
pub(crate) const SCHEMA: &str = "nminus-discovery/1";

/// The JSON schema of [`Discovery`], as published in `reports/schema/discovery-v1.json`.
pub fn discovery_schema() -> serde_json::Value {
    let mut s = serde_json::to_value(schemars::schema_for!(Discovery)).unwrap_or_default();
    if let Some(o) = s.as_object_mut() {
        o.insert(
            "$id".to_owned(),
            serde_json::Value::String("urn:nminus:schema:discovery-v1".to_owned()),
        );
    }
    s
}

/// Settings of a discovery.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    /// Request limits.
    pub limits: Limits,
    /// Endpoints inspected at once.
    pub concurrency: usize,
    /// Only these interfaces (empty = all).
    pub interfaces: Vec<String>,
    /// Region → site (a region not listed is its own site).
    pub sites: BTreeMap<String, String>,
    /// Series allowed behind n when no policy rule applies (or `--max-lag` overrides it).
    pub max_lag: usize,
    /// The policy whose `series` rules judge endpoints (as `scan` judges services on nodes).
    pub policy: Option<Arc<crate::policy::Policy>>,
    /// `max_lag` wins over the policy.
    pub max_lag_override: bool,
}

/// Outcome for one endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum EndpointStatus {
    /// A version document was read.
    Ok,
    /// It answered, but with no version document.
    NoVersionDocument,
    /// No answer (connect, TLS, timeout, redirects, oversized).
    Unreachable,
}

/// One catalogued endpoint and what it said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub(crate) struct EndpointRecord {
    /// Official service type (`block-storage`), or the catalog's when the registry does not know it.
    pub service_type: String,
    /// The catalog's type (`volumev3`).
    pub catalog_type: String,
    /// Whether the service-types registry knows the type.
    pub known_type: bool,
    /// The catalog's service name.
    pub service_name: String,
    /// The project serving the type (`nova`), from the registry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// Region id.
    pub region: String,
    /// Site (the region unless mapped).
    pub site: String,
    /// `public`, `internal`, `admin`.
    pub interface: String,
    /// The catalog URL.
    pub url: String,
    /// Catalog endpoint id.
    pub endpoint_id: String,
    /// Outcome.
    pub status: EndpointStatus,
    /// HTTP status of the first document that answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    /// Time to the first document, milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    /// Documents read (root, versioned root).
    pub documents: Vec<String>,
    /// Versions listed.
    pub versions: Vec<ListedVersion>,
    /// The version this endpoint serves (`v2.1`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Its minimum microversion.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_microversion: Option<ApiVersion>,
    /// Its maximum microversion.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_microversion: Option<ApiVersion>,
    /// The highest version id listed with the same major (`3.14` for keystone).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_version_id: Option<ApiVersion>,
    /// The series that implies, with evidence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub series: Option<SeriesEvidence>,
    /// What went wrong, per document.
    pub errors: Vec<Failure>,
}

impl EndpointRecord {
    /// The key findings and metrics use.
    pub(crate) fn key(&self) -> (String, String, String, String) {
        (
            self.service_type.clone(),
            self.region.clone(),
            self.interface.clone(),
            self.url.clone(),
        )
    }
}

/// Finding codes.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum FindingCode {
    /// The implied series is behind policy (older than n - max_lag).
    SeriesBehindPolicy,
    /// Answered in the previous discovery, not now.
    EndpointStoppedAnswering,
    /// A catalogued endpoint answers without a version document.
    NoVersionDocument,
    /// In the catalog now, not in the previous discovery: recognised without redeployment.
    NewEndpoint,
    /// Its maximum microversion or version id changed since the previous discovery.
    VersionChanged,
    /// A service type catalogued now and not in the previous discovery.
    NewService,
    /// A catalogued service (or region) with no enrolled node behind it (`serve` only).
    UndiscoveredService,
    /// The series the API implies is none of the series of the nodes' packages (`serve` only).
    SeriesDisagreesWithPackages,
}

/// Severity of a finding.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Severity {
    /// Informational.
    Info,
    /// Warning.
    Warning,
    /// High.
    High,
}

/// A finding about an endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub(crate) struct Finding {
    /// Code.
    pub code: FindingCode,
    /// Severity.
    pub severity: Severity,
    /// Service type.
    pub service_type: String,
    /// Region.
    pub region: String,
    /// Interface.
    pub interface: String,
    /// URL.
    pub url: String,
    /// What and why.
    pub message: String,
    /// Evidence lines.
    pub evidence: Vec<String>,
}

/// The policy applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub(crate) struct PolicyView {
    /// The policy whose series rules judged the endpoints (none: `max_lag` for all).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// n.
    pub n: Option<String>,
    /// Series allowed behind n where no policy rule applies.
    pub max_lag: usize,
    /// The series `max_lag` allows, newest first.
    pub allowed: Vec<String>,
}

/// Keystone's part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub(crate) struct KeystoneView {
    /// The auth URL.
    pub auth_url: String,
    /// Where the settings came from.
    pub origin: String,
    /// The token's expiry, when issued.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_expires_at: Option<String>,
    /// Why there is no catalog.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Failure>,
}

/// A service of the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub(crate) struct ServiceView {
    /// Official type.
    pub service_type: String,
    /// Catalog type.
    pub catalog_type: String,
    /// Name.
    pub name: String,
    /// Id.
    pub id: String,
    /// Endpoints catalogued.
    pub endpoints: usize,
}

/// A discovery (the JSON output).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub(crate) struct Discovery {
    /// [`SCHEMA`].
    pub schema: String,
    /// When (RFC 3339).
    pub discovered_at: String,
    /// The cloud name (`--os-cloud`) or `env`.
    pub cloud: String,
    /// Keystone.
    pub keystone: KeystoneView,
    /// Policy applied to series.
    pub policy: PolicyView,
    /// Services.
    pub services: Vec<ServiceView>,
    /// Regions seen.
    pub regions: Vec<String>,
    /// Endpoints.
    pub endpoints: Vec<EndpointRecord>,
    /// Findings.
    pub findings: Vec<Finding>,
}

impl Discovery {
    /// Endpoints that could not be read, and a failed authentication.
    pub(crate) fn problems(&self) -> usize {
        usize::from(self.keystone.error.is_some())
            + self
                .endpoints
                .iter()
                .filter(|e| e.status != EndpointStatus::Ok)
                .count()
    }
}

/// A catalog endpoint to inspect.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// Official type (or catalog type).
    pub service_type: String,
    /// Catalog type.
    pub catalog_type: String,
    /// Whether the registry knows it.
    pub known_type: bool,
    /// Service name.
    pub service_name: String,
    /// Project.
    pub project: Option<String>,
    /// Region.
    pub region: String,
    /// Site.
    pub site: String,
    /// Interface.
    pub interface: String,
    /// URL.
    pub url: String,
    /// Endpoint id.
    pub endpoint_id: String,
    /// The token's project id, dropped from the URL with what follows it.
    pub project_id: Option<String>,
}

/// Turn the catalog into targets (and the service list).
pub(crate) fn targets(
    catalog: &[keystone::CatalogService],
    project_id: Option<&str>,
    data: &ApiData,
    opts: &Options,
) -> (Vec<Target>, Vec<ServiceView>) {
    let mut out = Vec::new();
    let mut services = Vec::new();
    for s in catalog {
        let official = data.service_type(&s.kind);
        let service_type = official.unwrap_or(&s.kind).to_owned();
        let mut n = 0;
        for e in &s.endpoints {
            if !opts.interfaces.is_empty() && !opts.interfaces.iter().any(|i| i == &e.interface) {
                continue;
            }
            n += 1;
            let region = e.region().to_owned();
            out.push(Target {
                service_type: service_type.clone(),
                catalog_type: s.kind.clone(),
                known_type: official.is_some(),
                service_name: s.name.clone(),
                project: data.project(&service_type).map(str::to_owned),
                site: opts
                    .sites
                    .get(&region)
                    .cloned()
                    .unwrap_or_else(|| region.clone()),
                region,
                interface: e.interface.clone(),
                url: e.url.clone(),
                endpoint_id: e.id.clone(),
                project_id: project_id.map(str::to_owned),
            });
        }
        services.push(ServiceView {
            service_type,
            catalog_type: s.kind.clone(),
            name: s.name.clone(),
            id: s.id.clone(),
            endpoints: n,
        });
    }
    out.sort_by(|a, b| {
        (&a.service_type, &a.region, &a.interface, &a.url).cmp(&(
            &b.service_type,
            &b.region,
            &b.interface,
            &b.url,
        ))
    });
    (out, services)
}

fn is_version_segment(s: &str) -> bool {
    let s = s.strip_prefix('v').or_else(|| s.strip_prefix('V'));
    s.is_some_and(|r| {
        !r.is_empty()
            && r.bytes().next().is_some_and(|c| c.is_ascii_digit())
            && r.bytes().all(|c| c.is_ascii_digit() || c == b'.')
    })
}

/// The documents to read for a catalog URL: (versioned root, root). Template segments
/// (`%(project_id)s`, `$(tenant_id)s`), the token's project id (Keystone substitutes it into
/// the catalog) and what follows them are dropped; the path up to the last version segment
/// (`/v2.1`, `/v3`) is the versioned root and its parent the root.
pub(crate) fn document_urls(
    url: &str,
    project_id: Option<&str>,
) -> Result<(Option<String>, String), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("catalog URL `{url}`: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!("catalog URL `{url}` is not http(s)"));
    }
    let mut segs: Vec<String> = Vec::new();
    for seg in parsed.path().split('/').filter(|s| !s.is_empty()) {
        let decoded = seg.replace("%25", "%").replace("%24", "$");
        if decoded.contains("%(") || decoded.contains("$(") || Some(seg) == project_id {
            break;
        }
        segs.push(seg.to_owned());
    }
    let base = |segs: &[String]| {
        let mut u = parsed.clone();
        u.set_query(None);
        u.set_fragment(None);
        u.set_path(&format!("/{}", segs.join("/")));
        let s = u.to_string();
        if segs.is_empty() {
            s
        } else {
            format!("{s}/")
        }
    };
    match segs.iter().rposition(|s| is_version_segment(s)) {
        Some(i) => Ok((Some(base(&segs[..=i])), base(&segs[..i]))),
        None => Ok((None, base(&segs))),
    }
}

/// GET one document: Ok((status, latency, parsed or why not)).
async fn get_doc(
    client: &reqwest::Client,
    url: &str,
    limits: Limits,
) -> Result<(u16, u64, Result<Document, String>), Failure> {
    let req = client.get(url).header("accept", "application/json");
    let a = http::send(req, url, limits).await?;
    let ms = u64::try_from(a.elapsed.as_millis()).unwrap_or(u64::MAX);
    // 300 Multiple Choices is how keystone, cinder and others answer the root.
    let doc = if (200..=300).contains(&a.status) {
        versions::parse(&a.body)
    } else {
        Err(format!("HTTP {}", a.status))
    };
    Ok((a.status, ms, doc))
}

/// Inspect one endpoint: read its documents and tell its versions and series.
pub(crate) async fn inspect(
    client: &reqwest::Client,
    t: &Target,
    data: &ApiData,
    limits: Limits,
) -> EndpointRecord {
    let mut r = EndpointRecord {
        service_type: t.service_type.clone(),
        catalog_type: t.catalog_type.clone(),
        known_type: t.known_type,
        service_name: t.service_name.clone(),
        project: t.project.clone(),
        region: t.region.clone(),
        site: t.site.clone(),
        interface: t.interface.clone(),
        url: t.url.clone(),
        endpoint_id: t.endpoint_id.clone(),
        status: EndpointStatus::Unreachable,
        http_status: None,
        latency_ms: None,
        documents: Vec::new(),
        versions: Vec::new(),
        version: None,
        min_microversion: None,
        max_microversion: None,
        max_version_id: None,
        series: None,
        errors: Vec::new(),
    };
    let (versioned, root) = match document_urls(&t.url, t.project_id.as_deref()) {
        Ok(x) => x,
        Err(m) => {
            r.errors.push(Failure {
                kind: FailKind::Other,
                message: m,
            });
            return r;
        }
    };
    let mut answered = false;
    let mut one: Option<ListedVersion> = None;
    let mut list: Vec<ListedVersion> = Vec::new();
    for url in versioned.iter().chain(std::iter::once(&root)) {
        r.documents.push(url.clone());
        match get_doc(client, url, limits).await {
            Err(f) => r.errors.push(f),
            Ok((status, ms, doc)) => {
                answered = true;
                if r.http_status.is_none() {
                    r.http_status = Some(status);
                    r.latency_ms = Some(ms);
                }
                match doc {
                    Ok(Document::One(v)) => one = Some(v),
                    Ok(Document::List(l)) => list = l,
                    Ok(Document::NoVersion) => {}
                    Err(m) => r.errors.push(Failure {
                        kind: if m.starts_with("HTTP ") {
                            FailKind::HttpStatus
                        } else {
                            FailKind::Garbage
                        },
                        message: format!("GET {url}: {m}"),
                    }),
                }
            }
        }
    }
    let wanted_id = versioned
        .as_deref()
        .and_then(|v| v.trim_end_matches('/').rsplit('/').next())
        .map(str::to_owned);
    let chosen = one.clone().or_else(|| {
        let by_id = wanted_id.as_ref().and_then(|w| {
            list.iter()
                .find(|v| v.id.eq_ignore_ascii_case(w) || v.id.starts_with(&format!("{w}.")))
        });
        by_id
            .or_else(|| {
                list.iter().find(|v| {
                    v.status.eq_ignore_ascii_case("current")
                        || v.status.eq_ignore_ascii_case("stable")
                })
            })
            .or_else(|| list.iter().max_by_key(|v| ApiVersion::parse(&v.id)))
            .cloned()
    });
    r.versions = if list.is_empty() {
        one.into_iter().collect()
    } else {
        list
    };
    let Some(v) = chosen else {
        if answered {
            r.status = EndpointStatus::NoVersionDocument;
        }
        return r;
    };
    r.status = EndpointStatus::Ok;
    r.version = Some(v.id.clone());
    r.min_microversion = v.min_microversion;
    r.max_microversion = v.max_microversion;
    let major = ApiVersion::parse(&v.id).map(|x| x.major);
    r.max_version_id = r
        .versions
        .iter()
        .chain(std::iter::once(&v))
        .filter_map(|x| ApiVersion::parse(&x.id))
        .filter(|x| Some(x.major) == major)
        .max();
    if let Some(p) = &t.project {
        r.series = Some(match (r.max_microversion, r.max_version_id) {
            (Some(m), _) if data.has_data(p, true) => data.implied_series(p, m, true),
            (_, Some(id)) if data.has_data(p, false) => data.implied_series(p, id, false),
            _ => SeriesEvidence {
                candidates: Vec::new(),
                series: None,
                basis: "no-data".into(),
                evidence: vec![format!(
                    "{p}'s version document ({}) does not move with releases: no series can be told from it",
                    v.id
                )],
            },
        });
    }
    r
}

/// Inspect every target, `opts.concurrency` at a time; records come back in target order.
pub(crate) async fn inspect_all(
    client: &reqwest::Client,
    targets: &[Target],
    data: &Arc<ApiData>,
    opts: &Options,
) -> Vec<EndpointRecord> {
    let sem = Arc::new(tokio::sync::Semaphore::new(opts.concurrency.max(1)));
    let mut set = tokio::task::JoinSet::new();
    for (i, t) in targets.iter().enumerate() {
        let (client, t, data, sem, limits) = (
            client.clone(),
            t.clone(),
            data.clone(),
            sem.clone(),
            opts.limits,
        );
        set.spawn(async move {
            let _permit = sem.acquire_owned().await;
            (i, inspect(&client, &t, &data, limits).await)
        });
    }
    let mut out: Vec<Option<EndpointRecord>> = vec![None; targets.len()];
    while let Some(j) = set.join_next().await {
        if let Ok((i, r)) = j {
            out[i] = Some(r);
        }
    }
    out.into_iter().flatten().collect()
}

/// The policy view: n and the series allowed.
pub(crate) fn policy_view(data: &ApiData, opts: &Options) -> PolicyView {
    let max_lag = opts.max_lag;
    let n = data.n();
    let allowed = n
        .map(|n| {
            data.series()
                .iter()
                .filter(|s| s.ordinal <= n.ordinal + 1 && s.ordinal + max_lag >= n.ordinal)
                .rev()
                .map(|s| s.name.clone())
                .collect()
        })
        .unwrap_or_default();
    PolicyView {
        name: opts
            .policy
            .as_ref()
            .filter(|_| !opts.max_lag_override)
            .map(|p| p.name.clone()),
        n: n.map(|s| s.name.clone()),
        max_lag,
        allowed,
    }
}

/// The policy's series rule for an endpoint: the first rule selecting the endpoint's project
/// as an OpenStack service (`kinds: [openstack]`, `deliverable_types: [service]`) at its site.
fn series_rule(opts: &Options, e: &EndpointRecord) -> Option<(String, crate::policy::SeriesRule)> {
    if opts.max_lag_override {
        return None;
    }
    let p = opts.policy.as_ref()?;
    let name = e.project.as_deref()?;
    let f = crate::policy::SubjectFacts {
        kind: Some(crate::policy::SubjectKind::Openstack),
        ecosystem: "openstack",
        name,
        deliverable_type: Some("service"),
        purl: None,
        node: "",
        site: Some(&e.site),
        cell: None,
        labels: None,
    };
    p.rule_for(&f, |r| r.series.as_ref())
        .map(|(r, s)| (r.name.clone(), s.clone()))
}

/// A finding about one endpoint.
fn finding(
    e: &EndpointRecord,
    code: FindingCode,
    severity: Severity,
    message: String,
    evidence: Vec<String>,
) -> Finding {
    Finding {
        code,
        severity,
        service_type: e.service_type.clone(),
        region: e.region.clone(),
        interface: e.interface.clone(),
        url: e.url.clone(),
        message,
        evidence,
    }
}

/// `series-behind-policy` when the endpoint's series lags the policy's n (ordinal `n`) by more
/// than its rule allows.
fn series_finding(
    data: &ApiData,
    opts: &Options,
    policy: &PolicyView,
    n: usize,
    e: &EndpointRecord,
) -> Option<Finding> {
    let ev = e.series.as_ref()?;
    let s = ev.series.as_deref().and_then(|s| data.series_named(s))?;
    let rule = series_rule(opts, e);
    let (max_lag, severity, rule_name) = match &rule {
        Some((name, r)) => (r.max_lag as usize, r.severity, Some(name.clone())),
        None => (policy.max_lag, crate::model::Severity::High, None),
    };
    // The newest SLURP older than n, when the rule accepts it.
    let slurp_ok = rule.as_ref().is_some_and(|(_, r)| r.allow_previous_slurp)
        && data
            .series()
            .iter()
            .rev()
            .find(|x| x.slurp && x.ordinal < n)
            .is_some_and(|x| x.ordinal == s.ordinal);
    if s.ordinal + max_lag >= n || slurp_ok {
        return None;
    }
    let mut evidence = ev.evidence.clone();
    evidence.push(match &rule_name {
        Some(r) => format!(
            "policy {} rule {r}: n = {}, max_lag {max_lag}",
            opts.policy.as_ref().map_or("", |p| p.name.as_str()),
            policy.n.as_deref().unwrap_or("?"),
        ),
        None => format!(
            "n = {}, max_lag {max_lag}",
            policy.n.as_deref().unwrap_or("?"),
        ),
    });
    Some(finding(
        e,
        FindingCode::SeriesBehindPolicy,
        match severity {
            crate::model::Severity::Critical | crate::model::Severity::High => Severity::High,
            crate::model::Severity::Medium => Severity::Warning,
            _ => Severity::Info,
        },
        format!(
            "{} {} ({}) serves {} {}: series {}, {} behind n",
            e.service_type,
            e.region,
            e.interface,
            e.version.as_deref().unwrap_or("?"),
            e.max_microversion
                .or(e.max_version_id)
                .map(|v| v.to_string())
                .unwrap_or_default(),
            s.name,
            n - s.ordinal
        ),
        evidence,
    ))
}

/// What changed since the previous discovery's record of the endpoint (`None`: it is new).
fn change_findings(e: &EndpointRecord, p: Option<&EndpointRecord>, out: &mut Vec<Finding>) {
    let Some(p) = p else {
        out.push(finding(
            e,
            FindingCode::NewEndpoint,
            Severity::Info,
            format!(
                "new in the catalog since the previous discovery: {} {} ({}) {}",
                e.service_type, e.region, e.interface, e.url
            ),
            Vec::new(),
        ));
        return;
    };
    if p.status == EndpointStatus::Ok && e.status == EndpointStatus::Unreachable {
        out.push(finding(
            e,
            FindingCode::EndpointStoppedAnswering,
            Severity::High,
            format!(
                "{} {} ({}) answered the previous discovery and does not now",
                e.service_type, e.region, e.interface
            ),
            e.errors.iter().map(|f| f.message.clone()).collect(),
        ));
    }
    let v = |r: &EndpointRecord| (r.max_microversion, r.max_version_id);
    if p.status == EndpointStatus::Ok && e.status == EndpointStatus::Ok && v(p) != v(e) {
        let show = |r: &EndpointRecord| {
            r.max_microversion
                .or(r.max_version_id)
                .map_or_else(|| "-".to_owned(), |x| x.to_string())
        };
        out.push(finding(
            e,
            FindingCode::VersionChanged,
            Severity::Info,
            format!(
                "{} {} ({}) changed from {} to {}: an upgrade or rollback happened",
                e.service_type,
                e.region,
                e.interface,
                show(p),
                show(e)
            ),
            Vec::new(),
        ));
    }
}

/// Findings of a discovery, against the previous one when there is one.
pub(crate) fn findings(
    data: &ApiData,
    opts: &Options,
    policy: &PolicyView,
    now: &[EndpointRecord],
    previous: Option<&Discovery>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let n_ordinal = policy
        .n
        .as_deref()
        .and_then(|n| data.series_named(n))
        .map(|s| s.ordinal);
    let prev: BTreeMap<_, &EndpointRecord> = previous
        .map(|p| p.endpoints.iter().map(|e| (e.key(), e)).collect())
        .unwrap_or_default();
    for e in now {
        if let Some(n) = n_ordinal {
            out.extend(series_finding(data, opts, policy, n, e));
        }
        if e.status == EndpointStatus::NoVersionDocument {
            out.push(finding(
                e,
                FindingCode::NoVersionDocument,
                Severity::Warning,
                format!(
                    "{} {} ({}) answers without a version document",
                    e.service_type, e.region, e.interface
                ),
                e.errors.iter().map(|f| f.message.clone()).collect(),
            ));
        }
        if previous.is_some() {
            change_findings(e, prev.get(&e.key()).copied(), &mut out);
        }
    }
    out
}

/// One whole discovery: authenticate, read the catalog, inspect, judge.
pub(crate) async fn discover(
    cfg: &cloud::CloudConfig,
    data: &Arc<ApiData>,
    opts: &Options,
    previous: Option<&Discovery>,
    now: String,
) -> anyhow::Result<(Discovery, Vec<Target>)> {
    let client = http::client(opts.limits, cfg.cacert.as_deref(), cfg.insecure)?;
    let policy = policy_view(data, opts);
    let mut d = Discovery {
        schema: SCHEMA.into(),
        discovered_at: now,
        cloud: cfg.name.clone(),
        keystone: KeystoneView {
            auth_url: cfg.auth_url.clone(),
            origin: cfg.origin.clone(),
            token_expires_at: None,
            error: None,
        },
        policy,
        services: Vec::new(),
        regions: Vec::new(),
        endpoints: Vec::new(),
        findings: Vec::new(),
    };
    // Credentials are never re-sent to wherever a redirect points: Keystone gets no redirects.
    let no_redirects = Limits {
        max_redirects: 0,
        ..opts.limits
    };
    let auth_client = http::client(no_redirects, cfg.cacert.as_deref(), cfg.insecure)?;
    let token = match keystone::authenticate(&auth_client, cfg, no_redirects).await {
        Ok(t) => t,
        Err(f) => {
            d.keystone.error = Some(f);
            return Ok((d, Vec::new()));
        }
    };
    d.keystone.token_expires_at = token.expires_at.clone();
    let (targets, services) = targets(&token.catalog, token.project_id.as_deref(), data, opts);
    d.services = services;
    d.regions = targets
        .iter()
        .map(|t| t.region.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    d.endpoints = inspect_all(&client, &targets, data, opts).await;
    d.findings = findings(data, opts, &d.policy, &d.endpoints, previous);
    d.findings.extend(fleet::new_services(&d, previous));
    Ok((d, targets))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> ApiData {
        let d = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
        ApiData::load(
            &d.join("openstack-api"),
            &d.join("openstack-releases/data/series_status.yaml"),
        )
        .unwrap()
    }

    /// nova's final code maximum of `series`, read from the TSV itself.
    fn nova_max(series: &str) -> ApiVersion {
        let d = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/data/openstack-api/max-per-series-code.tsv");
        let text = fs_err::read_to_string(d).unwrap();
        let row = text
            .lines()
            .map(|l| l.split('\t').collect::<Vec<_>>())
            .find(|f| f[0] == "nova" && f[1] == series)
            .unwrap();
        ApiVersion::parse(row[2]).unwrap()
    }

    fn record(data: &ApiData, max: ApiVersion, status: EndpointStatus) -> EndpointRecord {
        EndpointRecord {
            service_type: "compute".into(),
            catalog_type: "compute".into(),
            known_type: true,
            service_name: "nova".into(),
            project: Some("nova".into()),
            region: "RegionOne".into(),
            site: "par1".into(),
            interface: "public".into(),
            url: "http://nova/v2.1".into(),
            endpoint_id: "e".into(),
            status,
            http_status: Some(200),
            latency_ms: Some(1),
            documents: Vec::new(),
            versions: Vec::new(),
            version: Some("v2.1".into()),
            min_microversion: ApiVersion::parse("2.1"),
            max_microversion: Some(max),
            max_version_id: None,
            series: Some(data.implied_series("nova", max, true)),
            errors: Vec::new(),
        }
    }

    fn opts(policy: &str, max_lag: Option<usize>) -> Options {
        Options {
            limits: Limits::default(),
            concurrency: 1,
            interfaces: Vec::new(),
            sites: BTreeMap::new(),
            max_lag: max_lag.unwrap_or(1),
            policy: Some(Arc::new(crate::policy::load(policy).unwrap())),
            max_lag_override: max_lag.is_some(),
        }
    }

    fn codes(f: &[Finding]) -> Vec<FindingCode> {
        f.iter().map(|f| f.code).collect()
    }

    #[test]
    fn series_behind_policy_follows_the_policy_rules() {
        let data = data();
        let n = data.n().unwrap().ordinal;
        let name = |k: usize| data.series()[n - k].name.clone();
        // nova's maximum of n-1: allowed by openstack-n1, behind under strict (n only).
        let r = record(&data, nova_max(&name(1)), EndpointStatus::Ok);
        assert_eq!(
            r.series.as_ref().unwrap().series.as_deref(),
            Some(name(1).as_str())
        );
        let o = opts("openstack-n1", None);
        assert!(findings(
            &data,
            &o,
            &policy_view(&data, &o),
            std::slice::from_ref(&r),
            None
        )
        .is_empty());
        let o = opts("strict", None);
        let f = findings(
            &data,
            &o,
            &policy_view(&data, &o),
            std::slice::from_ref(&r),
            None,
        );
        assert_eq!(codes(&f), [FindingCode::SeriesBehindPolicy]);
        assert!(
            f[0].evidence.iter().any(|e| e.contains("policy strict")),
            "{f:?}"
        );
        // n-3 is behind n / n-1 whatever the policy says, with --max-lag 1.
        let old = record(&data, nova_max(&name(3)), EndpointStatus::Ok);
        let o = opts("strict", Some(1));
        assert_eq!(
            codes(&findings(&data, &o, &policy_view(&data, &o), &[old], None)),
            [FindingCode::SeriesBehindPolicy]
        );
    }

    #[test]
    fn findings_against_the_previous_discovery() {
        let data = data();
        let n = data.n().unwrap();
        let o = opts("openstack-n1", None);
        let pv = policy_view(&data, &o);
        let before = record(
            &data,
            nova_max(&data.series()[n.ordinal - 1].name),
            EndpointStatus::Ok,
        );
        let prev = Discovery {
            schema: SCHEMA.into(),
            discovered_at: String::new(),
            cloud: "c".into(),
            keystone: KeystoneView {
                auth_url: String::new(),
                origin: String::new(),
                token_expires_at: None,
                error: None,
            },
            policy: pv.clone(),
            services: Vec::new(),
            regions: Vec::new(),
            endpoints: vec![before.clone()],
            findings: Vec::new(),
        };
        // Upgraded to n: a version change, nothing else.
        let after = record(&data, nova_max(&n.name), EndpointStatus::Ok);
        assert_eq!(
            codes(&findings(&data, &o, &pv, &[after], Some(&prev))),
            [FindingCode::VersionChanged]
        );
        // Down now.
        let mut down = before.clone();
        down.status = EndpointStatus::Unreachable;
        down.series = None;
        assert_eq!(
            codes(&findings(&data, &o, &pv, &[down], Some(&prev))),
            [FindingCode::EndpointStoppedAnswering]
        );
        // Another region appeared.
        let mut other = before.clone();
        other.region = "RegionTwo".into();
        assert_eq!(
            codes(&findings(&data, &o, &pv, &[before, other], Some(&prev))),
            [FindingCode::NewEndpoint]
        );
    }

    #[test]
    fn document_urls_split_version_and_templates() {
        assert_eq!(
            document_urls("http://h:8776/v3/abc123/", Some("abc123")).unwrap(),
            (Some("http://h:8776/v3/".into()), "http://h:8776/".into())
        );
        assert_eq!(
            document_urls("http://h:8774/v2.1", None).unwrap(),
            (Some("http://h:8774/v2.1/".into()), "http://h:8774/".into())
        );
        assert_eq!(
            document_urls("https://h/volume/v3/%(project_id)s", None).unwrap(),
            (
                Some("https://h/volume/v3/".into()),
                "https://h/volume/".into()
            )
        );
        assert_eq!(
            document_urls("http://h:8778", None).unwrap(),
            (None, "http://h:8778/".into())
        );
        assert!(document_urls("file:///etc/passwd", None).is_err());
    }
}
