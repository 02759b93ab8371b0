//! SUSE's rpmdb: the "ndb" blob store `Packages.db` (rpm's `lib/backend/ndb/rpmpkg.c`), read
//! without librpm. All integers are little-endian.
//!
//! - Header (32 bytes): magic `RpmP`, version 0, generation, `slotnpages`, next package index.
//! - `slotnpages` slot pages of 4096 bytes start at offset 0 (the header takes the first two
//!   16-byte slots). Each slot: magic `Slot`, `pkgidx`, `blkoff`, `blkcnt`; `blkoff` 0 is a
//!   free slot.
//! - A blob occupies `blkcnt` 16-byte blocks from `blkoff`: head (magic `BlbS`, `pkgidx`,
//!   timestamp, `bloblen`), the header blob, zero padding, tail (adler32, `bloblen`, magic
//!   `BlbE`) in the last 12 bytes.
//!
//! Like rpm's read path, the adler32 is not verified; the tail's length and magic are.

use super::db::{hex, Blob, DbError, ReadAt};

const HEADER_MAGIC: u32 = u32::from_le_bytes(*b"RpmP");
const SLOT_MAGIC: u32 = u32::from_le_bytes(*b"Slot");
const BLOB_MAGIC: u32 = u32::from_le_bytes(*b"BlbS");
const TAIL_MAGIC: u32 = u32::from_le_bytes(*b"BlbE");
const PAGE: u64 = 4096;
const SLOT: usize = 16;
const BLK: u64 = 16;
const HEAD: u64 = 16;
const TAIL: u64 = 12;
/// More slot pages than this is not a package database (2048 pages = 524,000 packages).
const MAX_SLOT_PAGES: u32 = 2048;

fn le32(b: &[u8], at: usize) -> u32 {
    let a: [u8; 4] = b
        .get(at..at + 4)
        .and_then(|s| s.try_into().ok())
        .unwrap_or_default();
    u32::from_le_bytes(a)
}

/// Read every package blob, in block order, handing each to `sink`. Returns the number of
/// records handed over. An `Err` means the database as a whole is unusable (bad header or slot
/// pages); a damaged blob is an `Err` inside its [`Blob`].
pub(crate) fn read_ndb(
    src: &(impl ReadAt + ?Sized),
    sink: &mut dyn FnMut(Blob),
) -> Result<usize, DbError> {
    if src.size() < 32 {
        return Err(DbError::Malformed(format!(
            "ndb file too short: expected at least 32 bytes (the header), found {}",
            src.size()
        )));
    }
    let mut h = [0u8; 32];
    src.read_exact_at(0, &mut h)?;
    if le32(&h, 0) != HEADER_MAGIC {
        return Err(DbError::BadMagic {
            format: "an ndb package database",
            expected: "\"RpmP\"",
            found: hex(&h[0..4]),
        });
    }
    let version = le32(&h, 4);
    if version != 0 {
        return Err(DbError::Unsupported(format!(
            "ndb version {version}; expected 0"
        )));
    }
    let slot_pages = le32(&h, 12);
    if slot_pages == 0 || slot_pages > MAX_SLOT_PAGES {
        return Err(DbError::Malformed(format!(
            "ndb header: expected 1 to {MAX_SLOT_PAGES} slot pages, found {slot_pages}"
        )));
    }
    let slots_len = u64::from(slot_pages) * PAGE;
    let slots = src.read_vec(0, slots_len).map_err(|_| {
        DbError::Malformed(format!(
            "ndb truncated: the header names {slot_pages} slot pages ({slots_len} bytes), found {} bytes",
            src.size()
        ))
    })?;
    let first_blk = slots_len / BLK;
    let file_blks = src.size() / BLK;
    // The first two slots are the header.
    let mut used = Vec::new();
    for (n, slot) in slots.chunks_exact(SLOT).enumerate().skip(2) {
        if le32(slot, 0) != SLOT_MAGIC {
            return Err(DbError::Malformed(format!(
                "ndb slot {n}: expected magic \"Slot\", found {}",
                hex(&slot[0..4])
            )));
        }
        let blkoff = u64::from(le32(slot, 8));
        if blkoff != 0 {
            used.push((blkoff, n, le32(slot, 4), u64::from(le32(slot, 12))));
        }
    }
    // In block order (as rpm lists them), so overlapping blobs are seen: rpm refuses them, and
    // refusing them bounds the bytes read to the file size.
    used.sort_unstable();
    let mut end_of_last = first_blk;
    let records = used.len();
    for (blkoff, n, pkgidx, blkcnt) in used {
        let key = format!("pkgidx {pkgidx}");
        let data = if pkgidx == 0 || blkcnt == 0 || blkoff < first_blk {
            Err(DbError::Malformed(format!(
                "ndb slot {n}: expected a package index, a block count and a block offset of at least {first_blk}, found pkgidx {pkgidx}, blkcnt {blkcnt}, blkoff {blkoff}"
            )))
        } else if blkoff + blkcnt > file_blks {
            Err(DbError::Malformed(format!(
                "ndb truncated: slot {n} names blocks {blkoff}..{}, found the file ends at block {file_blks}",
                blkoff + blkcnt
            )))
        } else if blkoff < end_of_last {
            Err(DbError::Malformed(format!(
                "ndb slot {n}: expected its blob to start at or after block {end_of_last} (the end of the previous blob), found {blkoff}"
            )))
        } else {
            end_of_last = blkoff + blkcnt;
            read_blob(src, pkgidx, blkoff, blkcnt)
        };
        sink(Blob { key, data });
    }
    Ok(records)
}

fn read_blob(
    src: &(impl ReadAt + ?Sized),
    pkgidx: u32,
    blkoff: u64,
    blkcnt: u64,
) -> Result<Vec<u8>, DbError> {
    // Bounds were checked against the file size by the caller.
    let block = src.read_vec(blkoff * BLK, blkcnt * BLK)?;
    let len = block.len();
    if (len as u64) < HEAD + TAIL {
        return Err(DbError::Malformed(format!(
            "ndb blob of pkgidx {pkgidx}: expected at least {} bytes, found {len}",
            HEAD + TAIL
        )));
    }
    if le32(&block, 0) != BLOB_MAGIC {
        return Err(DbError::BadMagic {
            format: "an ndb blob",
            expected: "\"BlbS\"",
            found: hex(&block[0..4]),
        });
    }
    let found_idx = le32(&block, 4);
    if found_idx != pkgidx {
        return Err(DbError::Malformed(format!(
            "ndb blob at block {blkoff}: expected pkgidx {pkgidx}, found {found_idx}"
        )));
    }
    let bloblen = u64::from(le32(&block, 12));
    let want_cnt = (HEAD + bloblen + TAIL).div_ceil(BLK);
    if want_cnt != blkcnt {
        return Err(DbError::Malformed(format!(
            "ndb blob of pkgidx {pkgidx}: a {bloblen}-byte blob needs {want_cnt} blocks, found the slot names {blkcnt}"
        )));
    }
    let tail = len - TAIL as usize;
    if u64::from(le32(&block, tail + 4)) != bloblen || le32(&block, tail + 8) != TAIL_MAGIC {
        return Err(DbError::Malformed(format!(
            "ndb blob of pkgidx {pkgidx}: expected a tail with length {bloblen} and magic \"BlbE\", found length {} and magic {}",
            le32(&block, tail + 4),
            hex(&block[tail + 8..])
        )));
    }
    // want_cnt == blkcnt guarantees HEAD + bloblen fits before the tail.
    Ok(block[HEAD as usize..(HEAD + bloblen) as usize].to_vec())
}

/// Every record of an NDB `Packages.db` held in memory.
pub(crate) fn ndb_blobs(bytes: &[u8]) -> Result<Vec<Blob>, DbError> {
    let mut v = Vec::new();
    read_ndb(bytes, &mut |b| v.push(b))?;
    Ok(v)
}
