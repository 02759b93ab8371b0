//! Where a Python distribution was found ([`PythonEnvironment`]): typed, and written as the
//! path string the inventory always had (`/openstack/venvs/nova-29.0.0`,
//! `/usr/lib/python3/dist-packages`).

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Serialize};

/// The environment of a Python distribution (`PackageMeta::Python::environment`).
///
/// On the wire it is the bare path. The python collector builds it: the prefix holding
/// `pyvenv.cfg` is a virtualenv's root, any other site directory is itself the environment.
/// Read back, a path whose last component is `site-packages` or `dist-packages` is a site
/// directory and any other a virtualenv root (the collector's site directories all end so:
/// they are found by those names). Either way the path is written back exactly as read.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PythonEnvironment {
    /// A virtualenv: the directory holding `pyvenv.cfg`.
    Venv {
        /// The virtualenv's root.
        root: String,
    },
    /// A site directory outside any virtualenv (the interpreter's, a user's, a prefix's).
    Site {
        /// The site directory (`…/site-packages`, `…/dist-packages`).
        dir: String,
    },
}

impl PythonEnvironment {
    /// The path, as the wire writes it.
    pub fn path(&self) -> &str {
        match self {
            Self::Venv { root } => root,
            Self::Site { dir } => dir,
        }
    }

    /// Whether `path` names a site directory (its last component is `site-packages` or
    /// `dist-packages`).
    fn is_site_dir(path: &str) -> bool {
        matches!(
            path.trim_end_matches('/').rsplit('/').next(),
            Some("site-packages" | "dist-packages")
        )
    }
}

impl From<&str> for PythonEnvironment {
    /// Read the wire form (every string reads).
    fn from(s: &str) -> Self {
        if Self::is_site_dir(s) {
            Self::Site { dir: s.to_owned() }
        } else {
            Self::Venv { root: s.to_owned() }
        }
    }
}

impl fmt::Display for PythonEnvironment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.path())
    }
}

impl Serialize for PythonEnvironment {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.path())
    }
}

impl<'de> Deserialize<'de> for PythonEnvironment {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = Cow::<str>::deserialize(d)?;
        Ok(Self::from(s.as_ref()))
    }
}

impl schemars::JsonSchema for PythonEnvironment {
    fn is_referenceable() -> bool {
        false
    }
    fn schema_name() -> String {
        String::schema_name()
    }
    fn json_schema(g: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema {
        String::json_schema(g)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(s: &str) -> PythonEnvironment {
        let e: PythonEnvironment = serde_json::from_value(serde_json::json!(s)).unwrap();
        assert_eq!(serde_json::to_value(&e).unwrap(), serde_json::json!(s));
        assert_eq!(e.to_string(), s);
        e
    }

    #[test]
    fn environments_are_typed_and_written_as_before() {
        for venv in [
            "/openstack/venvs/nova-29.0.0",
            "/var/lib/kolla/venv",
            "/opt/stack/data/venv",
            "",
            "/",
        ] {
            assert_eq!(
                read(venv),
                PythonEnvironment::Venv { root: venv.into() },
                "{venv:?}"
            );
        }
        for site in [
            "/usr/lib/python3/dist-packages",
            "/usr/local/lib/python3.11/site-packages",
            "/home/a/.local/lib/python3.12/site-packages/",
        ] {
            assert_eq!(
                read(site),
                PythonEnvironment::Site { dir: site.into() },
                "{site:?}"
            );
        }
        // A folder that only ends in the name is not a site directory.
        assert!(matches!(
            read("/opt/my-site-packages"),
            PythonEnvironment::Venv { .. }
        ));
    }
}
