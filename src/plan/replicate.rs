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
    Action, BomImage, BomPackage, BomService, Ecosystem, KollaHint, Limit, LimitCode, Manifest,
    OsaHint, PackageManager, PackagePin, Phase, Plan, PlanInputs, PlanKind, Reason, Reversibility,
    RoleSpec, Scope, Step, Target, PLAN_SCHEMA_VERSION,
};

use super::deployer;
use super::fleet::{Deployer, NodeView};
use super::order;
use super::path::series_ref;
use super::upgrade::{new_step, site_deployer};
use super::{current_nodes, end_of_day, finish, ymd, Context, PlanError, PlanInput};

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

/// Plan the replication of a site.
pub fn plan_replicate(
    input: &dyn PlanInput,
    ctx: &Context<'_>,
    opts: &ReplicateOptions,
) -> Result<Plan, PlanError> {
    let cat = ctx.catalog;
    let until = end_of_day(ctx.as_of);
    let all = current_nodes(input.inventories(), Some(&until), cat);
    let source: Vec<&NodeView> = all.iter().filter(|n| n.site == opts.from).collect();
    if source.is_empty() {
        let sites: BTreeSet<&str> = all.iter().map(|n| n.site.as_str()).collect();
        return Err(PlanError::UnknownSite {
            site: opts.from.clone(),
            sites: sites.into_iter().map(str::to_owned).collect(),
        });
    }
    if opts.to.is_empty() || opts.to == opts.from {
        return Err(PlanError::SameSite);
    }
    let mut warnings: Vec<String> = input
        .problems()
        .iter()
        .map(|p| format!("input: {p}"))
        .collect();
    if all.iter().any(|n| n.site == opts.to) {
        warnings.push(format!("site {} already has inventories: the plan describes a fresh deployment; reconcile with what runs there", opts.to));
    }
    let mut limits = Vec::new();
    let deployer = site_deployer(&source);
    let shared_keystone = !opts.own_keystone && source.iter().any(|n| n.get("keystone").is_some());

    // Roles and new hosts.
    let mut roles: BTreeMap<String, Vec<&NodeView>> = BTreeMap::new();
    for n in &source {
        roles.entry(n.role.clone()).or_default().push(n);
    }
    let mut role_specs = Vec::new();
    let mut new_hosts: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (role, nodes) in &roles {
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

    // Bill of materials.
    let mut services: Vec<BomService> = Vec::new();
    let mut by_service: BTreeMap<(String, String), Vec<(&NodeView, &super::fleet::Installed)>> =
        BTreeMap::new();
    for n in &source {
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
    let mut service_version: BTreeMap<String, (String, Option<String>, Option<String>)> =
        BTreeMap::new();
    for ((d, pkg), list) in &by_service {
        let versions: Vec<String> = list.iter().map(|(_, i)| i.version.clone()).collect();
        let Some((v, drift)) = consensus(&versions) else {
            continue;
        };
        if drift {
            let distinct: BTreeSet<&String> = versions.iter().collect();
            warnings.push(format!(
                "{}: {d} runs several versions ({}): the manifest pins the most common, {v}",
                opts.from,
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
            limits.push(Limit {
                code: LimitCode::UnreleasedBuild,
                message: msg.clone(),
                steps: Vec::new(),
                nodes,
            });
            warnings.push(msg);
        }
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
    let mut images: Vec<BomImage> = Vec::new();
    let mut by_image: BTreeMap<String, Vec<(&NodeView, &super::fleet::ImageInfo)>> =
        BTreeMap::new();
    for n in &source {
        for i in &n.images {
            by_image
                .entry(i.repository.clone())
                .or_default()
                .push((n, i));
        }
    }
    for (repo, list) in &by_image {
        let pins: Vec<(String, Option<String>)> = list
            .iter()
            .map(|(_, i)| (i.tag.clone(), i.digest.clone()))
            .collect();
        let Some(((tag, digest), drift)) = consensus(&pins) else {
            continue;
        };
        if drift {
            warnings.push(format!("{}: image {repo} differs between hosts: the manifest pins the most common ({tag} {})", opts.from, digest.as_deref().unwrap_or("without digest")));
        }
        if digest.is_none() {
            warnings.push(format!("{}: image {repo}:{tag} has no digest in the inventory: kolla tags name a series, not a build; the new site may pull a newer build", opts.from));
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
    let mut packages: Vec<BomPackage> = Vec::new();
    let mut by_pkg: BTreeMap<(Ecosystem, String), Vec<(&NodeView, String)>> = BTreeMap::new();
    for n in &source {
        for (e, name, v) in &n.packages {
            by_pkg
                .entry((*e, name.clone()))
                .or_default()
                .push((n, v.clone()));
        }
    }
    let mut pkg_version: BTreeMap<(Ecosystem, String), String> = BTreeMap::new();
    for ((e, name), list) in &by_pkg {
        let vs: Vec<String> = list.iter().map(|(_, v)| v.clone()).collect();
        let Some((v, drift)) = consensus(&vs) else {
            continue;
        };
        if drift {
            warnings.push(format!(
                "{}: package {name} differs between hosts: the manifest pins the most common, {v}",
                opts.from
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
    let series = source
        .iter()
        .filter_map(|n| {
            n.min_ordinal(Phase::ControlPlane)
                .or_else(|| n.min_ordinal(Phase::DataPlane))
        })
        .min()
        .and_then(|o| cat.series().iter().find(|s| s.ordinal == o));
    let os = source.iter().find_map(|n| n.os.as_ref()).map(|o| {
        format!(
            "{} {} {}",
            o.id,
            o.version_id.clone().unwrap_or_default(),
            o.codename.clone().unwrap_or_default()
        )
        .trim()
        .to_owned()
    });

    // Steps.
    let site = opts.to.clone();
    let mut steps: Vec<Step> = Vec::new();
    let all_new: Vec<String> = new_hosts.values().flatten().cloned().collect();
    let mut st = new_step(
        format!("stage-{site}"),
        &site,
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
    if let Some(o) = &os {
        st.preconditions
            .push(format!("hosts installed with the source's OS ({o})"));
    }
    match deployer {
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
    // Images of no component (kolla's common images: cron, fluentd, kolla-toolbox) are pinned
    // per host with the stage step.
    if let Some(k) = st.hints.kolla.as_mut() {
        for (role, nodes) in &roles {
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
                    let Some(pin) = images.iter().find(|b| b.repository == img.repository) else {
                        continue;
                    };
                    for h in &new_hosts[role] {
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
    steps.push(st);
    // OS packages per role.
    for (role, hosts) in &new_hosts {
        let nodes = &roles[role];
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
            &site,
            None,
            Phase::Deploy,
            Action::Deploy,
            None,
            format!("Install and hold the OS packages of role {role} at the source's versions"),
            Reversibility::CodeOnly,
        );
        s.reason = Reason { text: format!("bill of materials: every OS package of the {} {role} host(s), at the most common version", opts.from), edges: Vec::new() };
        for name in names {
            if let Some(v) = pkg_version.get(&(eco, name.clone())) {
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
        if deployer == Deployer::Distro {
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
    if shared_keystone {
        let mut r = new_step(
            format!("register-region-{site}"),
            &site,
            None,
            Phase::Deploy,
            Action::RegisterRegion,
            Some("keystone"),
            format!("Register region {site} in the keystone of {}", opts.from),
            Reversibility::CodeOnly,
        );
        r.reason = Reason { text: "multi-region with a shared keystone (and horizon) is kolla's documented topology (KA-MR); the new site runs its own control plane for everything else".into(), edges: Vec::new() };
        r.hints.commands = vec![format!("openstack region create {site}"), format!("endpoints of every service of {site} are registered in the shared keystone with --region {site}")];
        if deployer == Deployer::Kolla {
            r.hints.kolla = Some(KollaHint {
                globals: BTreeMap::from([("enable_keystone".to_owned(), "no".to_owned()), ("enable_horizon".to_owned(), "no".to_owned())]),
                commands: vec![format!("# in {site}'s globals.yml: keystone_internal_url / keystone_public_url point to {}'s keystone; multiple_regions_names lists both regions in {}'s globals", opts.from, opts.from)],
                ..KollaHint::default()
            });
        }
        steps.push(r);
    }
    let present: BTreeSet<&str> = source
        .iter()
        .flat_map(|n| n.installed.iter().map(|i| i.component))
        .collect();
    for comp_id in order::upgrade_order()
        .iter()
        .filter(|c| present.contains(**c))
    {
        let Some(comp) = order::component(comp_id) else {
            continue;
        };
        if shared_keystone && matches!(*comp_id, "keystone" | "horizon") {
            continue;
        }
        let comp_roles: Vec<&String> = roles
            .iter()
            .filter(|(_, ns)| ns.iter().any(|n| n.get(comp_id).is_some()))
            .map(|(r, _)| r)
            .collect();
        let hosts: Vec<String> = comp_roles
            .iter()
            .flat_map(|r| new_hosts[*r].clone())
            .collect();
        if hosts.is_empty() {
            continue;
        }
        let mut s = new_step(
            format!("deploy-{comp_id}-{site}"),
            &site,
            None,
            Phase::Deploy,
            Action::Deploy,
            Some(comp_id),
            format!("Deploy {comp_id} on {}", hosts.join(", ")),
            Reversibility::CodeOnly,
        );
        let present_set: BTreeSet<&str> = present
            .iter()
            .copied()
            .filter(|c| !(shared_keystone && matches!(*c, "keystone" | "horizon")))
            .collect();
        s.reason = Reason {
            text: "deployed in upgrade order, so every service finds what it depends on".into(),
            edges: order::edges_into(comp_id, &present_set)
                .into_iter()
                .map(order::Edge::to_ref)
                .collect(),
        };
        // Source instance: version and images.
        let src = source
            .iter()
            .filter_map(|n| n.get(comp_id).map(|i| (n, i)))
            .collect::<Vec<_>>();
        let version = comp
            .deliverable
            .and_then(|d| service_version.get(d))
            .map(|v| v.0.clone())
            .or_else(|| src.first().map(|(_, i)| i.version.clone()));
        let mut k = KollaHint {
            tags: vec![comp.kolla_tag.to_owned()],
            ..KollaHint::default()
        };
        for h in &hosts {
            s.targets.push(Target {
                node: Some(h.clone()),
                component: Some((*comp_id).to_owned()),
                service: comp.deliverable.map(str::to_owned),
                to: version.clone(),
                ..Target::default()
            });
            if let Some((_, i)) = src.first() {
                for img in &i.images {
                    let pin = images.iter().find(|b| b.repository == img.repository);
                    let (tag, digest) = pin.map_or((img.tag.clone(), img.digest.clone()), |b| {
                        (b.tag.clone(), b.digest.clone())
                    });
                    s.targets.push(Target {
                        node: Some(h.clone()),
                        component: Some((*comp_id).to_owned()),
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
        }
        match deployer {
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
                    if let Some((v, Some(c), _)) = service_version.get(d) {
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
        steps.push(s);
    }
    let mut v = new_step(
        format!("verify-{site}"),
        &site,
        None,
        Phase::Verify,
        Action::Verify,
        None,
        format!("Verify {site} matches the bill of materials"),
        Reversibility::CodeOnly,
    );
    v.hints.commands = vec![format!("nminus collect on every {site} host, then compare: nminus plan replicate --from {site} --to x should list the same versions as this manifest")];
    steps.push(v);

    let manifest = Manifest {
        source_site: opts.from.clone(),
        target_site: opts.to.clone(),
        footprint: opts.footprint.as_str().to_owned(),
        deployer: deployer.as_str().to_owned(),
        series: series.map(series_ref),
        os,
        roles: role_specs,
        services,
        images,
        packages,
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
        },
        scope: Scope {
            site: Some(opts.from.clone()),
            nodes: source.iter().map(|n| n.id.clone()).collect(),
            ..Scope::default()
        },
        from_series: series.map(series_ref).into_iter().collect(),
        to_series: series.map(series_ref),
        paths: Vec::new(),
        steps,
        rollback: Vec::new(),
        limits,
        warnings,
        manifest: Some(manifest),
    };
    Ok(finish(plan))
}
