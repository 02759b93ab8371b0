//! Replication plans (scenario 1): the pinned bill of materials of a running site (every
//! service version with its release commit, every image tag with its digest, every OS package
//! version) as a deployable manifest for a new site with fewer nodes.
//!
//! The new site copies what *runs*, not "latest of the series": exact versions, commits and
//! digests, never series names (`shared/docs/openstack-domain.md` §4.4). By default it shares
//! the source site's keystone as a new region (kolla's documented multi-region topology).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use crate::model::{
    Action, BomImage, BomPackage, BomService, CatalogChanges, Ecosystem, KollaHint, Limit,
    LimitCode, Manifest, OsaHint, PackageManager, PackagePin, Phase, Plan, PlanInputs, PlanKind,
    Reason, Reversibility, RoleSpec, Scope, Step, Target, PLAN_SCHEMA_VERSION,
};

use super::deployer;
use super::fleet::{Deployer, NodeView};
use super::order;
use super::path::series_ref;
use super::upgrade::{new_step, site_deployer};
use super::{current_nodes, end_of_day, finish, ymd, Context, PlanError, PlanInput};
use crate::releases::openstack::Series;

/// How many hosts the new site gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Footprint {
    /// One host per role, two computes.
    #[default]
    Small,
    /// As many hosts per role as the source.
    Same,
}

impl Footprint {
    /// Name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Small => "small",
            Self::Same => "same",
        }
    }
}

impl fmt::Display for Footprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Footprint {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "small" => Ok(Self::Small),
            "same" => Ok(Self::Same),
            o => Err(format!("unknown footprint `{o}` (small, same)")),
        }
    }
}

/// Replication options.
#[derive(Debug, Clone, Default)]
pub struct ReplicateOptions {
    /// Source site.
    pub from: String,
    /// New site.
    pub to: String,
    /// Host counts.
    pub footprint: Footprint,
    /// Deploy a keystone in the new site instead of sharing the source's.
    pub own_keystone: bool,
    /// The control plane (a discovery) whose catalog the new site's entries are copied from.
    pub control_plane: Option<crate::model::controlplane::PlanControlPlane>,
}

/// Nodes running one unreleased build: (nodes, release it is based on, commits after it).
type DevBuild = (Vec<String>, Option<String>, Option<u64>);

/// The most common value (ties: the greatest), and whether values differ.
fn consensus<T: Ord + Clone>(values: &[T]) -> Option<(T, bool)> {
    let mut count: BTreeMap<&T, usize> = BTreeMap::new();
    for v in values {
        *count.entry(v).or_default() += 1;
    }
    let drift = count.len() > 1;
    count
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(b.0)))
        .map(|(v, _)| (v.clone(), drift))
}

/// What the plan collects on the way: warnings and limits.
#[derive(Default)]
struct Notes {
    warnings: Vec<String>,
    limits: Vec<Limit>,
}

/// The source site as the steps need it.
struct Source<'a> {
    opts: &'a ReplicateOptions,
    nodes: Vec<&'a NodeView>,
    /// Role → source nodes.
    roles: BTreeMap<String, Vec<&'a NodeView>>,
    /// Role → new host names.
    new_hosts: BTreeMap<String, Vec<String>>,
    deployer: Deployer,
    shared_keystone: bool,
}

/// The bill of materials, and the pins steps look up.
struct Bom {
    services: Vec<BomService>,
    /// Deliverable → (version, release commit, series).
    service_version: BTreeMap<String, (String, Option<String>, Option<String>)>,
    images: Vec<BomImage>,
    packages: Vec<BomPackage>,
    pkg_version: BTreeMap<(Ecosystem, String), String>,
}

/// Plan the replication of a site.
pub fn plan_replicate(
    input: &dyn PlanInput,
    ctx: &Context<'_>,
    opts: &ReplicateOptions,
) -> Result<Plan, PlanError> {
    let cat = ctx.catalog;
    let until = end_of_day(ctx.as_of);
    let all = current_nodes(input.inventories(), Some(&until), cat);
    let mut notes = Notes {
        warnings: check_sites(&all, opts)?,
        limits: Vec::new(),
    };
    notes
        .warnings
        .splice(0..0, input.problems().iter().map(|p| format!("input: {p}")));
    let nodes: Vec<&NodeView> = all.iter().filter(|n| n.site == opts.from).collect();
    let deployer = site_deployer(&nodes);
    let shared_keystone = !opts.own_keystone && nodes.iter().any(|n| n.get("keystone").is_some());
    let mut roles: BTreeMap<String, Vec<&NodeView>> = BTreeMap::new();
    for n in &nodes {
        roles.entry(n.role.clone()).or_default().push(n);
    }
    let (role_specs, new_hosts) = role_specs(opts, &roles, &mut notes.warnings);
    let src = Source {
        opts,
        nodes,
        roles,
        new_hosts,
        deployer,
        shared_keystone,
    };
    let (services, service_version) = bom_services(cat, &src, &mut notes);
    let images = bom_images(&src, &mut notes.warnings);
    let (packages, pkg_version) = bom_packages(&src, &mut notes.warnings);
    let bom = Bom {
        services,
        service_version,
        images,
        packages,
        pkg_version,
    };
    let series = source_series(cat, &src.nodes);
    let os = source_os(&src.nodes);
    let catalog = opts
        .control_plane
        .as_ref()
        .map(|cp| super::catalog::changes(cp, &opts.from, &opts.to, opts.own_keystone));

    let mut steps = vec![stage_step(cat, &src, &bom, series, os.as_deref())];
    steps.extend(package_steps(&src, &bom, series));
    if shared_keystone {
        steps.push(register_region_step(&src, catalog.as_ref()));
    }
    steps.extend(deploy_steps(&src, &bom));
    if let (false, Some(c)) = (shared_keystone, &catalog) {
        steps.push(catalog_step(&src, c));
    }
    steps.push(verify_step(&opts.to));

    let manifest = Manifest {
        source_site: opts.from.clone(),
        target_site: opts.to.clone(),
        footprint: opts.footprint.as_str().to_owned(),
        deployer: deployer.as_str().to_owned(),
        series: series.map(series_ref),
        os,
        roles: role_specs,
        services: bom.services,
        images: bom.images,
        packages: bom.packages,
        catalog,
    };
    let plan = Plan {
        schema_version: PLAN_SCHEMA_VERSION,
        id: String::new(),
        kind: PlanKind::Replicate,
        generated_at: ctx.generated_at.to_owned(),
        as_of: ymd(ctx.as_of),
        inputs: PlanInputs {
            inventories: input.inventories().len(),
            nodes: all.len(),
            releases: None,
            policy: None,
            control_plane: opts.control_plane.as_ref().map(|cp| {
                format!(
                    "cloud {}, discovered {}, from {}",
                    cp.cloud, cp.discovered_at, cp.source
                )
            }),
        },
        scope: Scope {
            site: Some(opts.from.clone()),
            nodes: src.nodes.iter().map(|n| n.id.clone()).collect(),
            ..Scope::default()
        },
        from_series: series.map(series_ref).into_iter().collect(),
        to_series: series.map(series_ref),
        paths: Vec::new(),
        steps,
        rollback: Vec::new(),
        limits: notes.limits,
        warnings: notes.warnings,
        manifest: Some(manifest),
    };
    Ok(finish(plan))
}

/// The source site exists and differs from the target; a target with inventories is a warning.
fn check_sites(all: &[NodeView], opts: &ReplicateOptions) -> Result<Vec<String>, PlanError> {
    if !all.iter().any(|n| n.site == opts.from) {
        let sites: BTreeSet<&str> = all.iter().map(|n| n.site.as_str()).collect();
        return Err(PlanError::UnknownSite {
            site: opts.from.clone(),
            sites: sites.into_iter().map(str::to_owned).collect(),
        });
    }
    if opts.to.is_empty() || opts.to == opts.from {
        return Err(PlanError::SameSite);
    }
    let mut warnings = Vec::new();
    if all.iter().any(|n| n.site == opts.to) {
        warnings.push(format!("site {} already has inventories: the plan describes a fresh deployment; reconcile with what runs there", opts.to));
    }
    Ok(warnings)
}

/// Host counts per role (footprint) and the new hosts' names.
fn role_specs(
    opts: &ReplicateOptions,
    roles: &BTreeMap<String, Vec<&NodeView>>,
    warnings: &mut Vec<String>,
) -> (Vec<RoleSpec>, BTreeMap<String, Vec<String>>) {
    let mut role_specs = Vec::new();
    let mut new_hosts: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (role, nodes) in roles {
        let count = match opts.footprint {
            Footprint::Same => nodes.len(),
            Footprint::Small if role.contains("compute") => nodes.len().min(2),
            Footprint::Small => 1,
        };
        let hosts: Vec<String> = (1..=count)
            .map(|i| format!("{}-{}-{:02}", opts.to, role, i))
            .collect();
        let comps: BTreeSet<&str> = nodes
            .iter()
            .flat_map(|n| n.installed.iter().map(|i| i.component))
            .collect();
        let mut comps: Vec<&str> = comps.into_iter().collect();
        comps.sort_by_key(|c| order::position(c));
        if opts.footprint == Footprint::Small && role.contains("control") && nodes.len() > 1 {
            warnings.push(format!("small footprint: {} {role} host(s) become 1: galera and RabbitMQ run as single-node clusters (no HA); use --footprint same to keep {}", nodes.len(), nodes.len()));
        }
        role_specs.push(RoleSpec {
            role: role.clone(),
            source_nodes: nodes.iter().map(|n| n.id.clone()).collect(),
            hosts: hosts.clone(),
            components: comps.iter().map(|c| (*c).to_owned()).collect(),
        });
        new_hosts.insert(role.clone(), hosts);
    }
    (role_specs, new_hosts)
}

/// Instances of one service (deliverable, package) across the source nodes.
type Instances<'a> = Vec<(&'a NodeView, &'a super::fleet::Installed)>;

/// The OpenStack services: the most common version of each, its release commit; unreleased
/// builds are limits.
#[allow(clippy::type_complexity)] // (services, deliverable → (version, commit, series))
fn bom_services(
    cat: &crate::releases::openstack::OpenStackCatalog,
    src: &Source<'_>,
    notes: &mut Notes,
) -> (
    Vec<BomService>,
    BTreeMap<String, (String, Option<String>, Option<String>)>,
) {
    let mut by_service: BTreeMap<(String, String), Instances<'_>> = BTreeMap::new();
    for n in &src.nodes {
        for i in n
            .installed
            .iter()
            .filter(|i| i.deliverable.is_some() && i.package.is_some())
        {
            by_service
                .entry((
                    i.deliverable.clone().unwrap_or_default(),
                    i.package.clone().unwrap_or_default(),
                ))
                .or_default()
                .push((n, i));
        }
    }
    let mut services = Vec::new();
    let mut service_version = BTreeMap::new();
    for ((d, pkg), list) in &by_service {
        let versions: Vec<String> = list.iter().map(|(_, i)| i.version.clone()).collect();
        let Some((v, drift)) = consensus(&versions) else {
            continue;
        };
        if drift {
            let distinct: BTreeSet<&String> = versions.iter().collect();
            notes.warnings.push(format!(
                "{}: {d} runs several versions ({}): the manifest pins the most common, {v}",
                src.opts.from,
                distinct.into_iter().cloned().collect::<Vec<_>>().join(", ")
            ));
        }
        let i = list
            .iter()
            .map(|(_, i)| *i)
            .find(|i| i.version == v)
            .unwrap_or(list[0].1);
        let commit = if i.exact {
            i.series
                .as_deref()
                .and_then(|s| deployer::release_commit(cat, d, s, &v))
        } else {
            None
        };
        dev_build_limits(d, list, notes);
        let roles: BTreeSet<String> = list.iter().map(|(n, _)| n.role.clone()).collect();
        service_version.insert(d.clone(), (v.clone(), commit.clone(), i.series.clone()));
        services.push(BomService {
            deliverable: d.clone(),
            package: pkg.clone(),
            version: v,
            series: i.series.clone(),
            commit,
            install: i.install.to_string(),
            roles: roles.into_iter().collect(),
        });
    }
    (services, service_version)
}

/// A limit (and warning) per unreleased build of a service: openstack/releases has no commit.
fn dev_build_limits(d: &str, list: &Instances<'_>, notes: &mut Notes) {
    // version → (nodes, based on, commits after)
    let mut odd: BTreeMap<String, DevBuild> = BTreeMap::new();
    for (n, x) in list.iter().filter(|(_, x)| !x.exact) {
        let e = odd
            .entry(x.version.clone())
            .or_insert_with(|| (Vec::new(), x.based_on.clone(), x.commits_after));
        e.0.push(n.id.clone());
    }
    for (ov, (nodes, based_on, commits)) in odd {
        let msg = match (based_on, commits) {
            (Some(b), Some(c)) => format!("{d} {ov} on {} is an unreleased build ({b} + {c} commits): openstack/releases has no commit for it; pin it by image digest (kolla) or build it from the exact commit the source site used", nodes.join(", ")),
            _ => format!("{d} {ov} on {} matches no release: pin it by image digest or package version", nodes.join(", ")),
        };
        notes.limits.push(Limit {
            code: LimitCode::UnreleasedBuild,
            message: msg.clone(),
            steps: Vec::new(),
            nodes,
        });
        notes.warnings.push(msg);
    }
}

/// Container images: the most common tag and digest of each repository.
fn bom_images(src: &Source<'_>, warnings: &mut Vec<String>) -> Vec<BomImage> {
    let mut by_image: BTreeMap<String, Vec<(&NodeView, &super::fleet::ImageInfo)>> =
        BTreeMap::new();
    for n in &src.nodes {
        for i in &n.images {
            by_image
                .entry(i.repository.clone())
                .or_default()
                .push((n, i));
        }
    }
    let mut images = Vec::new();
    for (repo, list) in &by_image {
        let pins: Vec<(String, Option<String>)> = list
            .iter()
            .map(|(_, i)| (i.tag.clone(), i.digest.clone()))
            .collect();
        let Some(((tag, digest), drift)) = consensus(&pins) else {
            continue;
        };
        if drift {
            warnings.push(format!("{}: image {repo} differs between hosts: the manifest pins the most common ({tag} {})", src.opts.from, digest.as_deref().unwrap_or("without digest")));
        }
        if digest.is_none() {
            warnings.push(format!("{}: image {repo}:{tag} has no digest in the inventory: kolla tags name a series, not a build; the new site may pull a newer build", src.opts.from));
        }
        let roles: BTreeSet<String> = list.iter().map(|(n, _)| n.role.clone()).collect();
        images.push(BomImage {
            name: list[0].1.name.clone(),
            repository: repo.clone(),
            tag,
            digest,
            roles: roles.into_iter().collect(),
        });
    }
    images
}

/// OS packages: the most common version of each.
fn bom_packages(
    src: &Source<'_>,
    warnings: &mut Vec<String>,
) -> (Vec<BomPackage>, BTreeMap<(Ecosystem, String), String>) {
    let mut by_pkg: BTreeMap<(Ecosystem, String), Vec<(&NodeView, String)>> = BTreeMap::new();
    for n in &src.nodes {
        for (e, name, v) in &n.packages {
            by_pkg
                .entry((*e, name.clone()))
                .or_default()
                .push((n, v.clone()));
        }
    }
    let mut packages = Vec::new();
    let mut pkg_version = BTreeMap::new();
    for ((e, name), list) in &by_pkg {
        let vs: Vec<String> = list.iter().map(|(_, v)| v.clone()).collect();
        let Some((v, drift)) = consensus(&vs) else {
            continue;
        };
        if drift {
            warnings.push(format!(
                "{}: package {name} differs between hosts: the manifest pins the most common, {v}",
                src.opts.from
            ));
        }
        let roles: BTreeSet<String> = list.iter().map(|(n, _)| n.role.clone()).collect();
        pkg_version.insert((*e, name.clone()), v.clone());
        packages.push(BomPackage {
            ecosystem: *e,
            name: name.clone(),
            version: v,
            roles: roles.into_iter().collect(),
        });
    }
    (packages, pkg_version)
}

/// The series the source runs: its oldest control plane (else data plane).
fn source_series<'c>(
    cat: &'c crate::releases::openstack::OpenStackCatalog,
    nodes: &[&NodeView],
) -> Option<&'c Series> {
    nodes
        .iter()
        .filter_map(|n| {
            n.min_ordinal(Phase::ControlPlane)
                .or_else(|| n.min_ordinal(Phase::DataPlane))
        })
        .min()
        .and_then(|o| cat.series().iter().find(|s| s.ordinal == o))
}

/// The source hosts' operating system (`ubuntu 22.04 jammy`).
fn source_os(nodes: &[&NodeView]) -> Option<String> {
    nodes.iter().find_map(|n| n.os.as_ref()).map(|o| {
        format!(
            "{} {} {}",
            o.id,
            o.version_id.clone().unwrap_or_default(),
            o.codename.clone().unwrap_or_default()
        )
        .trim()
        .to_owned()
    })
}

/// Prepare the new hosts: the deployer's bootstrap, and the common images' pins.
fn stage_step(
    cat: &crate::releases::openstack::OpenStackCatalog,
    src: &Source<'_>,
    bom: &Bom,
    series: Option<&Series>,
    os: Option<&str>,
) -> Step {
    let site = &src.opts.to;
    let all_new: Vec<String> = src.new_hosts.values().flatten().cloned().collect();
    let mut st = new_step(
        format!("stage-{site}"),
        site,
        None,
        Phase::Prepare,
        Action::StageCode,
        None,
        format!("Prepare {} new host(s) for {site}", all_new.len()),
        Reversibility::CodeOnly,
    );
    st.reason = Reason { text: "the new site gets exactly what runs in the source, pinned by version, commit and digest".into(), edges: Vec::new() };
    st.targets = all_new
        .iter()
        .map(|h| Target {
            node: Some(h.clone()),
            ..Target::default()
        })
        .collect();
    if let Some(o) = os {
        st.preconditions
            .push(format!("hosts installed with the source's OS ({o})"));
    }
    match src.deployer {
        Deployer::Kolla => {
            let mut k = KollaHint::default();
            if let Some(s) = series {
                k.globals
                    .insert("openstack_release".into(), s.id().to_owned());
            }
            k.globals
                .insert("openstack_region_name".into(), site.clone());
            if let Some(s) = series {
                if let Some(r) = cat.latest_in_series("kolla-ansible", &s.name) {
                    k.commands.push(format!("python3 -m pip install 'kolla-ansible=={}'   # or the exact kolla-ansible the source site runs", r.version));
                }
            }
            k.commands
                .push("kolla-ansible bootstrap-servers -i INVENTORY".into());
            k.commands.push("kolla-ansible pull -i INVENTORY".into());
            k.commands
                .push("kolla-ansible prechecks -i INVENTORY".into());
            common_image_pins(&mut k, src, bom);
            st.hints.kolla = Some(k);
        }
        Deployer::Osa => {
            let mut o = OsaHint::default();
            if let Some(s) = series {
                if let Some(r) = cat.latest_in_series("openstack-ansible", &s.name) {
                    o.commands.push(format!("git -C /opt/openstack-ansible checkout {}   # or the exact OpenStack-Ansible tag the source site runs", r.version));
                }
            }
            o.commands
                .push("cd /opt/openstack-ansible && scripts/bootstrap-ansible.sh".into());
            o.commands
                .push("openstack-ansible openstack.osa.setup_hosts".into());
            st.hints.osa = Some(o);
        }
        _ => {}
    }
    st
}

/// Images of no component (kolla's common images: cron, fluentd, kolla-toolbox) are pinned per
/// host with the stage step.
fn common_image_pins(k: &mut KollaHint, src: &Source<'_>, bom: &Bom) {
    for (role, nodes) in &src.roles {
        for n in nodes {
            let used: BTreeSet<&str> = n
                .installed
                .iter()
                .flat_map(|i| i.images.iter().map(|x| x.repository.as_str()))
                .collect();
            for img in n
                .images
                .iter()
                .filter(|i| !used.contains(i.repository.as_str()))
            {
                let Some(pin) = bom.images.iter().find(|b| b.repository == img.repository) else {
                    continue;
                };
                for h in &src.new_hosts[role] {
                    let vars = k.host_vars.entry(h.clone()).or_default();
                    vars.insert(format!("{}_tag", img.var_stem()), pin.tag.clone());
                    if let Some(d) = &pin.digest {
                        vars.insert(
                            format!("{}_image_full", img.var_stem()),
                            format!("{}@{d}", pin.repository),
                        );
                    }
                }
            }
        }
    }
}

/// OS packages per role, installed and held at the source's versions.
fn package_steps(src: &Source<'_>, bom: &Bom, series: Option<&Series>) -> Vec<Step> {
    let site = &src.opts.to;
    let mut steps = Vec::new();
    for (role, hosts) in &src.new_hosts {
        let nodes = &src.roles[role];
        let Some(mgr) = nodes.iter().find_map(|n| deployer::manager_of(n)) else {
            continue;
        };
        let eco = if mgr == PackageManager::Apt {
            Ecosystem::Deb
        } else {
            Ecosystem::Rpm
        };
        let names: BTreeSet<&String> = nodes
            .iter()
            .flat_map(|n| n.packages.iter().filter(|p| p.0 == eco).map(|p| &p.1))
            .collect();
        if names.is_empty() {
            continue;
        }
        let mut s = new_step(
            format!("pin-packages-{role}-{site}"),
            site,
            None,
            Phase::Deploy,
            Action::Deploy,
            None,
            format!("Install and hold the OS packages of role {role} at the source's versions"),
            Reversibility::CodeOnly,
        );
        s.reason = Reason { text: format!("bill of materials: every OS package of the {} {role} host(s), at the most common version", src.opts.from), edges: Vec::new() };
        for name in names {
            if let Some(v) = bom.pkg_version.get(&(eco, name.clone())) {
                s.hints.packages.push(PackagePin {
                    hosts: hosts.clone(),
                    manager: mgr,
                    name: name.clone(),
                    version: v.clone(),
                    exact: true,
                    hold: true,
                    repo: None,
                });
            }
        }
        if src.deployer == Deployer::Distro {
            if let Some(r) =
                series.and_then(|sr| nodes.iter().find_map(|n| deployer::distro_repo(n, sr)))
            {
                for p in &mut s.hints.packages {
                    p.repo = Some(r.clone());
                }
            }
        }
        steps.push(s);
    }
    steps
}

/// Register the new region in the source's keystone (shared keystone): with a discovered
/// catalog, the exact `openstack … create` commands.
fn register_region_step(src: &Source<'_>, catalog: Option<&CatalogChanges>) -> Step {
    let site = &src.opts.to;
    let mut r = new_step(
        format!("register-region-{site}"),
        site,
        None,
        Phase::Deploy,
        Action::RegisterRegion,
        Some("keystone"),
        format!(
            "Register region {site} in the keystone of {}",
            src.opts.from
        ),
        Reversibility::CodeOnly,
    );
    r.reason = Reason { text: "multi-region with a shared keystone (and horizon) is kolla's documented topology (KA-MR); the new site runs its own control plane for everything else".into(), edges: Vec::new() };
    r.hints.commands = match catalog {
        Some(c) => super::catalog::commands(c),
        None => vec![format!("openstack region create {site}"), format!("endpoints of every service of {site} are registered in the shared keystone with --region {site}")],
    };
    if src.deployer == Deployer::Kolla {
        r.hints.kolla = Some(KollaHint {
            globals: BTreeMap::from([("enable_keystone".to_owned(), "no".to_owned()), ("enable_horizon".to_owned(), "no".to_owned())]),
            commands: vec![format!("# in {site}'s globals.yml: keystone_internal_url / keystone_public_url point to {}'s keystone; multiple_regions_names lists both regions in {}'s globals", src.opts.from, src.opts.from)],
            ..KollaHint::default()
        });
    }
    r
}

/// The new site's own keystone gets the catalog entries once it is deployed.
fn catalog_step(src: &Source<'_>, catalog: &CatalogChanges) -> Step {
    let site = &src.opts.to;
    let mut r = new_step(
        format!("catalog-{site}"),
        site,
        None,
        Phase::Deploy,
        Action::RegisterRegion,
        Some("keystone"),
        format!("Create the catalog entries of {site} in its keystone"),
        Reversibility::CodeOnly,
    );
    r.reason = Reason {
        text: format!(
            "the services, regions and endpoints of {} (discovered), for {site}'s own keystone",
            src.opts.from
        ),
        edges: Vec::new(),
    };
    r.hints.commands = super::catalog::commands(catalog);
    r
}

/// Deploy each component present in the source, in upgrade order.
fn deploy_steps(src: &Source<'_>, bom: &Bom) -> Vec<Step> {
    let present: BTreeSet<&str> = src
        .nodes
        .iter()
        .flat_map(|n| n.installed.iter().map(|i| i.component))
        .collect();
    let present_set: BTreeSet<&str> = present
        .iter()
        .copied()
        .filter(|c| !(src.shared_keystone && matches!(*c, "keystone" | "horizon")))
        .collect();
    let mut steps = Vec::new();
    for comp_id in order::upgrade_order()
        .iter()
        .filter(|c| present.contains(**c))
    {
        let Some(comp) = order::component(comp_id) else {
            continue;
        };
        if src.shared_keystone && matches!(*comp_id, "keystone" | "horizon") {
            continue;
        }
        let hosts: Vec<String> = src
            .roles
            .iter()
            .filter(|(_, ns)| ns.iter().any(|n| n.get(comp_id).is_some()))
            .flat_map(|(r, _)| src.new_hosts[r].clone())
            .collect();
        if hosts.is_empty() {
            continue;
        }
        steps.push(deploy_step(src, bom, comp, &hosts, &present_set));
    }
    steps
}

/// Deploy one component on the new hosts, pinned like the source.
fn deploy_step(
    src: &Source<'_>,
    bom: &Bom,
    comp: &order::Component,
    hosts: &[String],
    present: &BTreeSet<&str>,
) -> Step {
    let (site, comp_id) = (&src.opts.to, comp.id);
    let mut s = new_step(
        format!("deploy-{comp_id}-{site}"),
        site,
        None,
        Phase::Deploy,
        Action::Deploy,
        Some(comp_id),
        format!("Deploy {comp_id} on {}", hosts.join(", ")),
        Reversibility::CodeOnly,
    );
    s.reason = Reason {
        text: "deployed in upgrade order, so every service finds what it depends on".into(),
        edges: order::edges_into(comp_id, present)
            .into_iter()
            .map(order::Edge::to_ref)
            .collect(),
    };
    // Source instance: version and images.
    let first = src.nodes.iter().find_map(|n| n.get(comp_id));
    let version = comp
        .deliverable
        .and_then(|d| bom.service_version.get(d))
        .map(|v| v.0.clone())
        .or_else(|| first.map(|i| i.version.clone()));
    let mut k = KollaHint {
        tags: vec![comp.kolla_tag.to_owned()],
        ..KollaHint::default()
    };
    for h in hosts {
        s.targets.push(Target {
            node: Some(h.clone()),
            component: Some(comp_id.to_owned()),
            service: comp.deliverable.map(str::to_owned),
            to: version.clone(),
            ..Target::default()
        });
        for img in first.iter().flat_map(|i| i.images.iter()) {
            let pin = bom.images.iter().find(|b| b.repository == img.repository);
            let (tag, digest) = pin.map_or((img.tag.clone(), img.digest.clone()), |b| {
                (b.tag.clone(), b.digest.clone())
            });
            s.targets.push(Target {
                node: Some(h.clone()),
                component: Some(comp_id.to_owned()),
                image: Some(img.repository.clone()),
                to: Some(digest.clone().map_or(tag.clone(), |d| format!("{tag}@{d}"))),
                ..Target::default()
            });
            let vars = k.host_vars.entry(h.clone()).or_default();
            vars.insert(format!("{}_tag", img.var_stem()), tag.clone());
            if let Some(d) = digest {
                vars.insert(
                    format!("{}_image_full", img.var_stem()),
                    format!("{}@{d}", img.repository),
                );
            }
        }
    }
    match src.deployer {
        Deployer::Kolla if !comp.kolla_tag.is_empty() => {
            k.commands.push(format!(
                "kolla-ansible deploy -i INVENTORY --tags {}",
                comp.kolla_tag
            ));
            s.hints.kolla = Some(k);
        }
        Deployer::Osa if !comp.osa_playbook.is_empty() => {
            let mut o = OsaHint::default();
            if let Some(d) = comp.deliverable {
                if let Some((v, Some(c), _)) = bom.service_version.get(d) {
                    o.vars.insert(
                        format!("{}_git_install_branch", d.replace('-', "_")),
                        c.clone(),
                    );
                    s.post_steps.push(format!(
                        "verify: /openstack/venvs/{d}-*/bin/pip3 freeze shows {d}=={v}"
                    ));
                }
            }
            o.commands
                .push(format!("openstack-ansible {}", comp.osa_playbook));
            s.hints.osa = Some(o);
        }
        _ => {}
    }
    s
}

/// Check the new site against the manifest.
fn verify_step(site: &str) -> Step {
    let mut v = new_step(
        format!("verify-{site}"),
        site,
        None,
        Phase::Verify,
        Action::Verify,
        None,
        format!("Verify {site} matches the bill of materials"),
        Reversibility::CodeOnly,
    );
    v.hints.commands = vec![format!("nminus collect on every {site} host, then compare: nminus plan replicate --from {site} --to x should list the same versions as this manifest")];
    v
}

#[cfg(test)]
mod tests;
