//! Keystone v3: `POST /v3/auth/tokens` (password, application credential or token) and the
//! service catalog of the token response.

use serde::Deserialize;
use serde_json::{json, Value};

use super::cloud::{AuthMethod, CloudConfig, Named, Scope};
use super::http::{send, FailKind, Failure, Limits};

/// A catalog entry: one service with its endpoints.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct CatalogService {
    /// Service id.
    #[serde(default)]
    pub id: String,
    /// Catalog type (`volumev3`).
    #[serde(rename = "type")]
    pub kind: String,
    /// Name (`cinderv3`).
    #[serde(default)]
    pub name: String,
    /// Endpoints.
    #[serde(default)]
    pub endpoints: Vec<CatalogEndpoint>,
}

/// One endpoint.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct CatalogEndpoint {
    /// Id.
    #[serde(default)]
    pub id: String,
    /// `public`, `internal`, `admin`.
    pub interface: String,
    /// Region id (`region_id`, or the older `region`).
    #[serde(default)]
    pub region_id: Option<String>,
    /// Older spelling.
    #[serde(default)]
    pub region: Option<String>,
    /// URL.
    pub url: String,
}

impl CatalogEndpoint {
    /// The region, whichever field carries it.
    pub(crate) fn region(&self) -> &str {
        self.region_id
            .as_deref()
            .or(self.region.as_deref())
            .unwrap_or("")
    }
}

/// An issued token.
#[derive(Debug)]
pub(crate) struct Token {
    /// When it expires (RFC 3339).
    pub expires_at: Option<String>,
    /// The scoped project's id.
    pub project_id: Option<String>,
    /// The catalog.
    pub catalog: Vec<CatalogService>,
}

#[derive(Deserialize)]
struct TokenBody {
    token: TokenInner,
}

#[derive(Deserialize)]
struct TokenInner {
    expires_at: Option<String>,
    project: Option<IdOnly>,
    #[serde(default)]
    catalog: Option<Vec<CatalogService>>,
}

#[derive(Deserialize)]
struct IdOnly {
    id: String,
}

fn named(n: &Named) -> Value {
    match n {
        Named::Id(id) => json!({ "id": id }),
        Named::Name {
            name,
            domain_id,
            domain_name,
        } => {
            let domain = match (domain_id, domain_name) {
                (Some(id), _) => json!({ "id": id }),
                (None, Some(n)) => json!({ "name": n }),
                // As keystoneauth: no domain given means the default domain.
                (None, None) => json!({ "id": "default" }),
            };
            json!({ "name": name, "domain": domain })
        }
    }
}

/// The JSON body of `POST /v3/auth/tokens`.
pub(crate) fn auth_body(cfg: &CloudConfig) -> Value {
    let identity = match &cfg.method {
        AuthMethod::Password { user, password } => {
            let mut u = named(user);
            u["password"] = json!(password);
            json!({ "methods": ["password"], "password": { "user": u } })
        }
        AuthMethod::ApplicationCredential {
            id,
            name,
            user,
            secret,
        } => {
            let mut ac = json!({ "secret": secret });
            if let Some(id) = id {
                ac["id"] = json!(id);
            } else {
                ac["name"] = json!(name);
                if let Some(u) = user {
                    ac["user"] = named(u);
                }
            }
            json!({ "methods": ["application_credential"], "application_credential": ac })
        }
        AuthMethod::Token { token } => {
            json!({ "methods": ["token"], "token": { "id": token } })
        }
    };
    let mut auth = json!({ "identity": identity });
    match &cfg.scope {
        Scope::None => {}
        Scope::Project(p) => auth["scope"] = json!({ "project": named(p) }),
        Scope::Domain { id, name } => {
            auth["scope"] = match id {
                Some(id) => json!({ "domain": { "id": id } }),
                None => json!({ "domain": { "name": name } }),
            }
        }
    }
    json!({ "auth": auth })
}

/// `auth_url` with `/v3` (as keystoneauth: a versionless URL gets `/v3`).
pub(crate) fn v3_url(auth_url: &str) -> String {
    let u = auth_url.trim_end_matches('/');
    if u.ends_with("/v3") {
        u.to_owned()
    } else {
        format!("{u}/v3")
    }
}

/// Authenticate and return the token with its catalog.
pub(crate) async fn authenticate(
    client: &reqwest::Client,
    cfg: &CloudConfig,
    limits: Limits,
) -> Result<Token, Failure> {
    let url = format!("{}/auth/tokens", v3_url(&cfg.auth_url));
    let req = client
        .post(&url)
        .header("content-type", "application/json")
        .header("accept", "application/json")
        .body(auth_body(cfg).to_string());
    let a = send(req, &url, limits).await.map_err(|mut f| {
        f.message = format!("Keystone: {}", f.message.replacen("GET ", "POST ", 1));
        f
    })?;
    let keystone_says = || -> String {
        serde_json::from_slice::<Value>(&a.body)
            .ok()
            .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
            .unwrap_or_else(|| {
                String::from_utf8_lossy(&a.body[..a.body.len().min(200)]).into_owned()
            })
    };
    if a.status == 401 || a.status == 404 && matches!(cfg.method, AuthMethod::Token { .. }) {
        let what = match &cfg.method {
            AuthMethod::Password { .. } => "wrong user name or password, or no role on the scope",
            AuthMethod::ApplicationCredential { .. } => {
                "unknown, expired or wrong-secret application credential"
            }
            AuthMethod::Token { .. } => "the token is expired, revoked or unknown",
        };
        return Err(Failure {
            kind: FailKind::Unauthorized,
            message: format!(
                "Keystone refused the credentials of {} (POST {url}: HTTP {}): {what}; Keystone says: {}",
                cfg.origin,
                a.status,
                keystone_says()
            ),
        });
    }
    if (300..400).contains(&a.status) {
        return Err(Failure {
            kind: FailKind::Redirects,
            message: format!(
                "POST {url}: HTTP {}: Keystone redirects, and credentials are not sent on to another URL: give the final auth_url",
                a.status
            ),
        });
    }
    if !(200..300).contains(&a.status) {
        return Err(Failure {
            kind: FailKind::HttpStatus,
            message: format!("POST {url}: HTTP {}: {}", a.status, keystone_says()),
        });
    }
    a.subject_token.as_ref().ok_or_else(|| Failure {
        kind: FailKind::Garbage,
        message: format!(
            "POST {url}: HTTP {} without an X-Subject-Token header: not Keystone v3?",
            a.status
        ),
    })?;
    let body: TokenBody = serde_json::from_slice(&a.body).map_err(|e| Failure {
        kind: FailKind::Garbage,
        message: format!("POST {url}: the token response is not Keystone's: {e}"),
    })?;
    let catalog = body.token.catalog.ok_or_else(|| Failure {
        kind: FailKind::Garbage,
        message: format!(
            "POST {url}: the token has no catalog (unscoped?): give a project (project_name / OS_PROJECT_NAME) or an application credential"
        ),
    })?;
    Ok(Token {
        expires_at: body.token.expires_at,
        project_id: body.token.project.map(|p| p.id),
        catalog,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The real api-ref token samples parse, catalog included.
    #[test]
    fn upstream_token_samples_parse() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/data/openstack-api/keystone");
        for f in [
            "auth-password-project-scoped-response.json",
            "auth-token-scoped-response.json",
            "auth-application-credential-response.json",
        ] {
            let text = fs_err::read(dir.join(f)).unwrap();
            let t: TokenBody = serde_json::from_slice(&text).unwrap_or_else(|e| panic!("{f}: {e}"));
            let cat = t.token.catalog.unwrap();
            assert!(!cat.is_empty(), "{f}");
            assert!(
                cat.iter()
                    .all(|s| s.endpoints.iter().all(|e| !e.region().is_empty())),
                "{f}"
            );
        }
    }
}
