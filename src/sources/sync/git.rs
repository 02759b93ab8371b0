//! Git feeds: fetch into the feed's bare repository through libgit2 (`file://` and local paths
//! by its local transport; `http://` and `https://` by its smart protocol over the subtransport
//! of [`crate::sources::githttp`]), then export the commit's tree.

#[allow(clippy::wildcard_imports)]
use super::*;

pub(super) const UPSTREAM_REF: &str = "refs/nminus/upstream";

pub(super) fn sync_git(ctx: &Ctx<'_, '_>, up: &Upstream) -> Result<Synced, NotSynced> {
    let url = up.git.as_deref().unwrap_or_default();
    let name = &ctx.feed.name;
    if name.is_empty()
        || name.starts_with('.')
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(NotSynced::Fail(SyncError::FeedName(name.clone())));
    }
    let git_err = |what: &'static str| {
        move |source| SyncError::Git {
            what,
            url: url.to_owned(),
            source,
        }
    };
    let repo_dir = ctx.data.join(".nminus").join("git").join(name);
    let repo = match git2::Repository::open_bare(&repo_dir) {
        Ok(r) => r,
        Err(_) => {
            if repo_dir.exists() {
                // Unusable (interrupted init, corruption): start again.
                fs_err::remove_dir_all(&repo_dir)?;
            }
            fs_err::create_dir_all(&repo_dir)?;
            git2::Repository::init_bare(&repo_dir).map_err(|source| SyncError::GitInit {
                path: repo_dir.clone(),
                source,
            })?
        }
    };
    let src = up
        .branch
        .as_deref()
        .map_or_else(|| "HEAD".to_owned(), |b| format!("refs/heads/{b}"));
    fetch(&repo, url, &src, ctx.opts.limits.max_bytes, |s| ctx.step(s))?;
    let oid = repo
        .refname_to_id(UPSTREAM_REF)
        .map_err(git_err("no commit fetched from"))?;
    let commit = repo
        .find_commit(oid)
        .map_err(git_err("fetched object is not a commit in"))?;
    let mut tree = commit.tree().map_err(git_err("no tree in"))?;
    if let Some(sub) = up.subdir.as_deref().filter(|s| !s.is_empty()) {
        let entry = tree
            .get_path(Path::new(sub))
            .map_err(|_| SyncError::SubdirMissing {
                subdir: sub.to_owned(),
                url: url.to_owned(),
                commit: oid,
            })?;
        tree = entry
            .to_object(&repo)
            .and_then(|o| o.peel_to_tree())
            .map_err(|_| SyncError::SubdirNotFolder {
                subdir: sub.to_owned(),
                url: url.to_owned(),
                commit: oid,
            })?;
    }
    let rev = oid.to_string();
    let mut message = format!("at {}", short(&rev));
    if let Some(prev) = ctx.prev_revision().filter(|p| *p != rev) {
        let ff = git2::Oid::from_str(prev)
            .ok()
            .and_then(|p| repo.graph_descendant_of(oid, p).ok());
        message = match ff {
            Some(true) => format!("fast-forward {}..{}", short(prev), short(&rev)),
            _ => format!(
                "at {}: not a fast-forward of the recorded {} (upstream history was rewritten)",
                short(&rev),
                short(prev)
            ),
        };
    }
    let from = match &up.branch {
        Some(b) => format!("{url}#{b}"),
        None => url.to_owned(),
    };
    if ctx.is_current(&rev) {
        return Ok(Synced {
            outcome: Outcome::Unchanged,
            from,
            revision: Some(rev),
            synced_at: None,
            message,
        });
    }
    ctx.step(format!("writing {}", ctx.target.display()));
    let new = TempPath::beside(&ctx.target, "new").map_err(|e| at(&ctx.target, e))?;
    export_tree(&repo, &tree, new.path(), &ctx.opts.limits)?;
    swap_into_place(new.path(), &ctx.target).map_err(|e| at(&ctx.target, e))?;
    new.disarm();
    Ok(Synced {
        outcome: Outcome::Updated,
        from,
        revision: Some(rev),
        synced_at: None,
        message,
    })
}

/// Fetch `src` (`HEAD` or `refs/heads/<branch>`) of `url` into `repo` as [`UPSTREAM_REF`]
/// through libgit2: `file://` and local paths by its local transport, `http://` and `https://`
/// by its smart protocol over [`crate::sources::githttp`]'s subtransport. At most `max` bytes
/// are received; `step` is told the fetch's progress (at most five times a second).
fn fetch(
    repo: &git2::Repository,
    url: &str,
    src: &str,
    max: u64,
    mut step: impl FnMut(String),
) -> Result<(), SyncError> {
    crate::sources::githttp::register(http_client)?;
    let refspec = format!("+{src}:{UPSTREAM_REF}");
    step(format!("fetching {url} ({src})"));
    let step = std::cell::RefCell::new(step);
    let last = std::cell::Cell::new(std::time::Instant::now());
    let due = || {
        let now = std::time::Instant::now();
        let due = now.duration_since(last.get()) >= std::time::Duration::from_millis(200);
        if due {
            last.set(now);
        }
        due
    };
    let too_large = std::cell::Cell::new(false);
    let indexing = std::cell::Cell::new(false);
    let mut cb = git2::RemoteCallbacks::new();
    cb.transfer_progress(|p| {
        if p.received_bytes() as u64 > max {
            too_large.set(true);
            return false;
        }
        let (n, total) = (p.received_objects(), p.total_objects());
        if n == total && total > 0 && !indexing.get() {
            // Every object is in: libgit2 resolves the deltas and writes the index.
            indexing.set(true);
            let kib = p.received_bytes() / 1024;
            (step.borrow_mut())(format!("indexing the pack ({kib} KiB)"));
        } else if n < total && due() {
            let kib = p.received_bytes() / 1024;
            (step.borrow_mut())(format!("received {n}/{total} objects ({kib} KiB)"));
        }
        true
    });
    // The server's own progress lines (`Counting objects: …`).
    cb.sideband_progress(|bytes| {
        let text = String::from_utf8_lossy(bytes);
        if let Some(line) = text.split(['\r', '\n']).rfind(|s| !s.trim().is_empty()) {
            if due() {
                (step.borrow_mut())(line.trim().to_owned());
            }
        }
        true
    });
    let mut fo = git2::FetchOptions::new();
    fo.remote_callbacks(cb);
    fo.download_tags(git2::AutotagOption::None);
    let mut remote = repo
        .remote_anonymous(url)
        .map_err(|source| SyncError::Git {
            what: "bad git URL",
            url: url.to_owned(),
            source,
        })?;
    let fetched = remote.fetch(&[refspec.as_str()], Some(&mut fo), None);
    drop(fo);
    match fetched {
        Err(_) if too_large.get() => Err(SyncError::PackTooLarge {
            src: src.to_owned(),
            url: url.to_owned(),
            max,
        }),
        Err(source) => Err(SyncError::Fetch {
            src: src.to_owned(),
            url: url.to_owned(),
            source,
        }),
        Ok(()) => Ok(()),
    }
}

/// Write the files of `tree` under `dest` (symbolic links and submodules are left out).
pub(super) fn export_tree(
    repo: &git2::Repository,
    tree: &git2::Tree<'_>,
    dest: &Path,
    limits: &ExtractLimits,
) -> Result<(), SyncError> {
    let mut stack = vec![(tree.clone(), dest.to_owned())];
    let (mut entries, mut bytes) = (0u64, 0u64);
    while let Some((t, dir)) = stack.pop() {
        for e in t.iter() {
            let name = e
                .name()
                .ok()
                .filter(|n| !n.is_empty() && *n != "." && *n != ".." && !n.contains(['/', '\0']))
                .ok_or_else(|| SyncError::TreeEntryName(dir.clone()))?;
            entries += 1;
            if entries > limits.max_entries {
                return Err(SyncError::TreeEntries(limits.max_entries));
            }
            let path = dir.join(name);
            match e.filemode() {
                0o040000 => {
                    fs_err::create_dir(&path)?;
                    let sub =
                        e.to_object(repo)
                            .and_then(|o| o.peel_to_tree())
                            .map_err(|source| SyncError::TreeObject {
                                path: path.clone(),
                                source,
                            })?;
                    stack.push((sub, path));
                }
                0o100644 | 0o100755 | 0o100664 => {
                    let blob = repo
                        .find_blob(e.id())
                        .map_err(|source| SyncError::TreeObject {
                            path: path.clone(),
                            source,
                        })?;
                    bytes += blob.size() as u64;
                    if bytes > limits.max_bytes {
                        return Err(SyncError::TreeBytes(limits.max_bytes));
                    }
                    fs_err::write(&path, blob.content())?;
                }
                // Symbolic links (0o120000) and submodules (0o160000).
                _ => {}
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader};
    use std::net::TcpListener;
    use std::sync::{Arc, Mutex};

    /// A loopback HTTP server answering every request with `status`, `ctype` and `body`; the
    /// request lines it saw.
    fn canned(status: &'static str, ctype: &'static str) -> (String, Arc<Mutex<Vec<String>>>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", l.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let seen2 = Arc::clone(&seen);
        std::thread::spawn(move || {
            for s in l.incoming() {
                let Ok(mut s) = s else { return };
                let mut r = BufReader::new(s.try_clone().unwrap());
                let mut line = String::new();
                let _ = r.read_line(&mut line);
                seen2.lock().unwrap().push(line.trim_end().to_owned());
                loop {
                    let mut h = String::new();
                    if r.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                        break;
                    }
                }
                let body = "<html>no git here</html>";
                let _ = write!(
                    s,
                    "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        (base, seen)
    }

    fn bare() -> (tempfile::TempDir, git2::Repository) {
        let t = tempfile::tempdir().unwrap();
        let repo = git2::Repository::init_bare(t.path().join("feed")).unwrap();
        (t, repo)
    }

    #[test]
    fn a_server_that_is_not_git_is_an_error_naming_the_request() {
        let (base, seen) = canned("200 OK", "text/html; charset=utf-8");
        let (_t, repo) = bare();
        let url = format!("{base}/feed");
        let e = fetch(&repo, &url, "HEAD", 1 << 20, |_| {})
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            format!(
                "git fetch of HEAD from {url}: GET {url}/info/refs?service=git-upload-pack: not a smart HTTP git server (content type `text/html; charset=utf-8`)"
            )
        );
        assert_eq!(
            *seen.lock().unwrap(),
            ["GET /feed/info/refs?service=git-upload-pack HTTP/1.1"]
        );
        assert!(repo.refname_to_id(UPSTREAM_REF).is_err());

        let (base, _seen) = canned("403 Forbidden", "text/plain");
        let e = fetch(&repo, &base, "refs/heads/main", 1 << 20, |_| {})
            .unwrap_err()
            .to_string();
        assert!(
            e.ends_with(&format!(
                "GET {base}/info/refs?service=git-upload-pack: HTTP 403 Forbidden"
            )),
            "{e}"
        );
    }

    #[test]
    fn pushing_over_http_is_refused_before_any_request() {
        let (base, seen) = canned("200 OK", "text/plain");
        crate::sources::githttp::register(http_client).unwrap();
        let t = tempfile::tempdir().unwrap();
        let repo = git2::Repository::init(t.path()).unwrap();
        let mut remote = repo.remote_anonymous(&base).unwrap();
        let e = remote.push(&["refs/heads/main"], None).unwrap_err();
        assert!(
            e.message()
                .ends_with("pushing is not supported: nminus only fetches"),
            "{}",
            e.message()
        );
        assert!(seen.lock().unwrap().is_empty());
    }

    /// The byte bound holds whatever the transport (here libgit2's local one): over it, the
    /// fetch fails saying so and no ref is written; under it, the commit is fetched.
    #[test]
    fn a_pack_over_the_byte_limit_is_refused() {
        let t = tempfile::tempdir().unwrap();
        let up = git2::Repository::init(t.path().join("up")).unwrap();
        // 256 KiB that do not compress (a xorshift stream).
        let mut x = 0x2545_f491_4f6c_dd1d_u64;
        let blob: Vec<u8> = (0..256 * 1024)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let id = up.blob(&blob).unwrap();
        let mut tb = up.treebuilder(None).unwrap();
        tb.insert("data.bin", id, 0o100644).unwrap();
        let tree = up.find_tree(tb.write().unwrap()).unwrap();
        let sig = git2::Signature::now("t", "t@localhost").unwrap();
        let c = up
            .commit(Some("HEAD"), &sig, &sig, "one", &tree, &[])
            .unwrap();
        let url = format!("file://{}", t.path().join("up").display());
        let (_d, repo) = bare();
        let e = fetch(&repo, &url, "HEAD", 100_000, |_| {}).unwrap_err();
        assert!(matches!(e, SyncError::PackTooLarge { max: 100_000, .. }));
        assert_eq!(
            e.to_string(),
            format!(
                "git fetch of HEAD from {url}: the pack is larger than the 100000 bytes allowed"
            )
        );
        assert!(repo.refname_to_id(UPSTREAM_REF).is_err());
        let mut steps = Vec::new();
        fetch(&repo, &url, "HEAD", 1 << 20, |s| steps.push(s)).unwrap();
        assert_eq!(repo.refname_to_id(UPSTREAM_REF).unwrap(), c);
        assert_eq!(steps[0], format!("fetching {url} (HEAD)"));
        assert!(
            steps.iter().any(|s| s.starts_with("indexing the pack (")),
            "{steps:?}"
        );
    }
}
