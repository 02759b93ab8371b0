//! The current rpmdb (rpm ≥ 4.16: Fedora 33+, RHEL 9, Mariner, Amazon Linux 2023):
//! `rpmdb.sqlite`, table `Packages(hnum INTEGER PRIMARY KEY, blob BLOB)`.
//!
//! The file is opened read-only *and* immutable (`file:…?immutable=1`): SQLite takes no lock,
//! creates no `-shm`/`-journal` file and never writes, so a live database is neither blocked nor
//! touched. The price: pages still in a `-wal` file (a transaction not yet checkpointed) are not
//! seen; the collector reports that case.

use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use super::db::{Blob, DbError};

/// `file:` URI for a host path, percent-encoding everything but unreserved characters and `/`.
pub(super) fn immutable_uri(path: &Path) -> String {
    let mut s = String::from("file:");
    for &b in path.as_os_str().as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'.' | b'_' | b'~') {
            s.push(char::from(b));
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s.push_str("?immutable=1");
    s
}

fn sql(e: &rusqlite::Error) -> DbError {
    DbError::Sqlite(e.to_string())
}

/// Read every package blob of the SQLite rpmdb at host path `path`, in `hnum` order, handing each
/// to `sink`. Returns the number of records handed over.
pub(crate) fn read_sqlite(path: &Path, sink: &mut dyn FnMut(Blob)) -> Result<usize, DbError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
        | OpenFlags::SQLITE_OPEN_URI
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(immutable_uri(path), flags).map_err(|e| sql(&e))?;
    let has_table: bool = conn
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'Packages')",
            [],
            |r| r.get(0),
        )
        .map_err(|e| sql(&e))?;
    if !has_table {
        return Err(DbError::Malformed(
            "expected an rpmdb table `Packages`, found none".to_owned(),
        ));
    }
    let mut stmt = conn
        .prepare("SELECT hnum, blob FROM Packages ORDER BY hnum")
        .map_err(|e| sql(&e))?;
    let mut rows = stmt.query([]).map_err(|e| sql(&e))?;
    let mut records = 0usize;
    while let Some(row) = rows.next().map_err(|e| sql(&e))? {
        let key = match row.get::<_, i64>(0) {
            Ok(n) => format!("hnum {n}"),
            Err(_) => format!("row {}", records + 1),
        };
        let data = row.get::<_, Vec<u8>>(1).map_err(|e| {
            DbError::Malformed(format!(
                "expected a header blob in column `blob`, found {e}"
            ))
        });
        records += 1;
        sink(Blob { key, data });
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_escapes_query_characters() {
        assert_eq!(
            immutable_uri(Path::new("/r oot/a?b#c%/rpmdb.sqlite")),
            "file:/r%20oot/a%3Fb%23c%25/rpmdb.sqlite?immutable=1"
        );
    }
}
