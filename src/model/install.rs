//! How a service was installed ([`Install`]): typed, and written as the string the inventory
//! always had (`distro:python3-nova`, `venv:/openstack/venvs/nova-29.0.0`, `site:<dir>`, with
//! `image:<reference>:` before it for a service inside a container image).

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::{Location, Origin};

/// The way a service's Python distribution is installed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum InstallKind {
    /// Owned by the OS package manager: `distro`, or `distro:<owner>` (the owning package or
    /// the package manager).
    Distro {
        /// The owner, when known.
        owner: Option<String>,
    },
    /// In a virtualenv: `venv:<root>`.
    Venv {
        /// The virtualenv's root directory.
        root: String,
    },
    /// In a site directory outside any virtualenv: `site`, or `site:<dir>`.
    Site {
        /// The directory, when known.
        dir: Option<String>,
    },
    /// Anything else an inventory said, kept as written.
    Other(String),
}

impl InstallKind {
    fn pieces(&self) -> [&str; 2] {
        match self {
            Self::Distro { owner: None } => ["distro", ""],
            Self::Distro { owner: Some(o) } => ["distro:", o],
            Self::Venv { root } => ["venv:", root],
            Self::Site { dir: None } => ["site", ""],
            Self::Site { dir: Some(d) } => ["site:", d],
            Self::Other(s) => [s, ""],
        }
    }

    /// Read one kind; `None` when `s` is none of the known forms.
    fn known(s: &str) -> Option<Self> {
        let owned = |x: &str| Some(x.to_owned());
        match s.split_once(':') {
            None if s == "distro" => Some(Self::Distro { owner: None }),
            None if s == "site" => Some(Self::Site { dir: None }),
            Some(("distro", o)) => Some(Self::Distro { owner: owned(o) }),
            Some(("venv", r)) => Some(Self::Venv { root: r.to_owned() }),
            Some(("site", d)) => Some(Self::Site { dir: owned(d) }),
            _ => None,
        }
    }
}

/// How and where a service is installed: on the node or inside a container image, and by
/// which way.
#[derive(Debug, Clone)]
pub struct Install {
    /// The node's own files or an image ([`Origin::Image`]; never [`Origin::ImageSource`]).
    pub origin: Origin,
    /// The way.
    pub kind: InstallKind,
}

impl Install {
    /// On the node, `kind`.
    pub fn host(kind: InstallKind) -> Self {
        Self {
            origin: Origin::Host,
            kind,
        }
    }

    /// The same install inside image `reference`.
    #[must_use]
    pub fn in_image(self, reference: &str) -> Self {
        Self {
            origin: Origin::Image {
                reference: reference.to_owned(),
            },
            ..self
        }
    }

    /// The directory the distribution lives in: a virtualenv's root or a site directory.
    pub fn environment(&self) -> Option<&str> {
        match &self.kind {
            InstallKind::Venv { root } => Some(root),
            InstallKind::Site { dir } => dir.as_deref(),
            InstallKind::Distro { .. } | InstallKind::Other(_) => None,
        }
    }

    /// Whether the OS package manager installed it on the node itself.
    pub fn is_host_distro(&self) -> bool {
        self.origin == Origin::Host && matches!(self.kind, InstallKind::Distro { .. })
    }

    /// Where it is, as a location (`image:<reference>:venv:/var/lib/kolla/venv`).
    pub fn location(&self) -> Location {
        Location::path(self.to_string())
    }

    fn pieces(&self) -> [&str; 5] {
        let [k, v] = self.kind.pieces();
        match &self.origin {
            Origin::Host => ["", "", "", k, v],
            Origin::Image { reference } | Origin::ImageSource { name: reference } => {
                ["image:", reference, ":", k, v]
            }
        }
    }

    fn wire_bytes(&self) -> impl Iterator<Item = u8> + '_ {
        self.pieces().into_iter().flat_map(str::bytes)
    }
}

impl Default for Install {
    /// Unknown: written as the empty string.
    fn default() -> Self {
        Self::host(InstallKind::Other(String::new()))
    }
}

impl std::str::FromStr for Install {
    type Err = std::convert::Infallible;

    /// Read the wire form (every string reads: an unknown one is [`InstallKind::Other`]).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(kind) = InstallKind::known(s) {
            return Ok(Self::host(kind));
        }
        if let Some(rest) = s.strip_prefix("image:") {
            // The reference holds colons (`nova:latest`): the first split whose rest reads.
            let split = rest
                .match_indices(':')
                .find_map(|(i, _)| InstallKind::known(&rest[i + 1..]).map(|k| (&rest[..i], k)));
            if let Some((reference, kind)) = split {
                return Ok(Self::host(kind).in_image(reference));
            }
        }
        Ok(Self::host(InstallKind::Other(s.to_owned())))
    }
}

impl fmt::Display for Install {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.pieces().into_iter().try_for_each(|p| f.write_str(p))
    }
}

impl PartialEq for Install {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Install {}

impl PartialOrd for Install {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Install {
    /// As the wire strings compare (services are sorted by it).
    fn cmp(&self, other: &Self) -> Ordering {
        self.wire_bytes().cmp(other.wire_bytes())
    }
}

impl std::hash::Hash for Install {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.to_string().hash(state);
    }
}

impl Serialize for Install {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Install {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = Cow::<str>::deserialize(d)?;
        let Ok(i) = s.parse();
        Ok(i)
    }
}

super::schema_as_string!(Install);

#[cfg(test)]
mod tests {
    use super::*;

    fn read(s: &str) -> Install {
        let i: Install = serde_json::from_value(serde_json::json!(s)).unwrap();
        assert_eq!(serde_json::to_value(&i).unwrap(), serde_json::json!(s));
        assert_eq!(i.to_string(), s);
        i
    }

    #[test]
    fn installs_are_typed_and_written_as_before() {
        let i = read("venv:/openstack/venvs/nova-29.0.0");
        assert_eq!(i.environment(), Some("/openstack/venvs/nova-29.0.0"));
        assert!(!i.is_host_distro());
        let i = read("distro:python3-nova");
        assert!(i.is_host_distro());
        assert_eq!(
            i.kind,
            InstallKind::Distro {
                owner: Some("python3-nova".into())
            }
        );
        assert!(read("distro").is_host_distro());
        assert_eq!(read("site").kind, InstallKind::Site { dir: None });
        let i = read("image:quay.io/openstack.kolla/nova-api:2024.1:venv:/var/lib/kolla/venv");
        assert_eq!(
            i.origin,
            Origin::Image {
                reference: "quay.io/openstack.kolla/nova-api:2024.1".into()
            }
        );
        assert_eq!(i.environment(), Some("/var/lib/kolla/venv"));
        let i = read("image:nova:latest:distro:python3-nova");
        assert!(!i.is_host_distro());
        assert_eq!(
            i.origin,
            Origin::Image {
                reference: "nova:latest".into()
            }
        );
        for odd in ["", "pip", "image:nova", "venv"] {
            assert_eq!(read(odd).kind, InstallKind::Other(odd.into()), "{odd:?}");
        }
        let built = Install::host(InstallKind::Venv {
            root: "/var/lib/kolla/venv".into(),
        })
        .in_image("nova:latest");
        assert_eq!(
            built.to_string(),
            "image:nova:latest:venv:/var/lib/kolla/venv"
        );
        assert_eq!(built, read("image:nova:latest:venv:/var/lib/kolla/venv"));
    }

    #[test]
    fn installs_sort_as_their_strings() {
        let mut v: Vec<Install> = [
            "site",
            "image:a:venv:/x",
            "distro:x",
            "venv:/b",
            "image:a-b:site",
        ]
        .into_iter()
        .map(read)
        .collect();
        let mut s: Vec<String> = v.iter().map(ToString::to_string).collect();
        v.sort();
        s.sort();
        assert_eq!(v.iter().map(ToString::to_string).collect::<Vec<_>>(), s);
    }
}
