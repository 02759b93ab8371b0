//! A generic Ansible playbook: the plan's distro package pins (apt preferences + dpkg holds,
//! dnf + versionlock), one play per step, in plan order. Only the hosts a pin names act;
//! a host is matched by its `nminus_node_id` variable, or its inventory name.
//!
//! Every play targets `all` and selects its pins by host, so the same file works with any
//! inventory; data-plane steps run one host at a time (`serial: 1`). Installing is limited to
//! packages already on the host (upgrades, rollbacks) except for replication plans, which
//! install onto new hosts; in `--check` mode, packages not yet installed are skipped (check
//! mode cannot see the repositories the playbook would enable), and so are exact versions the
//! host's repositories do not offer (reported; outside check mode installing them fails).

use super::{header, one_line, version_find, yq, PlanFormat, PlanRenderer, RenderedFile};
use crate::model::{PackageManager, Phase, Plan, PlanKind, Step};

/// Generic Ansible renderer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AnsibleRenderer;

const TASKS: &str = r#"  tasks:
    - name: Select this host's pins
      ansible.builtin.set_fact:
        nminus_mine: "{{ nminus_pins | selectattr('hosts', 'contains', nminus_node_id | default(inventory_hostname)) | list }}"
        nminus_unavailable: []
    - name: Enable the repositories (apt)
      ansible.builtin.command: "add-apt-repository -y {{ item }}"
      loop: "{{ nminus_mine | selectattr('manager', 'equalto', 'apt') | map(attribute='repo') | select('string') | unique | list }}"
      when: ansible_facts.pkg_mgr == 'apt'
      changed_when: true
    - name: Enable the repositories (dnf)
      ansible.builtin.command: "dnf install -y {{ item }}"
      loop: "{{ nminus_mine | selectattr('manager', 'equalto', 'dnf') | map(attribute='repo') | select('string') | unique | list }}"
      when: ansible_facts.pkg_mgr in ['dnf', 'dnf5']
      changed_when: true
    - name: Pin versions (apt preferences)
      ansible.builtin.copy:
        dest: "/etc/apt/preferences.d/nminus-{{ item.name }}.pref"
        content: "Package: {{ item.name }}\nPin: version {{ item.version }}\nPin-Priority: 1001\n"
        owner: root
        group: root
        mode: "0644"
      loop: "{{ nminus_mine | selectattr('manager', 'equalto', 'apt') | list }}"
      when: ansible_facts.pkg_mgr == 'apt'
    - name: Versions the configured repositories offer (read-only, also in check mode)
      ansible.builtin.command: "apt-cache madison {{ item.name }}"
      loop: "{{ nminus_mine | selectattr('manager', 'equalto', 'apt') | selectattr('exact') | list }}"
      register: nminus_madison
      changed_when: false
      failed_when: false
      check_mode: false
      when: ansible_facts.pkg_mgr == 'apt'
    - name: Note the exact versions the repositories do not offer
      ansible.builtin.set_fact:
        nminus_unavailable: "{{ nminus_unavailable | default([]) + [item.item.name] }}"
      loop: "{{ nminus_madison.results | default([]) | selectattr('item', 'defined') | list }}"
      when: ('| ' ~ item.item.version ~ ' |') not in (item.stdout | default(''))
    - name: Report pins not available here (enable the right repository; installing them would fail)
      ansible.builtin.debug:
        msg: "not offered by this host's repositories: {{ nminus_unavailable | default([]) | join(', ') }}"
      when: nminus_unavailable | default([]) | length > 0
    - name: Release holds before changing versions (dpkg)
      ansible.builtin.dpkg_selections:
        name: "{{ item.name }}"
        selection: install
      loop: "{{ nminus_mine | selectattr('manager', 'equalto', 'apt') | list }}"
      when: ansible_facts.pkg_mgr == 'apt' and item.name in ansible_facts.packages
    - name: Install the pinned versions (apt)
      ansible.builtin.apt:
        name: "{{ item.name ~ ('=' ~ item.version if item.exact else '') }}"
        state: "{{ 'present' if item.exact else 'latest' }}"
        allow_downgrade: true
      loop: "{{ nminus_mine | selectattr('manager', 'equalto', 'apt') | list }}"
      when: >-
        ansible_facts.pkg_mgr == 'apt' and (item.name in ansible_facts.packages
        or (nminus_install_missing | bool and not ansible_check_mode))
        and not (ansible_check_mode and item.name in nminus_unavailable | default([]))
    - name: Hold the pinned packages (dpkg)
      ansible.builtin.dpkg_selections:
        name: "{{ item.name }}"
        selection: hold
      loop: "{{ nminus_mine | selectattr('manager', 'equalto', 'apt') | selectattr('hold') | list }}"
      when: >-
        ansible_facts.pkg_mgr == 'apt' and (item.name in ansible_facts.packages
        or (nminus_install_missing | bool and not ansible_check_mode))
    - name: Install the pinned versions (dnf)
      ansible.builtin.dnf:
        name: "{{ item.name }}-{{ item.version }}"
        state: present
        allow_downgrade: true
      loop: "{{ nminus_mine | selectattr('manager', 'equalto', 'dnf') | list }}"
      when: >-
        ansible_facts.pkg_mgr in ['dnf', 'dnf5'] and (item.name in ansible_facts.packages
        or (nminus_install_missing | bool and not ansible_check_mode))
    - name: Lock the versions (dnf versionlock)
      ansible.builtin.command: "dnf versionlock add {{ item.name }}-{{ item.version }}"
      loop: "{{ nminus_mine | selectattr('manager', 'equalto', 'dnf') | selectattr('hold') | list }}"
      when: ansible_facts.pkg_mgr in ['dnf', 'dnf5']
      changed_when: true
"#;

fn play(plan: &Plan, s: &Step) -> String {
    let mut y = String::new();
    y.push_str(&format!(
        "\n- name: {}\n",
        yq(&format!(
            "{}: {} [{}]",
            s.id,
            s.title,
            s.reversibility.as_str()
        ))
    ));
    y.push_str("  hosts: all\n  gather_facts: false\n");
    if s.phase == Phase::DataPlane {
        y.push_str("  serial: 1\n");
    }
    y.push_str("  vars:\n");
    y.push_str(&format!("    nminus_step: {}\n", yq(&s.id)));
    y.push_str(&format!(
        "    nminus_install_missing: {}\n",
        plan.kind == PlanKind::Replicate
    ));
    y.push_str("    nminus_pins:\n");
    for p in &s.hints.packages {
        y.push_str(&format!(
            "      - hosts: [{}]\n",
            p.hosts.iter().map(|h| yq(h)).collect::<Vec<_>>().join(", ")
        ));
        y.push_str(&format!(
            "        manager: {}\n",
            match p.manager {
                PackageManager::Apt => "apt",
                PackageManager::Dnf => "dnf",
            }
        ));
        y.push_str(&format!(
            "        name: {}\n        version: {}\n        exact: {}\n        hold: {}\n",
            yq(&p.name),
            yq(&p.version),
            p.exact,
            p.hold
        ));
        match &p.repo {
            Some(r) => y.push_str(&format!("        repo: {}\n", yq(r))),
            None => y.push_str("        repo: null\n"),
        }
    }
    y.push_str(TASKS);
    y
}

/// A play that checks, from the controller, that each endpoint a step moved serves the expected
/// version (its version document, retried), before the next play runs.
fn verify_play(s: &Step) -> String {
    let checks: Vec<(String, String, String, String)> = s
        .verification
        .iter()
        .filter_map(|c| {
            let x = c.expected.as_ref()?;
            let url = c.version_url.as_ref()?;
            Some((
                url.clone(),
                version_find(x.kind, true).to_owned(),
                x.value.clone(),
                format!(
                    "{} {} {}: {} {} ({})",
                    c.service_type,
                    c.region,
                    c.interface,
                    x.kind.describe(),
                    x.value,
                    x.series
                ),
            ))
        })
        .collect();
    if checks.is_empty() {
        return String::new();
    }
    let mut y = format!(
        "\n- name: {}\n  hosts: localhost\n  gather_facts: false\n  vars:\n    nminus_step: {}\n    nminus_checks:\n",
        yq(&format!("{}: verify before going on", s.id)),
        yq(&s.id)
    );
    for (url, find, value, what) in &checks {
        y.push_str(&format!(
            "      - url: {}\n        find: {}\n        expect: {}\n        what: {}\n",
            yq(url),
            yq(find),
            yq(value),
            yq(what)
        ));
    }
    for c in &s.verification {
        for q in &c.promql {
            y.push_str(&format!(
                "  # promql ({}): {}\n",
                q.check,
                one_line(&q.expr)
            ));
        }
    }
    y.push_str(VERIFY_TASKS);
    y
}

const VERIFY_TASKS: &str = r#"  tasks:
    - name: The highest version the document lists is the one expected after the step
      ansible.builtin.uri:
        url: "{{ item.url }}"
        return_content: true
        status_code: 200
      register: nminus_version
      until: >-
        nminus_version.content is defined
        and item.expect in (nminus_version.content | regex_findall(item.find))
        and (nminus_version.content | regex_findall(item.find)
             | select('version', item.expect, '>') | list | length) == 0
      retries: "{{ nminus_verify_retries | default(10) | int }}"
      delay: "{{ nminus_verify_delay | default(30) | int }}"
      loop: "{{ nminus_checks }}"
      loop_control:
        label: "{{ item.what }}"
"#;

impl PlanRenderer for AnsibleRenderer {
    fn format(&self) -> PlanFormat {
        PlanFormat::Ansible
    }

    fn render(&self, plan: &Plan) -> Vec<RenderedFile> {
        let mut y = header(plan, "Ansible playbook: distro package pins and holds");
        y.push_str("# Usage: ansible-playbook -i YOUR_INVENTORY playbook.yml --check --diff, then without --check.\n");
        y.push_str("# A host acts on the pins naming its `nminus_node_id` (host variable; default: inventory_hostname).\n");
        y.push_str("# Steps without package pins (kolla, OpenStack-Ansible, service commands) are listed here and\n# described in the Markdown / JSON renderings of the plan.\n");
        for s in &plan.steps {
            let pins = s.hints.packages.len();
            y.push_str(&format!(
                "#   {} [{}] {}{}\n",
                one_line(&s.id),
                s.reversibility.as_str(),
                one_line(&s.title),
                if pins > 0 {
                    format!(" ({pins} pins)")
                } else {
                    String::new()
                }
            ));
        }
        y.push_str("---\n- name: \"nminus: read package facts\"\n  hosts: all\n  gather_facts: true\n  tasks:\n    - name: Read installed packages\n      ansible.builtin.package_facts:\n        manager: auto\n");
        for s in plan
            .steps
            .iter()
            .filter(|s| !s.hints.packages.is_empty() || !s.verification.is_empty())
        {
            if s.hints.packages.is_empty() {
                y.push_str(&verify_play(s));
                continue;
            }
            if !s.blocked_by.is_empty() {
                y.push_str(&format!(
                    "\n# {} is blocked, not rendered: {}\n",
                    one_line(&s.id),
                    one_line(&s.blocked_by.join("; "))
                ));
                continue;
            }
            y.push_str(&play(plan, s));
            y.push_str(&verify_play(s));
        }
        let rb: Vec<&Step> = plan
            .rollback
            .iter()
            .filter(|s| !s.hints.packages.is_empty())
            .collect();
        if !rb.is_empty() {
            y.push_str("\n# Rollback steps with package pins are not part of this playbook (render the rollback plan):\n");
            for s in rb {
                y.push_str(&format!("#   {} {}\n", one_line(&s.id), one_line(&s.title)));
            }
        }
        vec![RenderedFile {
            path: "playbook.yml".to_owned(),
            content: y,
        }]
    }
}
