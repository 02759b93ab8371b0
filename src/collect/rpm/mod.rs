//! rpm package databases, read natively (no `rpm` binary, no librpm, no libdb):
//!
//! - `rpmdb.sqlite` (rpm ≥ 4.16) through SQLite, opened read-only and immutable ([`read_sqlite`]);
//! - `Packages.db`, SUSE's ndb blob store ([`read_ndb`]);
//! - `Packages`, the legacy Berkeley DB hash database ([`read_bdb`]);
//!
//! each yielding rpm header blobs that [`parse_header`] decodes. Databases are looked for in
//! `/var/lib/rpm/` and `/usr/lib/sysimage/rpm/` (the same directory when one links to the other
//! is read once). rpm uses one backend per directory: the first format in the order above that
//! lists packages is used, and any other database file beside it is reported as skipped (a
//! leftover from a conversion would otherwise list stale versions).
//!
//! The `gpg-pubkey` pseudo-packages (imported signing keys, which `rpm -qa` lists) are not
//! software and are left out. Of each package's file list only Python distribution metadata
//! paths go into [`Collected::os_owned_files`], as the dpkg and apk collectors do.
//!
//! Database files are read with positioned reads rather than whole, so large rpmdbs are not
//! limited by [`super::root::MAX_FILE_BYTES`]. All parsers are pure functions over bytes
//! ([`parse_header`], [`bdb_blobs`], [`ndb_blobs`]) that return errors instead of panicking.

mod bdb;
mod db;
mod header;
mod ndb;
mod sqlite;

pub(crate) use bdb::{bdb_blobs, read_bdb};
pub(crate) use db::{Blob, DbError, FileSource};
pub(crate) use header::{parse_header, RpmHeader};
pub(crate) use ndb::{ndb_blobs, read_ndb};
pub(crate) use sqlite::read_sqlite;

use super::dpkg::is_python_metadata_path;
use super::files::FilePattern;
use super::root::join;
use super::{purl, Collected, Collector, Root};
use crate::model::{
    Ecosystem, Location, Package, PackageMeta, Problem, ProblemKind, SourcePackage,
};

/// Directories rpm keeps its database in (`/usr/lib/sysimage/rpm` on Fedora ≥ 36, openSUSE, SLE
/// 16, where `/var/lib/rpm` usually links to it).
pub(crate) const DB_DIRS: [&str; 2] = ["/var/lib/rpm", "/usr/lib/sysimage/rpm"];

/// An rpmdb backend format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// `rpmdb.sqlite`.
    Sqlite,
    /// `Packages.db`.
    Ndb,
    /// `Packages`.
    Bdb,
}

impl Format {
    /// Every format, in order of preference.
    pub(crate) const ALL: [Self; 3] = [Self::Sqlite, Self::Ndb, Self::Bdb];

    /// The database file name.
    pub(crate) fn file_name(self) -> &'static str {
        match self {
            Self::Sqlite => "rpmdb.sqlite",
            Self::Ndb => "Packages.db",
            Self::Bdb => "Packages",
        }
    }

    /// The `found_by` of its packages.
    pub(crate) fn found_by(self) -> &'static str {
        match self {
            Self::Sqlite => "rpm-sqlite",
            Self::Ndb => "rpm-ndb",
            Self::Bdb => "rpm-bdb",
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite rpmdb",
            Self::Ndb => "ndb rpmdb",
            Self::Bdb => "berkeley db rpmdb",
        }
    }
}

/// Naming context for purls.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Ctx<'a> {
    /// purl namespace: the OS id (`rhel`, `rocky`, `sles`, `mariner`), when known.
    pub namespace: Option<&'a str>,
    /// purl `distro` qualifier (`rhel-9.4`), when known.
    pub distro: Option<&'a str>,
}

/// What one database file yielded.
#[derive(Debug, Default)]
pub(crate) struct DbContents {
    /// Packages (without `gpg-pubkey`).
    pub packages: Vec<Package>,
    /// Problems: the file as a whole, or single records.
    pub problems: Vec<Problem>,
    /// Python metadata paths owned by a package → its name.
    pub owned_files: Vec<(String, String)>,
}

/// The rpm collector.
#[derive(Debug, Default)]
pub(crate) struct RpmCollector;

/// The files the rpm collector reads: the database in each of its formats and places.
pub(crate) const READS: &[FilePattern] = &[
    FilePattern::Path("var/lib/rpm/Packages"),
    FilePattern::Path("var/lib/rpm/Packages.db"),
    FilePattern::Path("var/lib/rpm/rpmdb.sqlite"),
    FilePattern::Path("usr/lib/sysimage/rpm/Packages"),
    FilePattern::Path("usr/lib/sysimage/rpm/Packages.db"),
    FilePattern::Path("usr/lib/sysimage/rpm/rpmdb.sqlite"),
];

impl Collector for RpmCollector {
    fn reads(&self) -> &'static [FilePattern] {
        READS
    }

    fn name(&self) -> &'static str {
        "rpm"
    }

    fn applies(&self, root: &Root) -> bool {
        DB_DIRS.iter().any(|d| {
            Format::ALL
                .iter()
                .any(|f| root.exists(&join(d, f.file_name())))
        })
    }

    fn collect(&self, root: &Root, out: &mut Collected) {
        let namespace = out
            .os
            .as_ref()
            .map(|o| o.id.clone())
            .filter(|id| !id.is_empty());
        let distro = out
            .os
            .as_ref()
            .filter(|o| !o.id.is_empty())
            .and_then(|o| Some(format!("{}-{}", o.id, o.version_id.as_deref()?)));
        let ctx = Ctx {
            namespace: namespace.as_deref(),
            distro: distro.as_deref(),
        };
        let mut seen = Vec::new();
        for dir in DB_DIRS {
            // `/var/lib/rpm` → `/usr/lib/sysimage/rpm` (or the reverse): read once.
            let Some(real) = root.canonical(dir).filter(|c| root.is_dir(c)) else {
                continue;
            };
            if seen.contains(&real) {
                continue;
            }
            seen.push(real);
            let mut used: Option<String> = None;
            for format in Format::ALL {
                let node = join(dir, format.file_name());
                if !root.exists(&node) {
                    continue;
                }
                if let Some(u) = &used {
                    out.problems.push(Problem::new(
                        Location::path(&node),
                        ProblemKind::Skipped,
                        format!(
                            "{} not read: rpm uses one database per directory and {u} lists packages",
                            format.describe()
                        ),
                    ));
                    continue;
                }
                let c = read_db(root, &node, format, &ctx);
                out.problems.extend(c.problems);
                if !c.packages.is_empty() {
                    used = Some(node);
                    out.packages.extend(c.packages);
                    out.os_owned_files.extend(c.owned_files);
                }
            }
        }
    }
}

/// Read one database file (node path `node` under `root`) of the given format.
pub(crate) fn read_db(root: &Root, node: &str, format: Format, ctx: &Ctx<'_>) -> DbContents {
    let mut sink = Sink {
        node,
        format,
        ctx,
        out: DbContents::default(),
    };
    if !root.exists(node) {
        sink.file_problem(
            ProblemKind::Unreadable,
            format!("{node}: not found under the root"),
        );
        return sink.out;
    }
    let Some(host) = root.host_path(node) else {
        // An in-memory root (a container image): the database's bytes were kept whole.
        let bytes = match root.read(node) {
            Ok(b) => b,
            Err(e) => {
                sink.file_problem(ProblemKind::Unreadable, e.to_string());
                return sink.out;
            }
        };
        let res = match format {
            Format::Sqlite => read_sqlite_bytes(&bytes, &mut |b| sink.take(b)),
            Format::Ndb => read_ndb(&bytes[..], &mut |b| sink.take(b)),
            Format::Bdb => read_bdb(&bytes[..], &mut |b| sink.take(b)),
        };
        sink.result(res);
        return sink.out;
    };
    // A FIFO, socket or device standing for the database is never opened (SQLite and the
    // positioned reads below would wait on it for ever).
    if let Err(e) = super::root::open_regular(&host, node) {
        sink.file_problem(ProblemKind::Unreadable, e.to_string());
        return sink.out;
    }
    let res = match format {
        Format::Sqlite => {
            wal_check(root, node, &mut sink);
            read_sqlite(&host, &mut |b| sink.take(b))
        }
        Format::Ndb | Format::Bdb => match FileSource::open(&host) {
            Ok(src) if format == Format::Ndb => read_ndb(&src, &mut |b| sink.take(b)),
            Ok(src) => read_bdb(&src, &mut |b| sink.take(b)),
            Err(e) => {
                sink.file_problem(ProblemKind::Unreadable, e.to_string());
                return sink.out;
            }
        },
    };
    sink.result(res);
    sink.out
}

/// SQLite opens files only: an rpmdb held in memory is written to a private temporary file
/// (mode 0600, removed on return) and read from there.
fn read_sqlite_bytes(bytes: &[u8], sink: &mut dyn FnMut(Blob)) -> Result<usize, DbError> {
    use std::io::Write;
    let io = |e: std::io::Error| DbError::Io {
        offset: 0,
        len: bytes.len() as u64,
        message: format!("temporary copy of the database: {e}"),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix("nminus-rpmdb-")
        .suffix(".sqlite")
        .tempfile()
        .map_err(io)?;
    tmp.write_all(bytes).map_err(io)?;
    tmp.flush().map_err(io)?;
    read_sqlite(tmp.path(), sink)
}

/// An immutable open does not see a write-ahead log; say so when one holds data.
fn wal_check(root: &Root, node: &str, sink: &mut Sink<'_>) {
    let wal = format!("{node}-wal");
    let len = root.file_size(&wal).unwrap_or(0);
    if len > 0 {
        sink.file_problem(
            ProblemKind::Skipped,
            format!("{wal} holds {len} bytes not yet checkpointed; the read-only immutable open does not read them (an rpm transaction may be in progress)"),
        );
    }
}

/// Turns blobs into packages and problems.
struct Sink<'a> {
    node: &'a str,
    format: Format,
    ctx: &'a Ctx<'a>,
    out: DbContents,
}

impl Sink<'_> {
    fn result(&mut self, res: Result<usize, DbError>) {
        if let Err(e) = res {
            let kind = if e.is_io() {
                ProblemKind::Unreadable
            } else {
                ProblemKind::Malformed
            };
            self.file_problem(kind, format!("{}: {e}", self.format.describe()));
        }
    }

    fn file_problem(&mut self, kind: ProblemKind, message: String) {
        self.out
            .problems
            .push(Problem::new(Location::path(self.node), kind, message));
    }

    fn take(&mut self, blob: Blob) {
        let at = || Location::path(self.node).field(blob.key.clone());
        let bytes = match &blob.data {
            Ok(b) => b,
            Err(e) => {
                let kind = if e.is_io() {
                    ProblemKind::Unreadable
                } else {
                    ProblemKind::Malformed
                };
                self.out
                    .problems
                    .push(Problem::new(at(), kind, e.to_string()));
                return;
            }
        };
        match parse_header(bytes) {
            Ok(h) if h.is_gpg_pubkey() => {}
            Ok(h) => {
                for f in &h.files {
                    if is_python_metadata_path(f) {
                        self.out.owned_files.push((f.clone(), h.name.clone()));
                    }
                }
                self.out
                    .packages
                    .push(to_package(&h, self.format, self.node, self.ctx));
            }
            Err(e) => self.out.problems.push(Problem::new(
                at(),
                ProblemKind::Malformed,
                format!("rpm header: {e}"),
            )),
        }
    }
}

/// Split a `SOURCERPM` value (`util-linux-2.32.1-42.el8_8.src.rpm`) into name and
/// `version-release`.
pub(crate) fn parse_source_rpm(s: &str) -> Option<(String, String)> {
    let base = s
        .strip_suffix(".src.rpm")
        .or_else(|| s.strip_suffix(".nosrc.rpm"))
        .unwrap_or(s);
    let (rest, release) = base.rsplit_once('-')?;
    let (name, version) = rest.rsplit_once('-')?;
    if name.is_empty() || version.is_empty() || release.is_empty() {
        return None;
    }
    Some((name.to_owned(), format!("{version}-{release}")))
}

/// The inventory package for a header found in `node` (a database of `format`).
pub(crate) fn to_package(h: &RpmHeader, format: Format, node: &str, ctx: &Ctx<'_>) -> Package {
    let vr = h.version_release();
    let epoch = h.epoch.map(|e| e.to_string());
    let mut q: Vec<(&str, &str)> = Vec::new();
    if let Some(a) = &h.arch {
        q.push(("arch", a));
    }
    if let Some(e) = &epoch {
        q.push(("epoch", e));
    }
    if let Some(d) = ctx.distro {
        q.push(("distro", d));
    }
    let source = h
        .source_rpm
        .as_deref()
        .and_then(parse_source_rpm)
        .map(|(name, v)| SourcePackage {
            name,
            version: match h.epoch {
                Some(e) => format!("{e}:{v}"),
                None => v,
            },
        });
    Package {
        ecosystem: Ecosystem::Rpm,
        name: h.name.clone(),
        version: h.evr(),
        source,
        purl: purl::build("rpm", ctx.namespace, &h.name, &vr, &q),
        found_by: format.found_by().to_owned(),
        location: Location::path(node),
        meta: PackageMeta::Rpm {
            epoch: h.epoch,
            version: h.version.clone(),
            release: h.release.clone(),
            arch: h.arch.clone(),
            source_rpm: h.source_rpm.clone(),
            vendor: h.vendor.clone(),
        },
        extra: std::collections::BTreeMap::new(),
    }
}

#[cfg(test)]
mod tests;
