//! Handlers. Agents authenticate with their node token (`Authorization: Bearer`); enrollment with
//! the server's enrollment secret (or an `admin` API token); reads and `reanalyze` with an API
//! token of the `read` and `operate` roles ([`super::auth`]).
//! `POST /v1/inventories` is an agent's push, `GET /v1/inventories` a read (the planner's input).

use std::io::Read;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::analysis;
use super::batch::{OwnedBeat, OwnedPush};
use super::query;
use super::{ApiError, AppState};
use crate::client::{hash_and_body, EnrollRequest, EnrollResponse, Heartbeat, PushResponse};
use crate::model::{FindingCode, Inventory, Severity, INVENTORY_SCHEMA_VERSION};
use crate::report::{Format, WriterOptions};
use crate::store::{token_hash, FindingFilter, Millis, PreparedInventory};

pub(super) fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/v1/enroll", post(enroll))
        .route("/v1/inventories", post(push).get(stored_inventories))
        .route("/v1/reanalyze", post(reanalyze))
        .route("/v1/nodes", get(nodes))
        .route("/v1/nodes/{id}", get(node))
        .route("/v1/nodes/{id}/history", get(history))
        .route("/v1/findings", get(findings))
        .route("/v1/where", get(holders))
        .route("/v1/diff", get(diff))
        .route("/v1/report.json", get(report_json))
        .route("/v1/report.html", get(report_html))
        .route("/v1/controlplane", get(super::controlplane::latest))
        .route(
            "/v1/controlplane/history",
            get(super::controlplane::history),
        )
        .fallback(|| async { ApiError::NotFound("no such endpoint".into()) })
        .with_state(state)
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Equality in time independent of where the inputs differ (over their sha256).
fn same_secret(a: &str, b: &str) -> bool {
    let (x, y) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    x.iter()
        .zip(y.iter())
        .fold(0u8, |acc, (p, q)| acc | (p ^ q))
        == 0
}

/// Reads need an API token with the `read` role (see [`super::auth`]).
fn authorize_read(st: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    st.options().access.require(headers, super::Role::Read)
}

async fn healthz() -> &'static str {
    "ok\n"
}

/// How long `/readyz` waits for the store: past it, not ready (a database that does not
/// answer must not make the readiness check hang).
const READY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Ready when the database answers and takes writes (after a failed write, a probe write of
/// its size must commit: see `Store::ready`).
///
/// Load balancers ask without a token and get only the status; the backend, the data revision
/// and the advisory count are for readers (a `read` token).
async fn readyz(
    State(st): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    match tokio::time::timeout(READY_TIMEOUT, st.store().ready()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(ApiError::Unavailable(e.to_string())),
        Err(_) => {
            return Err(ApiError::Unavailable(format!(
                "the database did not answer within {} s",
                READY_TIMEOUT.as_secs()
            )))
        }
    }
    if authorize_read(&st, &headers).is_err() {
        return Ok(Json(serde_json::json!({ "status": "ready" })));
    }
    let an = st.analyzer();
    Ok(Json(serde_json::json!({
        "status": "ready",
        "backend": st.store().backend(),
        "revision": an.revision(),
        "advisories": an.index().len(),
    })))
}

pub(super) async fn metrics(State(st): State<AppState>) -> Result<Response, ApiError> {
    let now = Millis::now();
    let an = st.analyzer();
    let max = an.policy().max_inventory_age_hours;
    let nodes = st
        .store()
        .nodes()
        .await?
        .into_iter()
        .map(|n| {
            let s = query::status(&n, max, now);
            (n, s)
        })
        .collect();
    let last_fleet_run = st.store().latest_run("fleet").await?;
    let counters = &st.metrics().findings;
    counters
        .seed_if_stale(st.store(), last_fleet_run.as_ref().map(|r| r.id))
        .await?;
    let facts = super::metrics::FleetFacts {
        nodes,
        findings: counters.snapshot(),
        last_fleet_run,
        feeds: an
            .feeds()
            .iter()
            .map(|f| (f.name.clone(), f.loaded, f.advisories))
            .collect(),
        now,
    };
    let mut body = super::metrics::render(st.metrics(), &facts);
    body.push_str(&st.writer().render());
    if let Some(m) = st.0.probe_metrics.get().and_then(|m| m.lock().ok()) {
        body.push_str(&m.render());
    }
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response())
}

/// Read a body of at most `limit` bytes, as sent.
async fn read_raw(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<(Bytes, Option<String>), ApiError> {
    let raw = axum::body::to_bytes(body, limit).await.map_err(|e| {
        let mut src: Option<&dyn std::error::Error> = Some(&e);
        while let Some(s) = src {
            if s.is::<http_body_util::LengthLimitError>() {
                return ApiError::TooLarge(limit);
            }
            if let Some(t) = s.downcast_ref::<super::limits::BodyTimeout>() {
                return ApiError::Timeout(t.to_string());
            }
            src = s.source();
        }
        ApiError::BadRequest(format!("cannot read the request body: {e}"))
    })?;
    let enc = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_ascii_lowercase());
    match enc.as_deref() {
        None | Some("identity" | "" | "gzip" | "x-gzip") => Ok((raw, enc)),
        Some(other) => Err(ApiError::UnsupportedEncoding(other.to_owned())),
    }
}

/// Gunzip `raw` when `enc` says so; the limit applies to the decompressed size too, and no
/// more is decoded than the gzip trailer declares (what the push was charged for).
fn decode(raw: Bytes, enc: Option<&str>, limit: usize) -> Result<Bytes, ApiError> {
    match enc {
        Some("gzip" | "x-gzip") => {
            let declared = super::limits::decoded_size(&raw, enc);
            if declared > limit {
                return Err(ApiError::TooLarge(limit));
            }
            let mut out = Vec::with_capacity(declared);
            let cap = u64::try_from(declared)
                .unwrap_or(u64::MAX)
                .saturating_add(1);
            flate2::read::GzDecoder::new(&raw[..])
                .take(cap)
                .read_to_end(&mut out)
                .map_err(|e| ApiError::BadRequest(format!("invalid gzip body: {e}")))?;
            if out.len() > declared {
                return Err(ApiError::BadRequest(
                    "invalid gzip body: longer than its trailer says".into(),
                ));
            }
            Ok(Bytes::from(out))
        }
        _ => Ok(raw),
    }
}

/// Read and decode a (small) body.
async fn read_body(headers: &HeaderMap, body: Body, limit: usize) -> Result<Bytes, ApiError> {
    let (raw, enc) = read_raw(headers, body, limit).await?;
    decode(raw, enc.as_deref(), limit)
}

/// Parse JSON into `T`, naming the offending field on failure (the path is tracked only when
/// the fast parse failed).
fn parse_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if let Ok(v) = serde_json::from_slice(bytes) {
        return Ok(v);
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let field = e.path().to_string();
        let inner = e.into_inner();
        match inner.classify() {
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                ApiError::BadRequest(format!("the body is not valid JSON: {inner}"))
            }
            _ => ApiError::InvalidInventory {
                field: if field == "." { String::new() } else { field },
                message: inner.to_string(),
            },
        }
    })
}

fn valid_node_id(id: &str) -> bool {
    crate::model::valid_name(id)
}

async fn enroll(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<EnrollResponse>), ApiError> {
    // The enrollment secret, or an `admin` API token.
    if !st.options().access.is_admin(&headers) {
        let Some(secret) = &st.options().enroll_secret else {
            return Err(ApiError::Forbidden(
                "enrollment is disabled on this server (start it with --enroll-secret-file)".into(),
            ));
        };
        match bearer(&headers) {
            Some(given) if same_secret(given, secret) => {}
            _ => return Err(ApiError::Unauthorized),
        }
    }
    let bytes = read_body(&headers, body, 64 * 1024).await?;
    let req: EnrollRequest = parse_json(&bytes)?;
    if !valid_node_id(&req.node) {
        return Err(ApiError::InvalidInventory {
            field: "node".into(),
            message: format!(
                "expected a node id of letters, digits, `.`, `-`, `_`, `:` (at most 253), found `{}`",
                req.node
            ),
        });
    }
    let mut raw = [0u8; 32];
    getrandom::fill(&mut raw).map_err(ApiError::internal)?;
    let token = crate::util::hex(&raw);
    st.store()
        .enroll(&req.node, &token_hash(&token), Millis::now())
        .await?;
    tracing::info!("node `{}` enrolled", req.node);
    Ok((
        StatusCode::CREATED,
        Json(EnrollResponse {
            node: req.node,
            token,
        }),
    ))
}

fn unchanged(node: String, hash: String) -> Response {
    (
        StatusCode::OK,
        Json(PushResponse {
            status: "unchanged".into(),
            node,
            hash,
            findings: None,
            run: None,
        }),
    )
        .into_response()
}

/// Bodies shorter than this may be a heartbeat (`{"heartbeat": HASH}`).
const HEARTBEAT_MAX: usize = 512;

/// Who pushes: the node of a token, from this process's cache (`verified` false: the store
/// has not been asked; a heartbeat's write checks the token itself) or from the store, with
/// its current inventory hash.
struct Identity {
    node: String,
    current: Option<String>,
    verified: bool,
}

impl Identity {
    /// Ask the store whose token this is (401 when nobody's, or revoked).
    async fn verify(st: &AppState, token_hash: &str) -> Result<Self, ApiError> {
        let owner = st
            .store()
            .authenticate(token_hash)
            .await?
            .ok_or(ApiError::Unauthorized)?;
        st.node_tokens().insert(token_hash, &owner.node);
        Ok(Self {
            node: owner.node,
            current: owner.current_hash,
            verified: true,
        })
    }

    /// Record a heartbeat announcing `hash`: `true` once committed; `false` when the store
    /// does not hold that inventory as the node's current one (send the full inventory).
    /// A write refused to a token known only from the cache asks the store (401 when the
    /// token is no longer the node's).
    async fn beat(
        &mut self,
        st: &AppState,
        token_hash: &str,
        hash: &str,
        now: Millis,
    ) -> Result<bool, ApiError> {
        for _ in 0..2 {
            if self.verified && self.current.as_deref() != Some(hash) {
                return Ok(false);
            }
            let beat = OwnedBeat {
                node: self.node.clone(),
                token_hash: token_hash.to_owned(),
                hash: hash.to_owned(),
                at: now,
            };
            if st.writer().heartbeat(beat).await? {
                return Ok(true);
            }
            if self.verified {
                return Ok(false);
            }
            st.node_tokens().forget(token_hash);
            *self = Self::verify(st, token_hash).await?;
        }
        Ok(false)
    }
}

async fn push(State(st): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let started = Instant::now();
    let (kind, r) = push_inner(&st, &headers, body).await;
    let result = match &r {
        Ok(resp) if resp.status() == StatusCode::OK => "unchanged",
        Ok(_) => "stored",
        Err(e) => match e.status_code() {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => "denied",
            StatusCode::CONFLICT => "inventory-required",
            s if s.is_client_error() => "rejected",
            _ => "error",
        },
    };
    st.metrics().pushes.inc(kind, result);
    st.metrics().ingest.observe(kind, started.elapsed());
    r.unwrap_or_else(IntoResponse::into_response)
}

async fn push_inner(
    st: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> (&'static str, Result<Response, ApiError>) {
    let mut kind = "heartbeat";
    let r = async {
        let token = bearer(headers).ok_or(ApiError::Unauthorized)?;
        let token_hash = token_hash(token);
        let mut id = match st.node_tokens().get(&token_hash) {
            Some(node) => Identity {
                node,
                current: None,
                verified: false,
            },
            None => Identity::verify(st, &token_hash).await?,
        };
        st.push_rate().check(&id.node)?;
        let now = Millis::now();
        // An unchanged inventory announced by its hash: not even read.
        if let Some(h) = headers
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().trim_start_matches("W/").trim_matches('"').to_owned())
        {
            if id.beat(st, &token_hash, &h, now).await? {
                return Ok(unchanged(id.node, h));
            }
        }
        // Only a body declared heartbeat-sized is read for a token the store was not asked
        // about: anything larger is authenticated first.
        let declared_small = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
            .is_some_and(|n| n < HEARTBEAT_MAX);
        if !id.verified && !declared_small {
            id = Identity::verify(st, &token_hash).await?;
        }
        let t = Instant::now();
        let limit = st.options().body_limit;
        // Memory for this push from the shared budget: its wire size, then its decoded size.
        let wait = st.options().limits.body_timeout;
        let mut charge = st.push_budget().admit_wire(headers, limit, wait).await?;
        let (raw, enc) = read_raw(headers, body, limit).await?;
        let decoded = super::limits::decoded_size(&raw, enc.as_deref());
        if decoded > limit {
            return Err(ApiError::TooLarge(limit));
        }
        st.push_budget()
            .admit_decoded(&mut charge, raw.len(), decoded, wait)
            .await?;
        let read = t.elapsed();
        // Heartbeats are small: decoded here; inventories on a blocking thread.
        let small = raw.len() < HEARTBEAT_MAX;
        let mut raw = Some(raw);
        let bytes = if small {
            decode(raw.take().unwrap_or_default(), enc.as_deref(), limit)?
        } else {
            Bytes::new()
        };
        if small {
            if let Ok(hb) = serde_json::from_slice::<Heartbeat>(&bytes) {
                if id.beat(st, &token_hash, &hb.heartbeat, now).await? {
                    return Ok(unchanged(id.node, hb.heartbeat));
                }
                return Err(ApiError::Conflict {
                    code: "inventory-required",
                    message: format!(
                        "the server does not hold inventory `{}` for node `{}`: send the full inventory",
                        hb.heartbeat, id.node
                    ),
                });
            }
        }
        kind = "inventory";
        // A full inventory is always authenticated against the store.
        if !id.verified {
            id = Identity::verify(st, &token_hash).await?;
        }
        let Identity { node, current, .. } = id;
        let stages = &st.metrics().stages;
        stages.observe("read", read);
        let t = Instant::now();
        // Parsed, hashed and serialised for the store here, not while holding the writer.
        let (inv, hash, stored_body, prepared) = tokio::task::spawn_blocking(move || {
            let bytes = match raw {
                Some(raw) => decode(raw, enc.as_deref(), limit)?,
                None => bytes,
            };
            let inv = parse_json::<Inventory>(&bytes)?;
            let (hash, body) = hash_and_body(&inv);
            let body = serde_json::value::RawValue::from_string(body).map_err(ApiError::internal)?;
            let prepared = PreparedInventory::new(&inv)?;
            Ok::<_, ApiError>((inv, hash, body, prepared))
        })
        .await
        .map_err(ApiError::internal)??;
        stages.observe("parse", t.elapsed());
        check_inventory(&inv, &node)?;
        if current.as_deref() == Some(hash.as_str()) {
            let beat = OwnedBeat {
                node: node.clone(),
                token_hash,
                hash: hash.clone(),
                at: now,
            };
            if st.writer().heartbeat(beat).await? {
                return Ok(unchanged(node, hash));
            }
        }
        judge_and_store(st, node, hash, stored_body, prepared, inv).await
    }
    .await;
    (kind, r)
}

/// What a stored inventory must be: a schema this server reads, names and package strings
/// the planner can put into files and playbooks, the node of the token that pushed it.
fn check_inventory(inv: &Inventory, node: &str) -> Result<(), ApiError> {
    if inv.schema_version > INVENTORY_SCHEMA_VERSION || inv.schema_version == 0 {
        return Err(ApiError::InvalidInventory {
            field: "schema_version".into(),
            message: format!(
                "expected an inventory schema version from 1 to {INVENTORY_SCHEMA_VERSION}, found {}",
                inv.schema_version
            ),
        });
    }
    // Names the planner puts into file names, --limit and YAML, and package strings it
    // puts into playbooks, must be what a node and a package manager can really hold.
    if let Some((field, message)) = inv.unsafe_fields().into_iter().next() {
        return Err(ApiError::InvalidInventory { field, message });
    }
    if inv.node.id != node {
        return Err(ApiError::Forbidden(format!(
            "this token belongs to node `{node}`, not to `{}`",
            inv.node.id
        )));
    }
    Ok(())
}

/// Judge a changed inventory (off the async threads) and store it through the group-commit
/// writer; `201` once committed.
async fn judge_and_store(
    st: &AppState,
    node: String,
    hash: String,
    stored_body: Box<serde_json::value::RawValue>,
    prepared: PreparedInventory,
    inv: Inventory,
) -> Result<Response, ApiError> {
    let stages = &st.metrics().stages;
    let analysis_started = Millis::now();
    let t = Instant::now();
    let analysis::JudgedPush {
        inventory: inv,
        judged,
        revision,
        prepared,
    } = analysis::judge_one(st, inv, prepared).await?;
    stages.observe("judge", t.elapsed());
    let t = Instant::now();
    let (stored, out) = st
        .writer()
        .push(OwnedPush {
            inventory: inv,
            body: stored_body,
            hash,
            received_at: Millis::now(),
            judged,
            analysis_started,
            revision,
            prepared,
        })
        .await?;
    let OwnedPush {
        inventory: inv,
        hash,
        judged,
        ..
    } = *stored;
    stages.observe("store", t.elapsed());
    st.metrics()
        .findings
        .node_judged(&node, inv.node.site.as_deref(), &judged.findings);
    Ok((
        StatusCode::CREATED,
        Json(PushResponse {
            status: "stored".into(),
            node,
            hash,
            findings: usize::try_from(judged.open()).ok(),
            run: Some(out.run_id),
        }),
    )
        .into_response())
}

async fn reanalyze(State(st): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    st.options()
        .access
        .require(&headers, super::Role::Operate)?;
    st.reload_analyzer().await?;
    let run = analysis::reanalyze(&st).await?;
    let last = st.store().latest_run("fleet").await?;
    st.metrics()
        .findings
        .seed_if_stale(st.store(), last.map(|r| r.id))
        .await?;
    Ok(Json(run).into_response())
}

/// Entries per page of `/v1/nodes` and `/v1/findings` unless `limit` says otherwise, and at
/// most; un-paged answers (neither `limit` nor `cursor`) are refused past their cap.
const PAGE: usize = 1000;
const PAGE_MAX: usize = 10_000;
const UNPAGED_FINDINGS_MAX: usize = 100_000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NodesQuery {
    site: Option<String>,
    cell: Option<String>,
    status: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

/// Nodes by id, filtered; paged (`{"items": […], "next": …}`) when `limit` or `cursor` is
/// given, else every match as an array.
async fn nodes(
    State(st): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<NodesQuery>,
) -> Result<Response, ApiError> {
    authorize_read(&st, &headers)?;
    let paged = q.limit.is_some() || q.cursor.is_some();
    let limit = if paged {
        q.limit.unwrap_or(PAGE).clamp(1, PAGE_MAX)
    } else {
        usize::MAX
    };
    let keep = |n: &query::NodeView| {
        q.site
            .as_ref()
            .is_none_or(|s| n.node.site.as_ref() == Some(s))
            && q.cell
                .as_ref()
                .is_none_or(|c| n.node.cell.as_ref() == Some(c))
            && q.status.as_ref().is_none_or(|s| &n.status == s)
    };
    let after = q.cursor.as_deref().filter(|c| !c.is_empty());
    let page = query::nodes_page(
        st.store(),
        &st.analyzer(),
        Millis::now(),
        after,
        limit,
        keep,
    )
    .await?;
    Ok(if paged {
        Json(page).into_response()
    } else {
        Json(page.items).into_response()
    })
}

async fn node(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<query::NodeView>, ApiError> {
    authorize_read(&st, &headers)?;
    let n = st
        .store()
        .node(&id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no node `{id}`")))?;
    let status = query::status(
        &n,
        st.analyzer().policy().max_inventory_age_hours,
        Millis::now(),
    );
    Ok(Json(query::NodeView {
        node: n,
        status: status.to_owned(),
    }))
}

async fn history(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Vec<crate::store::HistoryEntry>>, ApiError> {
    authorize_read(&st, &headers)?;
    if st.store().node(&id).await?.is_none() {
        return Err(ApiError::NotFound(format!("no node `{id}`")));
    }
    Ok(Json(st.store().history(&id).await?))
}

/// Entries per `GET /v1/inventories` page unless `limit` says otherwise, and at most.
const INVENTORY_PAGE: usize = 100;
const INVENTORY_PAGE_MAX: usize = 1000;
/// About this many bytes of inventories per page, at most (one larger inventory comes alone).
const INVENTORY_PAGE_BYTES: usize = 32 * 1024 * 1024;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InventoriesQuery {
    until: Option<String>,
    latest: Option<bool>,
    after: Option<String>,
    limit: Option<usize>,
}

/// Every node's stored inventories with their history (or only the latest, `latest=true`),
/// collected at or before `until`, a page at a time (`after` = the previous page's `next`).
async fn stored_inventories(
    State(st): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<InventoriesQuery>,
) -> Result<Json<crate::client::InventoryPage>, ApiError> {
    authorize_read(&st, &headers)?;
    let until = match q.until.filter(|u| !u.is_empty()) {
        None => None,
        Some(u) if Millis::parse(&u).is_none() => {
            return Err(ApiError::BadRequest(format!(
                "until: expected YYYY-MM-DD or an RFC 3339 time, found `{u}`"
            )))
        }
        // A date: the end of that day, as the planner's --as-of.
        Some(u) if u.len() == 10 => Some(format!("{u}T23:59:59Z")),
        Some(u) => Some(u),
    };
    let after = match q.after.filter(|a| !a.is_empty()) {
        None => None,
        Some(a) => Some(query::InventoryCursor::parse(&a).ok_or_else(|| {
            ApiError::BadRequest(format!(
                "after: expected the `next` of a previous page, found `{a}`"
            ))
        })?),
    };
    let q = query::InventoryQuery {
        until,
        latest: q.latest.unwrap_or(false),
        after,
        limit: q
            .limit
            .unwrap_or(INVENTORY_PAGE)
            .clamp(1, INVENTORY_PAGE_MAX),
        max_bytes: INVENTORY_PAGE_BYTES,
    };
    Ok(Json(query::stored_inventories(st.store(), &q).await?))
}

/// Query string of `/v1/findings`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FindingsQuery {
    site: Option<String>,
    cell: Option<String>,
    node: Option<String>,
    #[serde(alias = "kind")]
    code: Option<String>,
    severity: Option<String>,
    package: Option<String>,
    waived: Option<bool>,
    limit: Option<usize>,
    cursor: Option<String>,
}

impl FindingsQuery {
    fn filter(&self) -> Result<FindingFilter, ApiError> {
        let some = |s: &Option<String>| s.clone().filter(|s| !s.is_empty());
        Ok(FindingFilter {
            site: some(&self.site),
            cell: some(&self.cell),
            node: some(&self.node),
            code: match self.code.as_deref().filter(|s| !s.is_empty()) {
                Some(c) => Some(c.parse::<FindingCode>().map_err(ApiError::BadRequest)?),
                None => None,
            },
            severity: match self.severity.as_deref().filter(|s| !s.is_empty()) {
                Some(s) => Some(s.parse::<Severity>().map_err(ApiError::BadRequest)?),
                None => None,
            },
            package: some(&self.package),
            waived: self.waived.unwrap_or(false),
        })
    }
}

/// Current findings, filtered; paged (`{"items": […], "next": …}`, keyset order: node,
/// subject, code, fingerprint, then the `inventory-stale` ones by node) when `limit` or
/// `cursor` is given, else every match as an array, refused past [`UNPAGED_FINDINGS_MAX`].
async fn findings(
    State(st): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<FindingsQuery>,
) -> Result<Response, ApiError> {
    authorize_read(&st, &headers)?;
    let filter = q.filter()?;
    let cursor = match q.cursor.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => Some(query::FindingCursor::decode(c).ok_or_else(|| {
            ApiError::BadRequest(format!(
                "cursor: expected the `next` of a previous page, found `{c}`"
            ))
        })?),
    };
    let paged = q.limit.is_some() || q.cursor.is_some();
    let limit = if paged {
        q.limit.unwrap_or(PAGE).clamp(1, PAGE_MAX)
    } else {
        UNPAGED_FINDINGS_MAX
    };
    let page = query::findings_page(
        st.store(),
        &st.analyzer(),
        &filter,
        cursor.as_ref(),
        limit,
        Millis::now(),
    )
    .await?;
    if paged {
        return Ok(Json(page).into_response());
    }
    if page.next.is_some() {
        return Err(ApiError::BadRequest(format!(
            "more than {UNPAGED_FINDINGS_MAX} findings match: ask for pages (`limit`, then `cursor` = the previous page's `next`) or narrow the filters"
        )));
    }
    Ok(Json(page.items).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WhereQuery {
    package: String,
    version: Option<String>,
}

async fn holders(
    State(st): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<WhereQuery>,
) -> Result<Json<Vec<crate::store::PackageHolder>>, ApiError> {
    authorize_read(&st, &headers)?;
    let v = q.version.as_deref().filter(|v| !v.is_empty());
    Ok(Json(st.store().package_holders(&q.package, v).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DiffQuery {
    target: String,
    since: String,
}

async fn diff(
    State(st): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<DiffQuery>,
) -> Result<Json<Vec<query::NodeDiff>>, ApiError> {
    authorize_read(&st, &headers)?;
    let since = Millis::parse(&q.since).ok_or_else(|| {
        ApiError::BadRequest(format!(
            "since: expected YYYY-MM-DD or an RFC 3339 time, found `{}`",
            q.since
        ))
    })?;
    query::diff(st.store(), &q.target, since)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no node or site `{}`", q.target)))
}

async fn report(st: &AppState, format: Format) -> Result<Vec<u8>, ApiError> {
    let report = query::report(st.store(), &st.analyzer(), Millis::now()).await?;
    tokio::task::spawn_blocking(move || {
        let mut buf = Vec::new();
        format
            .writer(WriterOptions::default())
            .write(&report, &mut buf)
            .map(|()| buf)
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::internal)
}

async fn report_json(State(st): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    authorize_read(&st, &headers)?;
    let body = report(&st, Format::Json).await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

async fn report_html(State(st): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    authorize_read(&st, &headers)?;
    let body = report(&st, Format::Html).await?;
    Ok(([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response())
}
