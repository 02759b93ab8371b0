//! Expired tokens and refused credentials inside `serve --discover-cloud`, against a real
//! Keystone (see discover.rs) whose tokens expire after a few seconds: rounds go on past the
//! first token's expiry (each round authenticates anew), and a round Keystone refuses (the
//! password changed under it) is stored with a clear error naming the cloud and the 401, the
//! failure is on /metrics, and the next round after the password is back recovers without a
//! restart.

use std::time::Duration;

use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::controlplane::serve_discovering;
use crate::discover::{sample, wait_for, Keystone, Samples};
use crate::serve::{http, Env};

/// The newest stored round, once there is one.
fn latest(base: &str) -> Option<Value> {
    let r = http().get(format!("{base}/v1/controlplane")).send().ok()?;
    r.status()
        .is_success()
        .then(|| serde_json::from_slice(&r.bytes().ok()?).ok())
        .flatten()
}

fn at(v: &Value) -> OffsetDateTime {
    OffsetDateTime::parse(v.as_str().unwrap(), &Rfc3339).unwrap_or_else(|e| panic!("{v}: {e}"))
}

/// Changes the admin password. Tokens live a few seconds here: on a loaded machine one can
/// expire between being issued and being used, so a 401 is tried again with a new token.
fn set_password(ks: &Keystone, old: &str, new: &str) {
    let mut last = String::new();
    for _ in 0..5 {
        let (token, _) = ks.password_token(old);
        let r = ks
            .http
            .patch(format!("{}/v3/users/{}", ks.url, ks.user_id))
            .header("x-auth-token", token)
            .header("content-type", "application/json")
            .body(json!({"user": {"password": new}}).to_string())
            .send()
            .unwrap();
        let status = r.status();
        if status.is_success() {
            return;
        }
        last = format!("{status}: {}", r.text().unwrap_or_default());
        assert_eq!(
            status,
            reqwest::StatusCode::UNAUTHORIZED,
            "password change: {last}"
        );
        std::thread::sleep(Duration::from_secs(1));
    }
    panic!("password change refused five times: {last}");
}

fn metric(base: &str, name: &str) -> Option<String> {
    let m = http()
        .get(format!("{base}/metrics"))
        .send()
        .ok()?
        .text()
        .ok()?;
    m.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")).map(str::to_owned))
}

#[test]
fn serve_discovery_outlives_expiring_tokens_and_recovers_from_refused_credentials() {
    const LIFETIME: u32 = 8;
    let ks = Keystone::start_expiring(LIFETIME);
    let nova = Samples::start(vec![
        ("/", sample("nova/versions-get-resp.json")),
        ("/v2.1", sample("nova/v21-version-get-resp.json")),
    ]);
    let compute = ks.service("compute", "nova");
    ks.endpoint(&compute, "public", "RegionOne", &nova.url("/v2.1"));
    let env = Env::new();
    let db = format!("sqlite://{}", env.path("fleet.db").display());
    let srv = serve_discovering(&ks, &env, &db, &[]);
    let base = srv.url.clone();
    let ok = |d: &Value| d["keystone"]["error"].is_null() && d["endpoints"][0]["status"] == "ok";
    let mut first = None;
    wait_for("a first round", Duration::from_secs(60), || {
        first = latest(&base).filter(ok);
        first.is_some()
    });
    let first = first.unwrap();
    let expires = at(&first["keystone"]["token_expires_at"]);
    let lifetime = expires - at(&first["discovered_at"]);
    assert!(
        lifetime <= time::Duration::seconds(i64::from(LIFETIME) + 2),
        "Keystone's tokens should live {LIFETIME} s: {:#}",
        first["keystone"]
    );

    // Rounds after the first token expired still read the catalog, each with a token of its own.
    let mut after = None;
    wait_for(
        "a round past the first token's expiry",
        Duration::from_secs(90),
        || {
            after = latest(&base).filter(|d| ok(d) && at(&d["discovered_at"]) > expires);
            after.is_some()
        },
    );
    let after = after.unwrap();
    assert!(
        at(&after["keystone"]["token_expires_at"]) > expires,
        "{:#}",
        after["keystone"]
    );

    // Keystone refuses the credentials: the round is stored with the error, naming the cloud
    // and the 401; the failure is on /metrics.
    set_password(&ks, "secret", "changed-under-it");
    let mut refused = None;
    wait_for("a refused round", Duration::from_secs(90), || {
        refused = latest(&base).filter(|d| d["keystone"]["error"]["kind"] == "unauthorized");
        refused.is_some()
    });
    let refused = refused.unwrap();
    let msg = refused["keystone"]["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("(cloud test)") && msg.contains("HTTP 401"),
        "{msg}"
    );
    assert_eq!(refused["cloud"], "test");
    wait_for("the failure on /metrics", Duration::from_secs(30), || {
        metric(&base, "nminus_openstack_discovery_failing").as_deref() == Some("1")
    });

    // The password is back: the next round recovers, without a restart.
    set_password(&ks, "changed-under-it", "secret");
    let since = at(&refused["discovered_at"]);
    wait_for("a recovered round", Duration::from_secs(90), || {
        latest(&base).is_some_and(|d| ok(&d) && at(&d["discovered_at"]) > since)
    });
    wait_for("the recovery on /metrics", Duration::from_secs(30), || {
        metric(&base, "nminus_openstack_discovery_failing").as_deref() == Some("0")
    });
}
