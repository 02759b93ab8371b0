//! What the three database readers share: random-access input, the records they yield, errors.

use std::io;
use std::path::Path;

/// Random-access input: a byte slice (tests, fuzzing) or an open file (collection; rpmdbs can be
/// larger than what is sensible to read whole).
pub(crate) trait ReadAt {
    /// Total length in bytes.
    fn size(&self) -> u64;
    /// Fill `buf` from `offset`; an error when the input ends first.
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), DbError>;

    /// `len` bytes from `offset`, after checking that they exist (so that a hostile length never
    /// causes an allocation larger than the input).
    fn read_vec(&self, offset: u64, len: u64) -> Result<Vec<u8>, DbError> {
        let end = offset.checked_add(len).ok_or(DbError::BeyondEnd {
            offset,
            len,
            size: self.size(),
        })?;
        if end > self.size() {
            return Err(DbError::BeyondEnd {
                offset,
                len,
                size: self.size(),
            });
        }
        let mut v = vec![
            0u8;
            usize::try_from(len).map_err(|_| DbError::BeyondEnd {
                offset,
                len,
                size: self.size()
            })?
        ];
        self.read_exact_at(offset, &mut v)?;
        Ok(v)
    }
}

impl ReadAt for [u8] {
    fn size(&self) -> u64 {
        self.len() as u64
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), DbError> {
        let src = usize::try_from(offset)
            .ok()
            .and_then(|o| Some(o..o.checked_add(buf.len())?))
            .and_then(|r| self.get(r))
            .ok_or(DbError::BeyondEnd {
                offset,
                len: buf.len() as u64,
                size: self.len() as u64,
            })?;
        buf.copy_from_slice(src);
        Ok(())
    }
}

/// An open database file, read with positioned reads.
#[derive(Debug)]
pub(crate) struct FileSource {
    file: fs_err::File,
    size: u64,
}

impl FileSource {
    /// Open a host path read-only.
    pub(crate) fn open(path: &Path) -> io::Result<Self> {
        let file = crate::collect::root::open_regular(path, &path.display().to_string())?;
        let size = file.metadata()?.len();
        Ok(Self { file, size })
    }
}

impl ReadAt for FileSource {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), DbError> {
        use std::os::unix::fs::FileExt;
        let end = offset.checked_add(buf.len() as u64);
        if end.is_none_or(|e| e > self.size) {
            return Err(DbError::BeyondEnd {
                offset,
                len: buf.len() as u64,
                size: self.size,
            });
        }
        self.file
            .file()
            .read_exact_at(buf, offset)
            .map_err(|e| DbError::Io {
                offset,
                len: buf.len() as u64,
                message: e.to_string(),
            })
    }
}

/// One record a database reader yields: the package header blob, or why it could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Blob {
    /// The record's key as the backend knows it (`hnum 12`, `pkgidx 3`, `page 40 item 1`).
    pub key: String,
    /// The header blob.
    pub data: Result<Vec<u8>, DbError>,
}

/// Why a database, or one record of it, could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum DbError {
    /// A read past the end of the input.
    #[error("expected {len} bytes at offset {offset}, found the file ends at {size}")]
    BeyondEnd {
        /// Where.
        offset: u64,
        /// How many bytes.
        len: u64,
        /// Input length.
        size: u64,
    },
    /// An I/O error.
    #[error("reading {len} bytes at offset {offset} failed: {message}")]
    Io {
        /// Where.
        offset: u64,
        /// How many bytes.
        len: u64,
        /// The OS error.
        message: String,
    },
    /// Not this format at all.
    #[error("not {format}: expected magic {expected}, found {found}")]
    BadMagic {
        /// The format expected.
        format: &'static str,
        /// The expected magic.
        expected: &'static str,
        /// What was there.
        found: String,
    },
    /// The format's structure is broken.
    #[error("{0}")]
    Malformed(String),
    /// A valid file using a feature not supported here.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// SQLite refused the file or the query.
    #[error("{0}")]
    Sqlite(String),
}

impl DbError {
    /// Whether this is an I/O failure rather than bad content.
    pub(crate) fn is_io(&self) -> bool {
        matches!(self, Self::Io { .. })
    }
}

/// Render up to 8 bytes as hex for messages.
pub(crate) fn hex(b: &[u8]) -> String {
    let mut s = String::from("0x");
    for x in b.iter().take(8) {
        s.push_str(&format!("{x:02x}"));
    }
    if b.is_empty() {
        s = "nothing".to_owned();
    }
    s
}
