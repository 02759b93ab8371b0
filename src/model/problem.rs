//! Per-item failures as data: one bad file, line or node is recorded and the run continues.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Where a [`Location`]'s path lies: the node's own files, or inside a container image.
///
/// On the wire a location is still one string (the inventory and report schemas are unchanged):
/// `<path>` on the node, `image:<reference>:<path>` inside an image, `image:<name>` for an image
/// or image source as a whole. [`Location`]'s serde parses that string once, where it enters;
/// code matches on this enum and never takes the string apart.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub enum Origin {
    /// The node's own filesystem (or a feed file, a node id, a URL): the path as written.
    #[default]
    Host,
    /// A file inside a container image: `image:<reference>:<path>`.
    Image {
        /// The image's reference (first tag, else its id), as in `ImageRef::reference`.
        reference: String,
    },
    /// A container image, or an image source (an archive, a runtime socket), as a whole:
    /// `image:<name>`, followed by the path when it has one.
    ImageSource {
        /// The image's reference or the source's name.
        name: String,
    },
}

/// Where something was found or went wrong: a file (inside the collected root), optionally a
/// line and a field.
///
/// Equality, order and hashing follow the wire string (`image:<reference>:<path>`), so that
/// sorting and de-duplication are what they were when the location was a string.
#[derive(Debug, Clone, Default)]
pub struct Location {
    /// The node's files or an image.
    pub origin: Origin,
    /// Path, absolute within the collected root or the image (`/var/lib/dpkg/status`), or a
    /// node id / URL.
    pub path: String,
    /// 1-based line number, when the format has lines.
    pub line: Option<u32>,
    /// The field or key concerned (`Version`, `package[3].version`).
    pub field: Option<String>,
}

// The serde and schema form of `Location` (the JSON as it always was: the path one string);
// its doc comment is the schema's description.
#[derive(Serialize, Deserialize, schemars::JsonSchema)]
#[schemars(rename = "Location")]
/// Where something was found or went wrong: a file (inside the collected root), optionally a
/// line and a field.
struct WireLocation<'a> {
    /// Path, absolute within the collected root (`/var/lib/dpkg/status`), or a node id / URL.
    #[serde(borrow)]
    path: std::borrow::Cow<'a, str>,
    /// 1-based line number, when the format has lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    line: Option<u32>,
    /// The field or key concerned (`Version`, `package[3].version`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    field: Option<std::borrow::Cow<'a, str>>,
}

/// The prefix of a location inside an image.
const IMAGE: &str = "image:";

impl Location {
    /// A location naming a path on the node only.
    pub fn path(path: impl Into<String>) -> Self {
        Self {
            origin: Origin::Host,
            path: path.into(),
            line: None,
            field: None,
        }
    }

    /// `inner` (a location inside an image's filesystem) as a location of the node that holds
    /// image `reference`.
    #[must_use]
    pub fn in_image(reference: &str, inner: Self) -> Self {
        let canonical = !reference.contains(":/")
            && !reference.ends_with(':')
            && (inner.path.is_empty() || inner.path.starts_with('/'));
        let loc = Self {
            origin: Origin::Image {
                reference: reference.to_owned(),
            },
            ..inner
        };
        if canonical {
            loc
        } else {
            let wire = loc.wire_path().into_owned();
            Self::parse(wire, loc.line, loc.field)
        }
    }

    /// An image, or an image source (an archive path, a runtime socket), as a whole.
    pub fn image(name: &str) -> Self {
        Self::parse(format!("{IMAGE}{name}"), None, None)
    }

    /// This location at `line`.
    #[must_use]
    pub fn at_line(mut self, line: usize) -> Self {
        self.line = Some(u32::try_from(line).unwrap_or(u32::MAX));
        self
    }
    /// This location, field `field`.
    #[must_use]
    pub fn field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// The image that holds this location, if any (its reference or source name).
    pub fn image_reference(&self) -> Option<&str> {
        match &self.origin {
            Origin::Host => None,
            Origin::Image { reference } => Some(reference),
            Origin::ImageSource { name } => Some(name),
        }
    }

    /// Whether the location is inside (or is) a container image rather than the node's own
    /// files.
    pub fn in_an_image(&self) -> bool {
        self.origin != Origin::Host
    }

    /// The wire string's pieces, in order.
    fn pieces(&self) -> [&str; 4] {
        match &self.origin {
            Origin::Host => ["", "", "", &self.path],
            Origin::Image { reference } => [IMAGE, reference, ":", &self.path],
            Origin::ImageSource { name } => [IMAGE, name, "", &self.path],
        }
    }

    fn wire_bytes(&self) -> impl Iterator<Item = u8> + '_ {
        self.pieces().into_iter().flat_map(str::bytes)
    }

    /// The path as the wire writes it (`image:<reference>:<path>` inside an image): for
    /// display, fingerprints and renderers, never to be taken apart again.
    pub fn wire_path(&self) -> std::borrow::Cow<'_, str> {
        match &self.origin {
            Origin::Host => std::borrow::Cow::Borrowed(&self.path),
            _ => std::borrow::Cow::Owned(self.pieces().concat()),
        }
    }

    /// Read the wire form: the one place a location string is taken apart.
    fn parse(wire: String, line: Option<u32>, field: Option<String>) -> Self {
        let (origin, path) = match wire.strip_prefix(IMAGE) {
            None => (Origin::Host, wire),
            Some(rest) => {
                let b = rest.as_bytes();
                let split =
                    (0..b.len()).find(|&i| b[i] == b':' && b.get(i + 1).is_none_or(|&c| c == b'/'));
                match split {
                    Some(i) => (
                        Origin::Image {
                            reference: rest[..i].to_owned(),
                        },
                        rest[i + 1..].to_owned(),
                    ),
                    None => (
                        Origin::ImageSource {
                            name: rest.to_owned(),
                        },
                        String::new(),
                    ),
                }
            }
        };
        Self {
            origin,
            path,
            line,
            field,
        }
    }
}

impl PartialEq for Location {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == std::cmp::Ordering::Equal
    }
}

impl Eq for Location {}

impl PartialOrd for Location {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Location {
    /// As the wire strings compare: path, then line, then field.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.wire_bytes()
            .cmp(other.wire_bytes())
            .then_with(|| self.line.cmp(&other.line))
            .then_with(|| self.field.cmp(&other.field))
    }
}

impl std::hash::Hash for Location {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write(self.wire_path().as_bytes());
        state.write_u8(0xff);
        self.line.hash(state);
        self.field.hash(state);
    }
}

impl Serialize for Location {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        WireLocation {
            path: self.wire_path(),
            line: self.line,
            field: self.field.as_deref().map(std::borrow::Cow::Borrowed),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Location {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let w = WireLocation::deserialize(d)?;
        Ok(Self::parse(
            w.path.into_owned(),
            w.line,
            w.field.map(std::borrow::Cow::into_owned),
        ))
    }
}

impl schemars::JsonSchema for Location {
    fn schema_name() -> String {
        WireLocation::schema_name()
    }
    fn json_schema(g: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema {
        WireLocation::json_schema(g)
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in self.pieces() {
            f.write_str(p)?;
        }
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
        }
        if let Some(fl) = &self.field {
            write!(f, " (field `{fl}`)")?;
        }
        Ok(())
    }
}

/// What kind of problem.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum ProblemKind {
    /// A file could not be read.
    Unreadable,
    /// A file or record is malformed.
    Malformed,
    /// A version string is not valid in its scheme.
    VersionUnparseable,
    /// Something was skipped on purpose (unsupported format, size limit).
    Skipped,
}

/// A per-item failure.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct Problem {
    /// Where.
    pub location: Location,
    /// What kind.
    pub kind: ProblemKind,
    /// What was expected and what was found.
    pub message: String,
}

impl Problem {
    /// A new problem.
    pub fn new(location: Location, kind: ProblemKind, message: impl Into<String>) -> Self {
        Self {
            location,
            kind,
            message: message.into(),
        }
    }

    /// Whether this problem leaves a scan incomplete: an input that could not be read or was
    /// malformed does; an item skipped on purpose (an unpinned requirement, a size limit) does
    /// not.
    pub fn leaves_incomplete(&self) -> bool {
        self.kind != ProblemKind::Skipped
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

/// A problem of a report: one of a node's inventory, with its node, or the scan's own (a target
/// or input that could not be read).
///
/// The JSON writes a node's problem as it always did, the node folded into the location's path
/// (`<node>:<path>`; a lockfile scanned alone, whose node is its own path, keeps that path), and
/// beside it the node as a field of its own, `node`, which is what reading it back goes by: code
/// reads [`ReportProblem::node`] and never takes the path apart.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReportProblem {
    /// The node whose inventory has the problem; `None` for the scan's own.
    pub node: Option<String>,
    /// The problem, where it lies on the node (or in the image it holds).
    pub problem: Problem,
}

// The serde and schema form of `ReportProblem`; its doc comment is the schema's description.
#[derive(Serialize, Deserialize, schemars::JsonSchema)]
#[schemars(rename = "ReportProblem")]
/// A problem on a scanned node or target. A node's problem has its `node`, and its location's
/// path begins with `<node>:` (unless the path is the node itself: a lockfile scanned alone).
struct WireReportProblem {
    /// Where (a node's problem: `<node>:<path>`).
    location: Location,
    /// What kind.
    kind: ProblemKind,
    /// What was expected and what was found.
    message: String,
    /// The node whose inventory has the problem; absent for the scan's own problems.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    node: Option<String>,
}

impl ReportProblem {
    /// A problem of node `node`'s inventory.
    pub fn of_node(node: &str, problem: Problem) -> Self {
        Self {
            node: Some(node.to_owned()),
            problem,
        }
    }

    /// A problem of the scan itself.
    pub fn scan(problem: Problem) -> Self {
        Self {
            node: None,
            problem,
        }
    }

    /// Whether this problem leaves the scan incomplete ([`Problem::leaves_incomplete`]).
    pub fn leaves_incomplete(&self) -> bool {
        self.problem.leaves_incomplete()
    }

    /// The location as the report writes it: a node's problem at `<node>:<path>` (an image's
    /// keeps its `image:<reference>:` after the node), unless the location is the node itself.
    pub fn report_location(&self) -> Location {
        let loc = &self.problem.location;
        match &self.node {
            Some(node) if loc.wire_path() != node.as_str() => Location {
                origin: Origin::Host,
                path: format!("{node}:{}", loc.wire_path()),
                line: loc.line,
                field: loc.field.clone(),
            },
            _ => loc.clone(),
        }
    }
}

impl fmt::Display for ReportProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.report_location(), self.problem.message)
    }
}

impl Serialize for ReportProblem {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        WireReportProblem {
            location: self.report_location(),
            kind: self.problem.kind,
            message: self.problem.message.clone(),
            node: self.node.clone(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for ReportProblem {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let w = WireReportProblem::deserialize(d)?;
        let location = match &w.node {
            Some(node) if w.location.wire_path() != node.as_str() => {
                let wire = w.location.wire_path();
                let inner = wire
                    .strip_prefix(node.as_str())
                    .and_then(|r| r.strip_prefix(':'))
                    .ok_or_else(|| {
                        serde::de::Error::custom(format!(
                            "problem location `{wire}` does not begin with its node `{node}:`"
                        ))
                    })?;
                Location::parse(inner.to_owned(), w.location.line, w.location.field.clone())
            }
            _ => w.location,
        };
        Ok(Self {
            node: w.node,
            problem: Problem::new(location, w.kind, w.message),
        })
    }
}

impl schemars::JsonSchema for ReportProblem {
    fn schema_name() -> String {
        WireReportProblem::schema_name()
    }
    fn json_schema(g: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema {
        WireReportProblem::json_schema(g)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use super::*;

    /// Every `"path": "…"` string of the JSON files under `dir` (goldens, fixtures, tests).
    fn wire_paths(dir: &Path, out: &mut BTreeSet<String>) {
        for e in fs_err::read_dir(dir).unwrap().flatten() {
            let Ok(kind) = e.file_type() else { continue };
            let p = e.path();
            if kind.is_dir() {
                wire_paths(&p, out);
                continue;
            }
            // Binary fixtures (archives, databases) hold no JSON.
            let Ok(text) = fs_err::read_to_string(&p) else {
                continue;
            };
            let mut rest = text.as_str();
            while let Some(i) = rest.find("\"path\"") {
                rest = &rest[i + 6..];
                let after = rest.trim_start();
                let Some(value) = after.strip_prefix(':') else {
                    continue;
                };
                let value = value.trim_start();
                if !value.starts_with('"') {
                    continue;
                }
                let mut strings = serde_json::Deserializer::from_str(value).into_iter::<String>();
                if let Some(Ok(s)) = strings.next() {
                    out.insert(s);
                }
            }
        }
    }

    fn round_trip(wire: &str) -> Location {
        let json = serde_json::json!({ "path": wire, "line": 3, "field": "Version" });
        let loc: Location = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(serde_json::to_value(&loc).unwrap(), json, "{wire:?}");
        assert_eq!(loc.wire_path(), wire);
        assert_eq!(loc.to_string(), format!("{wire}:3 (field `Version`)"));
        let again: Location = serde_json::from_value(serde_json::to_value(&loc).unwrap()).unwrap();
        assert_eq!(
            (&again.origin, &again.path),
            (&loc.origin, &loc.path),
            "{wire:?}"
        );
        loc
    }

    #[test]
    fn every_location_string_of_the_goldens_and_fixtures_reads_back_as_written() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut found = BTreeSet::new();
        for d in ["fixtures", "reports", "tests"] {
            wire_paths(&root.join(d), &mut found);
        }
        assert!(found.len() >= 5, "{found:?}");
        for wire in &found {
            let loc = round_trip(wire);
            assert_eq!(loc.in_an_image(), wire.starts_with("image:"), "{wire:?}");
        }
    }

    #[test]
    fn report_problems_keep_their_node_and_write_it_folded_as_before() {
        let inner =
            Location::in_image("nova:latest", Location::path("/var/lib/dpkg/status")).at_line(7);
        let p = ReportProblem::of_node(
            "cmp:1",
            Problem::new(inner.clone(), ProblemKind::Malformed, "bad stanza"),
        );
        let json = serde_json::to_value(&p).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "location": { "path": "cmp:1:image:nova:latest:/var/lib/dpkg/status", "line": 7 },
                "kind": "malformed",
                "message": "bad stanza",
                "node": "cmp:1",
            })
        );
        assert_eq!(
            p.to_string(),
            "cmp:1:image:nova:latest:/var/lib/dpkg/status:7: bad stanza"
        );
        let back: ReportProblem = serde_json::from_value(json).unwrap();
        assert_eq!(back, p);
        assert_eq!(back.problem.location.origin, inner.origin);
        // A lockfile scanned alone: its node is its own path, written once.
        let alone = ReportProblem::of_node(
            "/srv/Cargo.lock",
            Problem::new(Location::path("/srv/Cargo.lock"), ProblemKind::Skipped, "x"),
        );
        let json = serde_json::to_value(&alone).unwrap();
        assert_eq!(json["location"]["path"], "/srv/Cargo.lock");
        assert_eq!(
            serde_json::from_value::<ReportProblem>(json).unwrap(),
            alone
        );
        // The scan's own problem has no node; a report written before `node` reads as one.
        let own = ReportProblem::scan(Problem::new(
            Location::path("https://x/y"),
            ProblemKind::Unreadable,
            "z",
        ));
        let json = serde_json::to_value(&own).unwrap();
        assert!(json.get("node").is_none());
        assert_eq!(serde_json::from_value::<ReportProblem>(json).unwrap(), own);
        // A node its path does not begin with is refused, naming both.
        let e = serde_json::from_value::<ReportProblem>(serde_json::json!({
            "location": { "path": "other:/x" }, "kind": "skipped", "message": "m", "node": "cmp",
        }))
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("problem location `other:/x` does not begin with its node `cmp:`"),
            "{e}"
        );
    }

    #[test]
    fn image_locations_are_typed_and_written_as_before() {
        let loc = round_trip("image:quay.io/openstack.kolla/nova-api:2024.1:/var/lib/dpkg/status");
        assert_eq!(
            loc.origin,
            Origin::Image {
                reference: "quay.io/openstack.kolla/nova-api:2024.1".into()
            }
        );
        assert_eq!(loc.path, "/var/lib/dpkg/status");
        let loc = round_trip("image:localhost:5000/nova:latest:/x:/y");
        assert_eq!(loc.image_reference(), Some("localhost:5000/nova:latest"));
        assert_eq!(loc.path, "/x:/y");
        let loc = round_trip("image:nova:latest:");
        assert_eq!(loc.image_reference(), Some("nova:latest"));
        assert_eq!(loc.path, "");
        for (wire, name) in [
            ("image:bomb:gz", "bomb:gz"),
            ("image:/srv/images/nova.tar", "/srv/images/nova.tar"),
            ("image:", ""),
        ] {
            let loc = round_trip(wire);
            assert_eq!(
                loc.origin,
                Origin::ImageSource {
                    name: name.to_owned()
                }
            );
        }
        for host in [
            "/var/lib/dpkg/status",
            "OSSA-2099-002.yaml",
            "n1:image:a:/b",
            "",
        ] {
            assert_eq!(round_trip(host).origin, Origin::Host, "{host:?}");
        }
        let built = Location::in_image(
            "nova:latest",
            Location::path("/var/lib/dpkg/status").at_line(7),
        );
        assert_eq!(built.wire_path(), "image:nova:latest:/var/lib/dpkg/status");
        assert_eq!(built.line, Some(7));
        // Odd pieces are stored as their string reads back, so equality never depends on how
        // a location was built.
        let odd = Location::in_image("a", Location::path("relative"));
        assert_eq!(odd.wire_path(), "image:a:relative");
        assert_eq!(odd.origin, round_trip("image:a:relative").origin);
        assert_eq!(
            Location::image("docker:/run/docker.sock").image_reference(),
            Some("docker")
        );
    }

    #[test]
    fn order_equality_and_hash_follow_the_wire_string() {
        let mut locs: Vec<Location> = [
            "image:a-b:/x",
            "image:a:/z",
            "/var/lib/dpkg/status",
            "image:a:/y",
            "image:bomb:gz",
        ]
        .into_iter()
        .map(|w| serde_json::from_value(serde_json::json!({ "path": w })).unwrap())
        .collect();
        locs.push(Location::path("image:a:/y"));
        let mut strings: Vec<String> = locs.iter().map(|l| l.wire_path().into_owned()).collect();
        locs.sort();
        strings.sort();
        assert_eq!(
            locs.iter()
                .map(|l| l.wire_path().into_owned())
                .collect::<Vec<_>>(),
            strings
        );
        assert_eq!(locs[2], locs[3]);
        let hash = |l: &Location| {
            use std::hash::{BuildHasher, BuildHasherDefault};
            BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default().hash_one(l)
        };
        assert_eq!(hash(&locs[2]), hash(&locs[3]));
        assert!(Location::path("/a").at_line(2) > Location::path("/a").at_line(1));
    }
}
