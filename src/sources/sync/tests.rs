//! Unit tests of the sync driver and its transports.

use super::extract::{extract_tar, ExtractStats};
use super::*;

fn raw_entry(path: &[u8], kind: tar::EntryType, link: &[u8], data: &[u8]) -> Vec<u8> {
    let mut h = tar::Header::new_old();
    h.as_old_mut().name[..path.len()].copy_from_slice(path);
    h.as_old_mut().linkname[..link.len()].copy_from_slice(link);
    h.set_entry_type(kind);
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    let mut out = h.as_bytes().to_vec();
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512, 0);
    out
}

fn tar_of(entries: &[Vec<u8>]) -> Vec<u8> {
    let mut t: Vec<u8> = entries.concat();
    t.extend_from_slice(&[0u8; 1024]);
    t
}

fn extract(
    entries: &[Vec<u8>],
    limits: ExtractLimits,
) -> (tempfile::TempDir, Result<ExtractStats, ArchiveError>) {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("out");
    fs_err::create_dir(&dest).unwrap();
    let r = extract_tar(tar_of(entries).as_slice(), &dest, None, &limits);
    (dir, r)
}

fn file(path: &str, data: &str) -> Vec<u8> {
    raw_entry(
        path.as_bytes(),
        tar::EntryType::Regular,
        b"",
        data.as_bytes(),
    )
}

#[test]
fn plain_archive_extracts() {
    let (d, r) = extract(
        &[
            raw_entry(b"a/", tar::EntryType::Directory, b"", b""),
            file("a/b.json", "{}"),
            file("./c.txt", "c"),
            raw_entry(b"a/link", tar::EntryType::Symlink, b"b.json", b""),
            raw_entry(b"a/hard", tar::EntryType::Link, b"a/b.json", b""),
        ],
        ExtractLimits::default(),
    );
    let s = r.unwrap();
    assert_eq!((s.files, s.bytes, s.links_skipped), (3, 5, 1));
    let out = d.path().join("out");
    assert_eq!(fs_err::read_to_string(out.join("a/hard")).unwrap(), "{}");
    assert!(!out.join("a/link").exists());
}

#[test]
fn parent_components_are_refused() {
    for p in ["../evil", "a/../../evil", "a/b/../../../x"] {
        let (d, r) = extract(&[file(p, "x")], ExtractLimits::default());
        let e = r.unwrap_err().to_string();
        assert!(e.contains("`..`"), "{p}: {e}");
        assert!(!d.path().join("evil").exists());
    }
}

#[test]
fn absolute_paths_are_refused() {
    let (_d, r) = extract(&[file("/tmp/nminus-evil", "x")], ExtractLimits::default());
    let e = r.unwrap_err().to_string();
    assert!(e.contains("absolute path"), "{e}");
    assert!(!Path::new("/tmp/nminus-evil").exists());
}

#[test]
fn escaping_links_are_refused() {
    for (kind, target) in [
        (tar::EntryType::Symlink, "../../etc/passwd"),
        (tar::EntryType::Symlink, "/etc/passwd"),
        (tar::EntryType::Symlink, "a/../../../x"),
        (tar::EntryType::Link, "../outside"),
        (tar::EntryType::Link, "/etc/passwd"),
    ] {
        let (_d, r) = extract(
            &[raw_entry(b"dir/l", kind, target.as_bytes(), b"")],
            ExtractLimits::default(),
        );
        let e = r.unwrap_err().to_string();
        assert!(e.contains("outside"), "{target}: {e}");
    }
    // A link that climbs but stays inside is fine (and not created).
    let (_d, r) = extract(
        &[raw_entry(
            b"a/b/l",
            tar::EntryType::Symlink,
            b"../../c",
            b"",
        )],
        ExtractLimits::default(),
    );
    assert_eq!(r.unwrap().links_skipped, 1);
}

#[test]
fn devices_and_fifos_are_refused() {
    for (k, word) in [
        (tar::EntryType::Char, "device"),
        (tar::EntryType::Block, "device"),
        (tar::EntryType::Fifo, "FIFO"),
    ] {
        let (_d, r) = extract(&[raw_entry(b"dev", k, b"", b"")], ExtractLimits::default());
        assert!(r.unwrap_err().to_string().contains(word));
    }
}

#[test]
fn limits_are_enforced_before_writing() {
    let limits = ExtractLimits {
        max_bytes: 10,
        max_entries: 3,
    };
    let (d, r) = extract(&[file("a", "123456"), file("b", "123456")], limits);
    assert!(matches!(r, Err(ArchiveError::TooLarge(_))));
    assert!(!d.path().join("out/b").exists());
    let many: Vec<_> = (0..5).map(|i| file(&format!("f{i}"), "")).collect();
    let (_d, r) = extract(&many, limits);
    assert!(r.unwrap_err().to_string().contains("entries"));
    // A header claiming a huge size is refused before any byte is read.
    let mut h = file("big", "");
    let mut header = tar::Header::new_old();
    header.as_mut_bytes().copy_from_slice(&h[..512]);
    header.set_size(1 << 40);
    header.set_cksum();
    h[..512].copy_from_slice(header.as_bytes());
    let (_d, r) = extract(&[h], ExtractLimits::default());
    assert!(matches!(r, Err(ArchiveError::TooLarge(_))), "{r:?}");
}

#[test]
fn subdir_keeps_only_its_entries() {
    let dir = tempfile::tempdir().unwrap();
    let t = tar_of(&[file("top/keep/x.json", "1"), file("top/other.json", "2")]);
    let s = extract_tar(
        t.as_slice(),
        dir.path(),
        Some("top/keep"),
        &ExtractLimits::default(),
    )
    .unwrap();
    assert_eq!(s.files, 1);
    assert!(dir.path().join("x.json").is_file());
    assert!(!dir.path().join("other.json").exists());
}

#[test]
fn file_urls() {
    assert_eq!(
        file_url_path("file:///a/b%20c").unwrap(),
        Path::new("/a/b c")
    );
    assert_eq!(
        file_url_path("file://localhost/x").unwrap(),
        Path::new("/x")
    );
    assert!(file_url_path("file://host/x").is_err());
    assert_eq!(
        SyncFrom::parse("m.tar.gz"),
        SyncFrom::Bundle("m.tar.gz".into())
    );
    assert_eq!(SyncFrom::parse("/srv/m"), SyncFrom::Dir("/srv/m".into()));
}
