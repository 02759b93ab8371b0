//! The rpm header blob, as rpmdb backends store it (the installed package's immutable region
//! plus the entries rpm adds at install time).
//!
//! Layout (all big-endian): `il: u32` index entries, `dl: u32` data bytes, `il` entries of
//! `(tag: u32, type: u32, offset: u32, count: u32)`, then `dl` bytes of data that the offsets
//! point into. The first entry is normally a region tag (61–63) whose data is a trailer entry;
//! entries rpm adds after the region ("dribble" entries) override region entries of the same tag,
//! which "last entry wins" reproduces.
//!
//! Every read is bounds-checked against the data actually present: counts and offsets are
//! compared with the bytes that remain before anything is allocated, so a corrupted blob is an
//! [`HeaderError`], never a panic or a large allocation.

use std::fmt;

/// Tags read here (rpm's `rpmtag.h`).
mod tag {
    pub(super) const NAME: u32 = 1000;
    pub(super) const VERSION: u32 = 1001;
    pub(super) const RELEASE: u32 = 1002;
    pub(super) const EPOCH: u32 = 1003;
    pub(super) const VENDOR: u32 = 1011;
    pub(super) const ARCH: u32 = 1022;
    pub(super) const OLDFILENAMES: u32 = 1027;
    pub(super) const SOURCERPM: u32 = 1044;
    pub(super) const DIRINDEXES: u32 = 1116;
    pub(super) const BASENAMES: u32 = 1117;
    pub(super) const DIRNAMES: u32 = 1118;
    /// `HEADERSIGNATURES`, `HEADERIMMUTABLE`, `HEADERIMAGE` (region tags 61–63).
    pub(super) const REGIONS: std::ops::RangeInclusive<u32> = 61..=63;
}

/// Entry data types (rpm's `rpmTagType`).
mod ty {
    pub(super) const INT16: u32 = 3;
    pub(super) const INT32: u32 = 4;
    pub(super) const INT64: u32 = 5;
    pub(super) const STRING: u32 = 6;
    pub(super) const BIN: u32 = 7;
    pub(super) const STRING_ARRAY: u32 = 8;
    pub(super) const I18NSTRING: u32 = 9;
    pub(super) const MAX: u32 = 9;
}

/// Most index entries a header may have (rpm's `hdrchkTags`).
pub(super) const MAX_ENTRIES: u32 = 0xffff;
/// Most data bytes a header may have (rpm's `HEADER_DATA_MAX`-style limit: 256 MiB).
pub(super) const MAX_DATA: u32 = 256 * 1024 * 1024;

/// Size of one index entry.
const ENTRY_LEN: usize = 16;

/// A tag number, displayed with its name when known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tag(pub u32);

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.0 {
            tag::NAME => "NAME",
            tag::VERSION => "VERSION",
            tag::RELEASE => "RELEASE",
            tag::EPOCH => "EPOCH",
            tag::VENDOR => "VENDOR",
            tag::ARCH => "ARCH",
            tag::OLDFILENAMES => "OLDFILENAMES",
            tag::SOURCERPM => "SOURCERPM",
            tag::DIRINDEXES => "DIRINDEXES",
            tag::BASENAMES => "BASENAMES",
            tag::DIRNAMES => "DIRNAMES",
            61 => "HEADERIMAGE",
            62 => "HEADERSIGNATURES",
            63 => "HEADERIMMUTABLE",
            _ => return write!(f, "tag {}", self.0),
        };
        write!(f, "tag {} ({name})", self.0)
    }
}

/// Why a header blob was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum HeaderError {
    /// Fewer than the 8 bytes of `il` and `dl`.
    #[error(
        "header too short: expected at least 8 bytes (entry count and data length), found {found}"
    )]
    TooShort {
        /// Bytes present.
        found: usize,
    },
    /// `il` is zero.
    #[error("header has no index entries: expected at least 1, found 0")]
    NoEntries,
    /// `il` above 65,535 (rpm's limit).
    #[error("header index too large: expected at most {MAX_ENTRIES} entries, found {found}")]
    TooManyEntries {
        /// `il`.
        found: u32,
    },
    /// `dl` above 256 MiB.
    #[error("header data too large: expected at most {MAX_DATA} bytes, found {found}")]
    DataTooLarge {
        /// `dl`.
        found: u32,
    },
    /// The blob is shorter than its index and data.
    #[error("header truncated: {entries} index entries and {data} data bytes need {expected} bytes, found {found}")]
    Truncated {
        /// `il`.
        entries: u32,
        /// `dl`.
        data: u32,
        /// Bytes needed.
        expected: usize,
        /// Bytes present.
        found: usize,
    },
    /// A region tag whose type, count or offset is wrong.
    #[error("malformed region {tag}: expected type 7, count 16 and a trailer inside the {data_len} data bytes, found type {ty}, count {count}, offset {offset}")]
    BadRegion {
        /// The region tag.
        tag: Tag,
        /// Its type.
        ty: u32,
        /// Its count.
        count: u32,
        /// Its offset.
        offset: u32,
        /// `dl`.
        data_len: u32,
    },
    /// An entry with an unknown data type.
    #[error("entry {index} ({tag}): expected a data type from 0 to 9, found {found}")]
    BadType {
        /// Entry index.
        index: usize,
        /// Its tag.
        tag: Tag,
        /// Its type.
        found: u32,
    },
    /// An entry whose offset is outside the data.
    #[error("entry {index} ({tag}): expected an offset within the {data_len} data bytes, found {offset}")]
    OffsetOutOfRange {
        /// Entry index.
        index: usize,
        /// Its tag.
        tag: Tag,
        /// Its offset.
        offset: u32,
        /// `dl`.
        data_len: u32,
    },
    /// An entry whose offset is not aligned for its type.
    #[error("entry {index} ({tag}): expected an offset aligned to {align} bytes for type {ty}, found {offset}")]
    Misaligned {
        /// Entry index.
        index: usize,
        /// Its tag.
        tag: Tag,
        /// Its type.
        ty: u32,
        /// Required alignment.
        align: u32,
        /// Its offset.
        offset: u32,
    },
    /// A tag read here has the wrong data type.
    #[error("{tag}: expected {expected}, found data type {found}")]
    WrongType {
        /// The tag.
        tag: Tag,
        /// What was expected.
        expected: &'static str,
        /// The type found.
        found: u32,
    },
    /// A tag read here has a count that does not fit.
    #[error("{tag}: expected {expected}, found count {found}")]
    WrongCount {
        /// The tag.
        tag: Tag,
        /// What was expected.
        expected: String,
        /// The count found.
        found: u32,
    },
    /// A string runs past the end of the data.
    #[error("{tag}: expected a NUL-terminated string within the data, found none")]
    Unterminated {
        /// The tag.
        tag: Tag,
    },
    /// A required tag is absent or empty.
    #[error("{tag}: expected a non-empty value, found none")]
    Missing {
        /// The tag.
        tag: Tag,
    },
    /// The compressed file list is inconsistent.
    #[error("file list: {0}")]
    FileList(String),
}

/// The fields of an installed package's header that the inventory needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RpmHeader {
    /// `NAME`.
    pub name: String,
    /// `EPOCH`, when the header has one.
    pub epoch: Option<u32>,
    /// `VERSION`.
    pub version: String,
    /// `RELEASE`.
    pub release: String,
    /// `ARCH` (absent for `gpg-pubkey`).
    pub arch: Option<String>,
    /// `SOURCERPM` (`util-linux-2.32.1-42.el8_8.src.rpm`).
    pub source_rpm: Option<String>,
    /// `VENDOR`.
    pub vendor: Option<String>,
    /// Absolute paths of the files and directories the package owns (`BASENAMES` +
    /// `DIRNAMES`/`DIRINDEXES`, or the old `OLDFILENAMES`).
    pub files: Vec<String>,
}

impl RpmHeader {
    /// `version-release`.
    pub(crate) fn version_release(&self) -> String {
        format!("{}-{}", self.version, self.release)
    }

    /// `[epoch:]version-release`.
    pub(crate) fn evr(&self) -> String {
        match self.epoch {
            Some(e) => format!("{e}:{}-{}", self.version, self.release),
            None => self.version_release(),
        }
    }

    /// The `gpg-pubkey` pseudo-packages rpm keeps imported signing keys in.
    pub(crate) fn is_gpg_pubkey(&self) -> bool {
        self.name == "gpg-pubkey"
    }
}

/// One index entry.
#[derive(Debug, Clone, Copy)]
struct Entry {
    tag: u32,
    ty: u32,
    offset: usize,
    count: u32,
}

/// Alignment rpm requires for a data type.
fn align_of(t: u32) -> u32 {
    match t {
        ty::INT16 => 2,
        ty::INT32 => 4,
        ty::INT64 => 8,
        _ => 1,
    }
}

fn be32(b: &[u8], at: usize) -> u32 {
    // Callers check the range; a short slice reads as zero rather than panicking.
    b.get(at..at + 4)
        .and_then(|s| <[u8; 4]>::try_from(s).ok())
        .map_or(0, u32::from_be_bytes)
}

/// Parse a header blob. Extra bytes after the data (padding some backends add) are ignored.
pub(crate) fn parse_header(blob: &[u8]) -> Result<RpmHeader, HeaderError> {
    if blob.len() < 8 {
        return Err(HeaderError::TooShort { found: blob.len() });
    }
    let il = be32(blob, 0);
    let dl = be32(blob, 4);
    if il == 0 {
        return Err(HeaderError::NoEntries);
    }
    if il > MAX_ENTRIES {
        return Err(HeaderError::TooManyEntries { found: il });
    }
    if dl > MAX_DATA {
        return Err(HeaderError::DataTooLarge { found: dl });
    }
    // Both bounded above, so no overflow even on 32-bit targets.
    let index_end = 8 + il as usize * ENTRY_LEN;
    let data_end = index_end + dl as usize;
    if data_end > blob.len() {
        return Err(HeaderError::Truncated {
            entries: il,
            data: dl,
            expected: data_end,
            found: blob.len(),
        });
    }
    let index = &blob[8..index_end];
    let data = &blob[index_end..data_end];

    let mut wanted: Wanted = Wanted::default();
    for (i, raw) in index.chunks_exact(ENTRY_LEN).enumerate() {
        let e = Entry {
            tag: be32(raw, 0),
            ty: be32(raw, 4),
            offset: be32(raw, 8) as usize,
            count: be32(raw, 12),
        };
        if tag::REGIONS.contains(&e.tag) {
            // The region's data is a 16-byte trailer entry.
            if e.ty != ty::BIN
                || e.count != 16
                || e.offset
                    .checked_add(ENTRY_LEN)
                    .is_none_or(|end| end > data.len())
            {
                return Err(HeaderError::BadRegion {
                    tag: Tag(e.tag),
                    ty: e.ty,
                    count: e.count,
                    offset: be32(raw, 8),
                    data_len: dl,
                });
            }
            continue;
        }
        if e.ty > ty::MAX {
            return Err(HeaderError::BadType {
                index: i,
                tag: Tag(e.tag),
                found: e.ty,
            });
        }
        if e.offset > data.len() {
            return Err(HeaderError::OffsetOutOfRange {
                index: i,
                tag: Tag(e.tag),
                offset: be32(raw, 8),
                data_len: dl,
            });
        }
        let align = align_of(e.ty);
        if be32(raw, 8) % align != 0 {
            return Err(HeaderError::Misaligned {
                index: i,
                tag: Tag(e.tag),
                ty: e.ty,
                align,
                offset: be32(raw, 8),
            });
        }
        wanted.note(e);
    }
    wanted.decode(data)
}

/// The entries of the tags read here (the last of each tag wins).
#[derive(Default)]
struct Wanted {
    name: Option<Entry>,
    version: Option<Entry>,
    release: Option<Entry>,
    epoch: Option<Entry>,
    vendor: Option<Entry>,
    arch: Option<Entry>,
    source_rpm: Option<Entry>,
    old_filenames: Option<Entry>,
    dir_indexes: Option<Entry>,
    basenames: Option<Entry>,
    dirnames: Option<Entry>,
}

impl Wanted {
    fn note(&mut self, e: Entry) {
        let slot = match e.tag {
            tag::NAME => &mut self.name,
            tag::VERSION => &mut self.version,
            tag::RELEASE => &mut self.release,
            tag::EPOCH => &mut self.epoch,
            tag::VENDOR => &mut self.vendor,
            tag::ARCH => &mut self.arch,
            tag::SOURCERPM => &mut self.source_rpm,
            tag::OLDFILENAMES => &mut self.old_filenames,
            tag::DIRINDEXES => &mut self.dir_indexes,
            tag::BASENAMES => &mut self.basenames,
            tag::DIRNAMES => &mut self.dirnames,
            _ => return,
        };
        *slot = Some(e);
    }

    fn decode(self, data: &[u8]) -> Result<RpmHeader, HeaderError> {
        let required = |e: Option<Entry>, t: u32| -> Result<String, HeaderError> {
            let s = e.map(|e| string(data, e)).transpose()?.unwrap_or_default();
            if s.is_empty() {
                Err(HeaderError::Missing { tag: Tag(t) })
            } else {
                Ok(s)
            }
        };
        let optional = |e: Option<Entry>| -> Result<Option<String>, HeaderError> {
            Ok(e.map(|e| string(data, e))
                .transpose()?
                .filter(|s| !s.is_empty() && s != "(none)"))
        };
        let name = required(self.name, tag::NAME)?;
        let version = required(self.version, tag::VERSION)?;
        let release = required(self.release, tag::RELEASE)?;
        let epoch = match self.epoch {
            Some(e) => int32s(data, e)?.first().copied(),
            None => None,
        };
        let files = if let Some(b) = self.basenames {
            let basenames = string_array(data, b)?;
            let (Some(d), Some(x)) = (self.dirnames, self.dir_indexes) else {
                return Err(HeaderError::FileList(
                    "expected DIRNAMES and DIRINDEXES beside BASENAMES, found them missing"
                        .to_owned(),
                ));
            };
            let dirnames = string_array(data, d)?;
            let indexes = int32s(data, x)?;
            if indexes.len() != basenames.len() {
                return Err(HeaderError::FileList(format!(
                    "expected as many DIRINDEXES as BASENAMES ({}), found {}",
                    basenames.len(),
                    indexes.len()
                )));
            }
            let mut files = Vec::with_capacity(basenames.len());
            for (base, &ix) in basenames.iter().zip(&indexes) {
                let dir = dirnames.get(ix as usize).ok_or_else(|| {
                    HeaderError::FileList(format!(
                        "expected a DIRINDEXES value below {}, found {ix}",
                        dirnames.len()
                    ))
                })?;
                files.push(format!("{dir}{base}"));
            }
            files
        } else if let Some(o) = self.old_filenames {
            string_array(data, o)?
        } else {
            Vec::new()
        };
        Ok(RpmHeader {
            name,
            epoch,
            version,
            release,
            arch: optional(self.arch)?,
            source_rpm: optional(self.source_rpm)?,
            vendor: optional(self.vendor)?,
            files,
        })
    }
}

/// The NUL-terminated string at `start`, and the offset after its NUL.
fn c_str(data: &[u8], start: usize, t: u32) -> Result<(String, usize), HeaderError> {
    let rest = data.get(start..).unwrap_or_default();
    let nul = rest
        .iter()
        .position(|&b| b == 0)
        .ok_or(HeaderError::Unterminated { tag: Tag(t) })?;
    Ok((
        String::from_utf8_lossy(&rest[..nul]).into_owned(),
        start + nul + 1,
    ))
}

/// A single string (`STRING`; the first element of an array type is accepted too).
fn string(data: &[u8], e: Entry) -> Result<String, HeaderError> {
    match e.ty {
        ty::STRING | ty::STRING_ARRAY | ty::I18NSTRING => {}
        other => {
            return Err(HeaderError::WrongType {
                tag: Tag(e.tag),
                expected: "a string (type 6)",
                found: other,
            })
        }
    }
    if e.count == 0 {
        return Err(HeaderError::WrongCount {
            tag: Tag(e.tag),
            expected: "at least 1 string".to_owned(),
            found: 0,
        });
    }
    Ok(c_str(data, e.offset, e.tag)?.0)
}

/// A string array (`STRING_ARRAY` / `I18NSTRING`).
fn string_array(data: &[u8], e: Entry) -> Result<Vec<String>, HeaderError> {
    if !matches!(e.ty, ty::STRING_ARRAY | ty::I18NSTRING) {
        return Err(HeaderError::WrongType {
            tag: Tag(e.tag),
            expected: "a string array (type 8)",
            found: e.ty,
        });
    }
    // Every string takes at least its NUL byte: bound the count before allocating.
    let available = data.len().saturating_sub(e.offset);
    if e.count as usize > available {
        return Err(HeaderError::WrongCount {
            tag: Tag(e.tag),
            expected: format!("at most {available} strings in the remaining data"),
            found: e.count,
        });
    }
    let mut out = Vec::with_capacity(e.count as usize);
    let mut at = e.offset;
    for _ in 0..e.count {
        let (s, next) = c_str(data, at, e.tag)?;
        out.push(s);
        at = next;
    }
    Ok(out)
}

/// An `INT32` array.
fn int32s(data: &[u8], e: Entry) -> Result<Vec<u32>, HeaderError> {
    if e.ty != ty::INT32 {
        return Err(HeaderError::WrongType {
            tag: Tag(e.tag),
            expected: "32-bit integers (type 4)",
            found: e.ty,
        });
    }
    let available = data.len().saturating_sub(e.offset) / 4;
    if e.count == 0 || e.count as usize > available {
        return Err(HeaderError::WrongCount {
            tag: Tag(e.tag),
            expected: format!("from 1 to {available} integers in the remaining data"),
            found: e.count,
        });
    }
    let end = e.offset + e.count as usize * 4;
    Ok(data[e.offset..end]
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

/// Build a header blob from `(tag, type, count, data)` entries (tests and fuzz seeds).
/// Data is placed in order with the alignment each type needs; no region entry is written.
#[cfg(test)]
pub(crate) fn build_header(entries: &[(u32, u32, u32, Vec<u8>)]) -> Vec<u8> {
    let mut index = Vec::new();
    let mut data: Vec<u8> = Vec::new();
    for (t, ty, count, bytes) in entries {
        let align = align_of(*ty) as usize;
        while data.len() % align != 0 {
            data.push(0);
        }
        index.extend_from_slice(&t.to_be_bytes());
        index.extend_from_slice(&ty.to_be_bytes());
        index.extend_from_slice(&u32::try_from(data.len()).unwrap().to_be_bytes());
        index.extend_from_slice(&count.to_be_bytes());
        data.extend_from_slice(bytes);
    }
    let mut out = Vec::new();
    out.extend_from_slice(&u32::try_from(entries.len()).unwrap().to_be_bytes());
    out.extend_from_slice(&u32::try_from(data.len()).unwrap().to_be_bytes());
    out.extend_from_slice(&index);
    out.extend_from_slice(&data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Vec<u8> {
        let mut b = v.as_bytes().to_vec();
        b.push(0);
        b
    }
    fn arr(v: &[&str]) -> Vec<u8> {
        v.iter().flat_map(|x| s(x)).collect()
    }
    fn ints(v: &[u32]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_be_bytes()).collect()
    }

    fn minimal() -> Vec<(u32, u32, u32, Vec<u8>)> {
        vec![
            (tag::NAME, ty::STRING, 1, s("python3-six")),
            (tag::VERSION, ty::STRING, 1, s("1.15.0")),
            (tag::RELEASE, ty::STRING, 1, s("9.el9")),
            (tag::ARCH, ty::STRING, 1, s("noarch")),
            (
                tag::SOURCERPM,
                ty::STRING,
                1,
                s("python-six-1.15.0-9.el9.src.rpm"),
            ),
        ]
    }

    #[test]
    fn compressed_file_list_and_epoch() {
        let mut e = minimal();
        e.push((tag::EPOCH, ty::INT32, 1, ints(&[2])));
        e.push((tag::DIRINDEXES, ty::INT32, 3, ints(&[0, 1, 1])));
        e.push((
            tag::BASENAMES,
            ty::STRING_ARRAY,
            3,
            arr(&["six.py", "METADATA", "RECORD"]),
        ));
        e.push((
            tag::DIRNAMES,
            ty::STRING_ARRAY,
            2,
            arr(&[
                "/usr/lib/python3.9/site-packages/",
                "/usr/lib/python3.9/site-packages/six-1.15.0.dist-info/",
            ]),
        ));
        let h = parse_header(&build_header(&e)).unwrap();
        assert_eq!(h.name, "python3-six");
        assert_eq!(h.evr(), "2:1.15.0-9.el9");
        assert_eq!(h.arch.as_deref(), Some("noarch"));
        assert_eq!(
            h.files,
            [
                "/usr/lib/python3.9/site-packages/six.py",
                "/usr/lib/python3.9/site-packages/six-1.15.0.dist-info/METADATA",
                "/usr/lib/python3.9/site-packages/six-1.15.0.dist-info/RECORD",
            ]
        );
    }

    #[test]
    fn old_filenames_and_dribble_override() {
        let mut e = minimal();
        e.push((
            tag::OLDFILENAMES,
            ty::STRING_ARRAY,
            2,
            arr(&["/etc/a", "/etc/b"]),
        ));
        e.push((tag::RELEASE, ty::STRING, 1, s("10.el9"))); // later entry wins
        e.push((tag::VENDOR, ty::STRING, 1, s("(none)")));
        let h = parse_header(&build_header(&e)).unwrap();
        assert_eq!(h.files, ["/etc/a", "/etc/b"]);
        assert_eq!(h.release, "10.el9");
        assert_eq!(h.vendor, None);
        assert_eq!(h.epoch, None);
    }

    #[test]
    fn corrupt_headers_are_errors() {
        assert_eq!(
            parse_header(&[0, 0, 0]),
            Err(HeaderError::TooShort { found: 3 })
        );
        assert_eq!(parse_header(&[0; 8]), Err(HeaderError::NoEntries));
        assert!(matches!(
            parse_header(&[0, 1, 0, 0, 0, 0, 0, 0]),
            Err(HeaderError::TooManyEntries { .. })
        ));
        assert!(matches!(
            parse_header(&[0, 0, 0, 1, 0, 0, 0, 4]),
            Err(HeaderError::Truncated { .. })
        ));

        let good = build_header(&minimal());
        // NAME's type → 99.
        let mut b = good.clone();
        b[8 + 7] = 99;
        assert!(matches!(parse_header(&b), Err(HeaderError::BadType { .. })));
        // NAME's offset → far away.
        let mut b = good.clone();
        b[8 + 8] = 0x7f;
        assert!(matches!(
            parse_header(&b),
            Err(HeaderError::OffsetOutOfRange { .. })
        ));
        // The last string loses its NUL.
        let mut b = good.clone();
        let n = b.len();
        b[n - 1] = b'x';
        assert!(
            matches!(parse_header(&b), Err(HeaderError::Unterminated { .. })),
            "{:?}",
            parse_header(&b)
        );
        // A huge string-array count is refused before allocating.
        let mut e = minimal();
        e.push((tag::OLDFILENAMES, ty::STRING_ARRAY, u32::MAX, arr(&["/x"])));
        assert!(matches!(
            parse_header(&build_header(&e)),
            Err(HeaderError::WrongCount { .. })
        ));
        // Missing NAME.
        let e: Vec<_> = minimal().into_iter().skip(1).collect();
        assert!(matches!(
            parse_header(&build_header(&e)),
            Err(HeaderError::Missing { tag: Tag(1000) })
        ));
        // Dir index out of range.
        let mut e = minimal();
        e.push((tag::DIRINDEXES, ty::INT32, 1, ints(&[5])));
        e.push((tag::BASENAMES, ty::STRING_ARRAY, 1, arr(&["a"])));
        e.push((tag::DIRNAMES, ty::STRING_ARRAY, 1, arr(&["/"])));
        let err = parse_header(&build_header(&e)).unwrap_err();
        assert!(
            err.to_string()
                .contains("expected a DIRINDEXES value below 1, found 5"),
            "{err}"
        );
    }
}
