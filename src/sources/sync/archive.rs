//! Archive feeds: a conditional, size-capped download over HTTP(S) or from a `file://` URL,
//! checked against its pinned sha256, then stored as one file or extracted.

#[allow(clippy::wildcard_imports)]
use super::*;

/// ETag / Last-Modified of the last download of each archive feed (`<data>/.nminus/http.json`).
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub(super) struct HttpState {
    #[serde(default)]
    pub(super) feeds: std::collections::BTreeMap<String, HttpValidators>,
}

#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub(super) struct HttpValidators {
    pub(super) url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) etag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) last_modified: Option<String>,
}

impl HttpState {
    pub(super) fn path(data: &Path) -> PathBuf {
        data.join(".nminus").join("http.json")
    }

    pub(super) fn load(data: &Path) -> Self {
        fs_err::read(Self::path(data))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }
}

pub(super) enum Fetched {
    NotModified,
    Body {
        sha256: String,
        etag: Option<String>,
        last_modified: Option<String>,
    },
}

pub(super) fn sync_archive(
    ctx: &Ctx<'_, '_>,
    up: &Upstream,
    http: &mut HttpState,
) -> Result<Synced, NotSynced> {
    let url = up.archive.as_deref().unwrap_or_default();
    let file_name = match up.file.as_deref() {
        Some(f) => match safe_rel(Path::new(f)) {
            Ok(Some(p)) if p.components().count() == 1 => Some(p),
            _ => return Err(NotSynced::Fail(SyncError::UpstreamFile(f.to_owned()))),
        },
        None => None,
    };
    let stored = match &file_name {
        Some(f) => ctx.target.join(f).is_file(),
        None => ctx.target.is_dir(),
    };
    let validators = http
        .feeds
        .get(&ctx.feed.name)
        .filter(|v| v.url == url && stored && !ctx.opts.force)
        .cloned();
    let download =
        TempPath::beside_file(&ctx.target, "download").map_err(|e| at(&ctx.target, e))?;
    ctx.step(format!("downloading {url}"));
    let fetched = if url.starts_with("file://") {
        let path = file_url_path(url)?;
        let f = fs_err::File::open(&path)?;
        let sha256 = copy_capped(f, download.path(), ctx.opts.limits.max_bytes, url)?;
        Fetched::Body {
            sha256,
            etag: None,
            last_modified: None,
        }
    } else if url.starts_with("http://") || url.starts_with("https://") {
        http_get(
            url,
            validators.as_ref(),
            download.path(),
            ctx.opts.limits.max_bytes,
        )?
    } else {
        return Err(NotSynced::Fail(SyncError::ArchiveScheme(url.to_owned())));
    };
    let (sha256, etag, last_modified) = match fetched {
        Fetched::NotModified => {
            return Ok(Synced {
                outcome: Outcome::Unchanged,
                from: url.to_owned(),
                revision: ctx.prev_revision().map(str::to_owned),
                synced_at: None,
                message: "not modified (HTTP 304)".to_owned(),
            })
        }
        Fetched::Body {
            sha256,
            etag,
            last_modified,
        } => (sha256, etag, last_modified),
    };
    if let Some(want) = up.sha256.as_deref() {
        let want = want.trim().trim_start_matches("sha256:");
        if !want.eq_ignore_ascii_case(&sha256) {
            return Err(NotSynced::Fail(SyncError::Sha256 {
                url: url.to_owned(),
                got: sha256,
                want: want.to_owned(),
            }));
        }
    }
    let rev = format!("sha256:{sha256}");
    let remember = |http: &mut HttpState| -> Result<(), SyncFileError> {
        http.feeds.insert(
            ctx.feed.name.clone(),
            HttpValidators {
                url: url.to_owned(),
                etag: etag.clone(),
                last_modified: last_modified.clone(),
            },
        );
        save_json(&HttpState::path(ctx.data), &*http)
    };
    let stored_same = !ctx.opts.force && ctx.prev_revision() == Some(rev.as_str()) && stored;
    if stored_same {
        remember(http)?;
        return Ok(Synced {
            outcome: Outcome::Unchanged,
            from: url.to_owned(),
            revision: Some(rev),
            synced_at: None,
            message: "same content".to_owned(),
        });
    }
    match &file_name {
        Some(f) => {
            fs_err::create_dir_all(&ctx.target)?;
            fs_err::rename(download.path(), ctx.target.join(f))?;
            download.disarm();
        }
        None => {
            let mut magic = [0u8; 2];
            let mut f = fs_err::File::open(download.path())?;
            if f.read_exact(&mut magic).is_err() || magic != [0x1f, 0x8b] {
                return Err(NotSynced::Fail(SyncError::NotTarGz(url.to_owned())));
            }
            drop(f);
            ctx.step("extracting");
            let new = TempPath::beside(&ctx.target, "new").map_err(|e| at(&ctx.target, e))?;
            let f = fs_err::File::open(download.path())?;
            extract_tar_gz(
                BufReader::new(f),
                new.path(),
                up.subdir.as_deref(),
                &ctx.opts.limits,
            )
            .map_err(|source| SyncError::Archive {
                url: url.to_owned(),
                source,
            })?;
            if let Some(sub) = up.subdir.as_deref() {
                if fs_err::read_dir(new.path())
                    .map(|mut d| d.next().is_none())
                    .unwrap_or(true)
                {
                    return Err(NotSynced::Fail(SyncError::EmptySubdir {
                        url: url.to_owned(),
                        subdir: sub.to_owned(),
                    }));
                }
            }
            swap_into_place(new.path(), &ctx.target).map_err(|e| at(&ctx.target, e))?;
            new.disarm();
        }
    }
    remember(http)?;
    Ok(Synced {
        outcome: Outcome::Updated,
        from: url.to_owned(),
        revision: Some(rev),
        synced_at: None,
        message: String::new(),
    })
}

/// The HTTP client of archive downloads and git fetches (rustls; proxies from the
/// environment).
pub(super) fn http_client() -> Result<reqwest::blocking::Client, SyncError> {
    reqwest::blocking::Client::builder()
        .user_agent(concat!("nminus/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(30))
        .timeout(Duration::from_secs(6 * 3600))
        .build()
        .map_err(SyncError::HttpClient)
}

pub(super) fn http_get(
    url: &str,
    v: Option<&HttpValidators>,
    out: &Path,
    max: u64,
) -> Result<Fetched, SyncError> {
    use reqwest::header::{ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED};
    let client = http_client()?;
    let mut req = client.get(url);
    if let Some(v) = v {
        if let Some(e) = &v.etag {
            req = req.header(IF_NONE_MATCH, e);
        }
        if let Some(lm) = &v.last_modified {
            req = req.header(IF_MODIFIED_SINCE, lm);
        }
    }
    let resp = req.send().map_err(|source| SyncError::Get {
        url: url.to_owned(),
        source,
    })?;
    let status = resp.status();
    if status == reqwest::StatusCode::NOT_MODIFIED {
        return Ok(Fetched::NotModified);
    }
    if !status.is_success() {
        return Err(SyncError::Status {
            url: url.to_owned(),
            status,
        });
    }
    if let Some(len) = resp.content_length().filter(|l| *l > max) {
        return Err(SyncError::Length {
            url: url.to_owned(),
            len,
            max,
        });
    }
    let header = |h| {
        resp.headers()
            .get(h)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let etag = header(ETAG);
    let last_modified = header(LAST_MODIFIED);
    let sha256 = copy_capped(resp, out, max, url)?;
    Ok(Fetched::Body {
        sha256,
        etag,
        last_modified,
    })
}

/// Copy `r` into a new file `out`, at most `max` bytes; the sha256 (hex) of what was copied.
pub(super) fn copy_capped(
    mut r: impl Read,
    out: &Path,
    max: u64,
    what: &str,
) -> Result<String, SyncError> {
    let mut f = io::BufWriter::new(fs_err::File::create(out)?);
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = r.read(&mut buf).map_err(|source| SyncError::Download {
            what: what.to_owned(),
            source,
        })?;
        if n == 0 {
            break;
        }
        total += n as u64;
        if total > max {
            return Err(SyncError::DownloadTooLarge {
                what: what.to_owned(),
                max,
            });
        }
        h.update(&buf[..n]);
        f.write_all(&buf[..n]).map_err(|e| at(out, e))?;
    }
    f.flush().map_err(|e| at(out, e))?;
    Ok(hex(&h.finalize()))
}
