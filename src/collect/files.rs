//! The files a collector reads, declared by the collector ([`Collector::reads`]) as patterns over
//! root-relative paths. The image filesystem keeps the contents of exactly the files some
//! collector declares ([`FileSet::keeps`] over [`super::READS`]), so a new collector declares its
//! files here instead of editing the filesystem.
//!
//! [`Collector::reads`]: super::Collector::reads

/// How a parent directory's name is matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parent {
    /// Exactly this name.
    Is(&'static str),
    /// A name ending with this suffix, ASCII case ignored.
    EndsWithIgnoreCase(&'static str),
}

/// One pattern of files a collector reads. Paths are relative to the root, without a leading
/// `/` (`var/lib/dpkg/status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilePattern {
    /// This path.
    Path(&'static str),
    /// A file directly inside `dir` whose name ends with `suffix` (`""`: any name).
    InDir {
        /// The directory.
        dir: &'static str,
        /// The end of the file's name.
        suffix: &'static str,
    },
    /// A file of this name in any directory.
    Name(&'static str),
    /// A file in any directory whose name starts with `prefix`, contains `contains` and ends
    /// with `suffix` (each may be `""`); with `ignore_case`, ASCII case is ignored.
    NameLike {
        /// The start of the name.
        prefix: &'static str,
        /// A part of the name.
        contains: &'static str,
        /// The end of the name.
        suffix: &'static str,
        /// ASCII case ignored.
        ignore_case: bool,
    },
    /// A file of this name whose parent directory's name matches.
    InParent {
        /// The parent directory's name.
        parent: Parent,
        /// The file's name.
        name: &'static str,
    },
}

impl FilePattern {
    /// Whether a file (root-relative `path`, its directory and name) matches.
    fn matches(&self, path: &str, dir: &str, name: &str) -> bool {
        match *self {
            Self::Path(p) => path == p,
            Self::InDir { dir: d, suffix } => dir == d && name.ends_with(suffix),
            Self::Name(n) => name == n,
            Self::NameLike {
                prefix,
                contains,
                suffix,
                ignore_case,
            } => {
                let lower;
                let n = if ignore_case {
                    lower = name.to_ascii_lowercase();
                    lower.as_str()
                } else {
                    name
                };
                n.starts_with(prefix) && n.contains(contains) && n.ends_with(suffix)
            }
            Self::InParent { parent, name: n } => {
                let p = dir.rsplit('/').next().unwrap_or("");
                name == n
                    && match parent {
                        Parent::Is(want) => p == want,
                        Parent::EndsWithIgnoreCase(suffix) => {
                            p.to_ascii_lowercase().ends_with(suffix)
                        }
                    }
            }
        }
    }
}

/// The files a set of collectors read: each collector's declaration.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FileSet(pub &'static [&'static [FilePattern]]);

impl FileSet {
    /// Whether a collector reads the file at `path` (a node path; a leading `/` is ignored).
    /// Directories are never files: `""`, `/` and paths ending in `/` are not kept.
    pub(crate) fn keeps(&self, path: &str) -> bool {
        let p = path.trim_start_matches('/');
        let (dir, name) = p.rsplit_once('/').unwrap_or(("", p));
        !name.is_empty()
            && self
                .0
                .iter()
                .flat_map(|d| d.iter())
                .any(|f| f.matches(p, dir, name))
    }
}

#[cfg(test)]
mod tests {
    use crate::collect::READS;

    /// The image filesystem keeps what the collectors read:
    ///
    /// - dpkg: `{var,usr}/lib/dpkg/status`, `…/status.d/*`, `…/info/*.list`;
    /// - apk: `{,usr/}lib/apk/db/installed`;
    /// - rpm: `Packages`, `Packages.db`, `rpmdb.sqlite` under `var/lib/rpm` and
    ///   `usr/lib/sysimage/rpm`;
    /// - Python: `*.dist-info/METADATA`, `*.dist-info/INSTALLER`, a `*.egg-info` file,
    ///   `*.egg-info/PKG-INFO`, `*.egg/EGG-INFO/PKG-INFO`, `*.egg-link`, `pyvenv.cfg`;
    /// - the OS: `etc/os-release`, `usr/lib/os-release`, `etc/*-release`, `etc/*_version`,
    ///   `etc/system-release-cpe`, `etc/hostname`;
    /// - lockfiles by name: `Cargo.lock`, `*requirements*.txt`, `poetry.lock`, `uv.lock`,
    ///   `Pipfile.lock`, `pylock.toml`, `pdm.lock`.
    ///
    /// systemd units are only listed by name, never read, so their contents are not kept.
    #[test]
    fn filter_keeps_what_collectors_read() {
        for yes in [
            "/var/lib/dpkg/status",
            "var/lib/dpkg/status.d/base",
            "/var/lib/dpkg/info/python3-nova.list",
            "/usr/lib/dpkg/status",
            "/lib/apk/db/installed",
            "/var/lib/rpm/rpmdb.sqlite",
            "/usr/lib/sysimage/rpm/Packages.db",
            "/var/lib/rpm/Packages",
            "/var/lib/kolla/venv/lib/python3.10/site-packages/nova-29.0.1.dist-info/METADATA",
            "/usr/lib/python3/dist-packages/six-1.16.0.dist-info/INSTALLER",
            "/usr/lib/python3/dist-packages/nova-26.2.2.egg-info",
            "/usr/lib/python3/dist-packages/nova-26.2.2.egg-info/PKG-INFO",
            "/usr/lib/python3/site-packages/x.egg/EGG-INFO/PKG-INFO",
            "/var/lib/kolla/venv/pyvenv.cfg",
            "/etc/os-release",
            "/usr/lib/os-release",
            "/etc/redhat-release",
            "/etc/debian_version",
            "/etc/system-release-cpe",
            "/etc/hostname",
            "/srv/app/Cargo.lock",
            "/opt/app/requirements-dev.txt",
            "/opt/app/poetry.lock",
            "/opt/app/uv.lock",
            "/opt/app/Pipfile.lock",
            "/opt/app/pylock.toml",
            "/opt/app/pdm.lock",
        ] {
            assert!(READS.keeps(yes), "{yes} should be kept");
        }
        for no in [
            "/usr/bin/python3",
            "/var/lib/dpkg/info/nova.md5sums",
            "/var/lib/dpkg/status-old",
            "/var/lib/dpkg/status.d/sub/x",
            "/var/lib/rpm/Basenames",
            "/usr/lib/python3/dist-packages/six-1.16.0.dist-info/RECORD",
            "/etc/nova/nova.conf",
            "/lib/systemd/system/nova-api.service",
            "/",
            "",
        ] {
            assert!(!READS.keeps(no), "{no} should not be kept");
        }
    }

    /// [`READS`] is exactly the declarations of the collectors that run ([`crate::collect::all`])
    /// and of the collection itself: a collector added to `all` is asked, not forgotten.
    #[test]
    fn reads_are_the_collectors_declarations() {
        let mut declared: Vec<_> = crate::collect::all().iter().map(|c| c.reads()).collect();
        declared.push(crate::collect::root::READS);
        let listed: Vec<_> = READS.0.to_vec();
        assert_eq!(declared.len(), listed.len());
        for d in declared {
            assert!(listed.contains(&d), "{d:?} is not in collect::READS");
        }
    }

    /// The lockfile collector's declaration names exactly the files its search reads.
    #[test]
    fn lockfile_declaration_matches_its_search() {
        use crate::collect::lockfile::{LockKind, READS as LOCK};
        let set = super::FileSet(&[LOCK]);
        for name in [
            "Cargo.lock",
            "poetry.lock",
            "uv.lock",
            "pdm.lock",
            "Pipfile.lock",
            "pylock.toml",
            "pylock.dev.toml",
            "requirements.txt",
            "dev-requirements.txt",
            "requirements-test.txt",
            "Cargo.lock.old",
            "requirements.in",
            "pylock.toml.bak",
            "package-lock.json",
            "notes.txt",
            "CARGO.LOCK",
        ] {
            assert_eq!(
                set.keeps(&format!("/srv/app/{name}")),
                LockKind::from_file_name(name).is_some(),
                "{name}"
            );
        }
    }
}
