//! Where to authenticate, as the OpenStack clients read it: `clouds.yaml` merged with
//! `secure.yaml` for `--os-cloud NAME`, or the `OS_*` environment variables.
//!
//! Search order (openstacksdk's): `$OS_CLIENT_CONFIG_FILE`, `./clouds.yaml`,
//! `~/.config/openstack/clouds.yaml`, `/etc/openstack/clouds.yaml`; `secure.yaml` likewise
//! (`$OS_CLIENT_SECURE_FILE` first), its keys merged over the cloud's.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_yaml::Value;

/// How to authenticate.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum AuthMethod {
    /// User and password, scoped to a project (or a domain, or unscoped).
    Password {
        /// User name (with `user_domain`) or id.
        user: Named,
        /// The password.
        password: String,
    },
    /// An application credential: id, or name with its user.
    ApplicationCredential {
        /// Id.
        id: Option<String>,
        /// Name (needs `user`).
        name: Option<String>,
        /// Its user, when named.
        user: Option<Named>,
        /// The secret.
        secret: String,
    },
    /// An existing token.
    Token {
        /// The token.
        token: String,
    },
}

impl std::fmt::Debug for AuthMethod {
    // Secrets never reach logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Password { user, .. } => {
                write!(f, "Password {{ user: {user:?}, password: *** }}")
            }
            Self::ApplicationCredential { id, name, .. } => {
                write!(
                    f,
                    "ApplicationCredential {{ id: {id:?}, name: {name:?}, secret: *** }}"
                )
            }
            Self::Token { .. } => f.write_str("Token { *** }"),
        }
    }
}

/// An object named by id, or by name within a domain (given by name or id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Named {
    /// By id.
    Id(String),
    /// By name, in a domain.
    Name {
        /// The name.
        name: String,
        /// Domain id.
        domain_id: Option<String>,
        /// Domain name.
        domain_name: Option<String>,
    },
}

/// The token's scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Scope {
    /// No scope asked (application credentials carry their own).
    None,
    /// A project.
    Project(Named),
    /// A domain, by id or name.
    Domain {
        /// Id.
        id: Option<String>,
        /// Name.
        name: Option<String>,
    },
}

/// A cloud to discover.
#[derive(Debug, Clone)]
pub(crate) struct CloudConfig {
    /// The cloud's name (`--os-cloud`) or `env`.
    pub name: String,
    /// Where it came from (file or `OS_* environment`).
    pub origin: String,
    /// Keystone's URL (with or without `/v3`).
    pub auth_url: String,
    /// How.
    pub method: AuthMethod,
    /// Scope.
    pub scope: Scope,
    /// A CA bundle (PEM) to trust instead of the system's roots.
    pub cacert: Option<PathBuf>,
    /// `verify: false` / `OS_INSECURE`: TLS certificates are not checked.
    pub insecure: bool,
}

/// Errors reading the configuration.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CloudError {
    /// No clouds.yaml found.
    #[error("cloud `{cloud}`: no clouds.yaml found (looked at {})", .looked.join(", "))]
    NoCloudsFile {
        /// The cloud asked for.
        cloud: String,
        /// The paths looked at.
        looked: Vec<String>,
    },
    /// A file does not parse.
    #[error("{path}: {message}")]
    Malformed {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The cloud is not in the file.
    #[error("{path}: no cloud `{cloud}` (it has: {})", .known.join(", "))]
    UnknownCloud {
        /// The file.
        path: String,
        /// The cloud.
        cloud: String,
        /// The clouds it has.
        known: Vec<String>,
    },
    /// A field is missing or wrong.
    #[error("{origin}: {message}")]
    Field {
        /// The file and cloud, or `OS_* environment`.
        origin: String,
        /// What is wrong.
        message: String,
    },
}

fn candidates(env_var: &str, file: &str, env: &dyn Fn(&str) -> Option<String>) -> Vec<PathBuf> {
    let mut v = Vec::new();
    if let Some(p) = env(env_var).filter(|s| !s.is_empty()) {
        v.push(PathBuf::from(p));
    }
    v.push(PathBuf::from(file));
    if let Some(h) = env("HOME").filter(|s| !s.is_empty()) {
        v.push(Path::new(&h).join(".config/openstack").join(file));
    }
    v.push(Path::new("/etc/openstack").join(file));
    v
}

fn load_yaml(path: &Path) -> Result<Value, CloudError> {
    let text = fs_err::read_to_string(path).map_err(|e| CloudError::Malformed {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    serde_yaml::from_str(&text).map_err(|e| CloudError::Malformed {
        path: path.display().to_string(),
        message: e.to_string(),
    })
}

fn merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Mapping(b), Value::Mapping(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(slot) => merge(slot, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, o) => *b = o,
    }
}

/// A flat view of one cloud's settings: `auth.*` keys and the top-level ones.
struct Settings {
    origin: String,
    auth: BTreeMap<String, String>,
    top: BTreeMap<String, String>,
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn flat(m: &Value) -> BTreeMap<String, String> {
    m.as_mapping()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.as_str()?.replace('-', "_"), scalar(v)?)))
        .filter(|(_, v)| !v.is_empty())
        .collect()
}

/// Read cloud `name` from the clouds.yaml search path (with secure.yaml merged).
pub(crate) fn from_clouds_yaml(
    name: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<CloudConfig, CloudError> {
    let looked = candidates("OS_CLIENT_CONFIG_FILE", "clouds.yaml", env);
    let Some(path) = looked.iter().find(|p| p.is_file()) else {
        return Err(CloudError::NoCloudsFile {
            cloud: name.to_owned(),
            looked: looked.iter().map(|p| p.display().to_string()).collect(),
        });
    };
    let doc = load_yaml(path)?;
    let clouds = doc.get("clouds").ok_or_else(|| CloudError::Malformed {
        path: path.display().to_string(),
        message: "no top-level `clouds:` mapping".into(),
    })?;
    let known = |c: &Value| -> Vec<String> {
        c.as_mapping()
            .into_iter()
            .flatten()
            .filter_map(|(k, _)| k.as_str().map(str::to_owned))
            .collect()
    };
    let mut cloud = clouds
        .get(name)
        .cloned()
        .ok_or_else(|| CloudError::UnknownCloud {
            path: path.display().to_string(),
            cloud: name.to_owned(),
            known: known(clouds),
        })?;
    let mut origin = format!("{} (cloud {name})", path.display());
    if let Some(sp) = candidates("OS_CLIENT_SECURE_FILE", "secure.yaml", env)
        .into_iter()
        .find(|p| p.is_file())
    {
        let sec = load_yaml(&sp)?;
        if let Some(c) = sec.get("clouds").and_then(|c| c.get(name)) {
            merge(&mut cloud, c.clone());
            origin = format!("{origin} + {}", sp.display());
        }
    }
    if !cloud.is_mapping() {
        return Err(CloudError::Field {
            origin,
            message: "the cloud is not a mapping".into(),
        });
    }
    let auth = cloud.get("auth").map(flat).unwrap_or_default();
    let top = flat(&cloud);
    build(&Settings { origin, auth, top })
}

/// Read the `OS_*` environment variables (as `openrc` sets them).
pub(crate) fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Result<CloudConfig, CloudError> {
    let mut auth = BTreeMap::new();
    let mut top = BTreeMap::new();
    let keys = [
        "auth_url",
        "username",
        "user_id",
        "password",
        "user_domain_name",
        "user_domain_id",
        "project_name",
        "project_id",
        "project_domain_name",
        "project_domain_id",
        "domain_name",
        "domain_id",
        "application_credential_id",
        "application_credential_name",
        "application_credential_secret",
        "token",
    ];
    for k in keys {
        if let Some(v) = env(&format!("OS_{}", k.to_ascii_uppercase())).filter(|v| !v.is_empty()) {
            auth.insert(k.to_owned(), v);
        }
    }
    if !auth.contains_key("project_name") {
        if let Some(v) = env("OS_TENANT_NAME").filter(|v| !v.is_empty()) {
            auth.insert("project_name".into(), v);
        }
    }
    for (k, var) in [
        ("auth_type", "OS_AUTH_TYPE"),
        ("cacert", "OS_CACERT"),
        ("insecure", "OS_INSECURE"),
    ] {
        if let Some(v) = env(var).filter(|v| !v.is_empty()) {
            top.insert(k.to_owned(), v);
        }
    }
    build(&Settings {
        origin: "OS_* environment".into(),
        auth,
        top,
    })
}

fn build(s: &Settings) -> Result<CloudConfig, CloudError> {
    let err = |m: String| CloudError::Field {
        origin: s.origin.clone(),
        message: m,
    };
    let a = |k: &str| s.auth.get(k).cloned();
    let auth_url = a("auth_url").ok_or_else(|| err("no auth_url (OS_AUTH_URL)".into()))?;
    if !(auth_url.starts_with("https://") || auth_url.starts_with("http://")) {
        return Err(err(format!("auth_url `{auth_url}` is not an http(s) URL")));
    }
    let auth_type = s
        .top
        .get("auth_type")
        .map_or("password", String::as_str)
        .to_ascii_lowercase();
    let user = || -> Option<Named> {
        if let Some(id) = a("user_id") {
            return Some(Named::Id(id));
        }
        Some(Named::Name {
            name: a("username")?,
            domain_id: a("user_domain_id"),
            domain_name: a("user_domain_name"),
        })
    };
    let method = match auth_type.as_str() {
        "password" | "v3password" => AuthMethod::Password {
            user: user().ok_or_else(|| err("password auth needs username or user_id".into()))?,
            password: a("password").ok_or_else(|| err("password auth needs password (OS_PASSWORD)".into()))?,
        },
        "v3applicationcredential" | "applicationcredential" | "application_credential" => {
            let id = a("application_credential_id");
            let name = a("application_credential_name");
            if id.is_none() && name.is_none() {
                return Err(err(
                    "application credential auth needs application_credential_id or application_credential_name".into(),
                ));
            }
            let u = if id.is_none() { user() } else { None };
            if id.is_none() && u.is_none() {
                return Err(err("a named application credential needs its user (username and user_domain_*, or user_id)".into()));
            }
            AuthMethod::ApplicationCredential {
                id,
                name,
                user: u,
                secret: a("application_credential_secret").ok_or_else(|| {
                    err("application credential auth needs application_credential_secret".into())
                })?,
            }
        }
        "token" | "v3token" => AuthMethod::Token {
            token: a("token").ok_or_else(|| err("token auth needs token (OS_TOKEN)".into()))?,
        },
        other => {
            return Err(err(format!(
                "auth_type `{other}` is not supported: expected password, v3applicationcredential or token"
            )))
        }
    };
    let scope = if matches!(method, AuthMethod::ApplicationCredential { .. }) {
        Scope::None
    } else if let Some(id) = a("project_id") {
        Scope::Project(Named::Id(id))
    } else if let Some(name) = a("project_name") {
        Scope::Project(Named::Name {
            name,
            domain_id: a("project_domain_id"),
            domain_name: a("project_domain_name"),
        })
    } else if a("domain_id").is_some() || a("domain_name").is_some() {
        Scope::Domain {
            id: a("domain_id"),
            name: a("domain_name"),
        }
    } else {
        Scope::None
    };
    let truthy = |v: &str| matches!(v.to_ascii_lowercase().as_str(), "true" | "yes" | "1" | "on");
    let insecure = s.top.get("verify").is_some_and(|v| !truthy(v))
        || s.top.get("insecure").is_some_and(|v| truthy(v));
    let cacert = s
        .top
        .get("cacert")
        .or_else(|| s.auth.get("cacert"))
        .map(PathBuf::from);
    Ok(CloudConfig {
        name: String::new(),
        origin: s.origin.clone(),
        auth_url,
        method,
        scope,
        cacert,
        insecure,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn clouds_yaml_merged_with_secure_yaml() {
        let t = tempfile::tempdir().unwrap();
        fs_err::write(
            t.path().join("c.yaml"),
            "clouds:\n  prod:\n    auth:\n      auth_url: https://k:5000/v3\n      username: u\n      user_domain_name: Default\n      project_name: p\n      project_domain_id: default\n    cacert: /etc/ca.pem\n",
        )
        .unwrap();
        fs_err::write(
            t.path().join("s.yaml"),
            "clouds:\n  prod:\n    auth:\n      password: s3cret\n",
        )
        .unwrap();
        let c = t.path().join("c.yaml").display().to_string();
        let s = t.path().join("s.yaml").display().to_string();
        let env = env_of(&[("OS_CLIENT_CONFIG_FILE", &c), ("OS_CLIENT_SECURE_FILE", &s)]);
        let cfg = from_clouds_yaml("prod", &env).unwrap();
        assert!(
            matches!(&cfg.method, AuthMethod::Password { password, .. } if password == "s3cret")
        );
        assert_eq!(cfg.cacert.as_deref(), Some(Path::new("/etc/ca.pem")));
        assert!(!format!("{:?}", cfg.method).contains("s3cret"));
        let e = from_clouds_yaml("nope", &env).unwrap_err().to_string();
        assert!(e.contains("no cloud `nope`") && e.contains("prod"), "{e}");
    }

    #[test]
    fn env_application_credential() {
        let env = env_of(&[
            ("OS_AUTH_URL", "http://k/v3"),
            ("OS_AUTH_TYPE", "v3applicationcredential"),
            ("OS_APPLICATION_CREDENTIAL_ID", "abc"),
        ]);
        let e = from_env(&env).unwrap_err().to_string();
        assert!(e.contains("application_credential_secret"), "{e}");
        let env = env_of(&[("OS_AUTH_URL", "ftp://k")]);
        assert!(from_env(&env)
            .unwrap_err()
            .to_string()
            .contains("not an http(s) URL"));
    }
}
