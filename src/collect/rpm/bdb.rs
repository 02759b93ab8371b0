//! The legacy rpmdb: a Berkeley DB hash database `Packages` (RHEL/CentOS ≤ 8, SUSE ≤ 15.2, Amazon
//! Linux 2 …), read without libdb.
//!
//! Layout (libdb's `db_page.h`; the layout go-rpmdb also reads): page 0 is the hash metadata
//! page (magic `0x061561` at byte 12, page size at 20, encryption at 24, page type 8 at 25, last
//! page number at 32). Every page starts with a 26-byte header (`pgno` 8, `next_pgno` 16,
//! `entries` 20, `hf_offset` 22, `type` 25). Hash pages (type 13, or 2 in RHEL 5's unsorted
//! format) hold `entries` 2-byte item offsets, alternately key and value. Package headers are
//! values, almost always stored off-page: an `H_OFFPAGE` item (type 3: pad 3, `pgno` u32,
//! `tlen` u32) heads a chain of overflow pages (type 7) each carrying `hf_offset` bytes after
//! its header. Small values are stored inline as `H_KEYDATA` (type 1). The record with key 0
//! holds rpm's instance counter, not a package. Integers are in the byte order of the host that
//! wrote the file: the magic tells which.

use super::db::{hex, Blob, DbError, ReadAt};

const HASH_MAGIC: u32 = 0x0006_1561;
const PAGE_HEADER: usize = 26;
const P_HASH_UNSORTED: u8 = 2;
const P_OVERFLOW: u8 = 7;
const P_HASHMETA: u8 = 8;
const P_HASH: u8 = 13;
const H_KEYDATA: u8 = 1;
const H_OFFPAGE: u8 = 3;
const HOFFPAGE_LEN: usize = 12;
/// Largest header blob accepted (rpm's `headerMaxbytes`).
const MAX_BLOB: u64 = 256 * 1024 * 1024;

#[derive(Debug, Clone, Copy)]
enum Order {
    Little,
    Big,
}

impl Order {
    fn u32(self, b: &[u8], at: usize) -> u32 {
        let a: [u8; 4] = b
            .get(at..at + 4)
            .and_then(|s| s.try_into().ok())
            .unwrap_or_default();
        match self {
            Self::Little => u32::from_le_bytes(a),
            Self::Big => u32::from_be_bytes(a),
        }
    }
    fn u16(self, b: &[u8], at: usize) -> u16 {
        let a: [u8; 2] = b
            .get(at..at + 2)
            .and_then(|s| s.try_into().ok())
            .unwrap_or_default();
        match self {
            Self::Little => u16::from_le_bytes(a),
            Self::Big => u16::from_be_bytes(a),
        }
    }
}

/// The database geometry from the metadata page.
struct Meta {
    order: Order,
    page_size: usize,
    pages: u32,
}

fn read_meta(src: &(impl ReadAt + ?Sized)) -> Result<Meta, DbError> {
    const META_LEN: usize = 512; // the smallest page size holds the whole hash metadata
    if src.size() < META_LEN as u64 {
        return Err(DbError::Malformed(format!(
            "berkeley db file too short: expected at least {META_LEN} bytes (the metadata page), found {}",
            src.size()
        )));
    }
    let mut m = [0u8; META_LEN];
    src.read_exact_at(0, &mut m)?;
    let order = if Order::Little.u32(&m, 12) == HASH_MAGIC {
        Order::Little
    } else if Order::Big.u32(&m, 12) == HASH_MAGIC {
        Order::Big
    } else {
        return Err(DbError::BadMagic {
            format: "a berkeley db hash database",
            expected: "0x00061561 at byte 12",
            found: hex(&m[12..16]),
        });
    };
    if m[25] != P_HASHMETA {
        return Err(DbError::Malformed(format!(
            "berkeley db: expected page 0 to be a hash metadata page (type {P_HASHMETA}), found type {}",
            m[25]
        )));
    }
    let page_size = order.u32(&m, 20);
    if !(512..=65536).contains(&page_size) || !page_size.is_power_of_two() {
        return Err(DbError::Malformed(format!(
            "berkeley db: expected a page size that is a power of two from 512 to 65536, found {page_size}"
        )));
    }
    if m[24] != 0 {
        return Err(DbError::Unsupported(format!(
            "encrypted berkeley db (algorithm {}); expected none",
            m[24]
        )));
    }
    if m[26] & 0x01 != 0 {
        return Err(DbError::Unsupported(
            "berkeley db with page checksums; expected none (rpm never enables them)".to_owned(),
        ));
    }
    let last = order.u32(&m, 32);
    let pages = u64::from(last) + 1;
    let need = pages * u64::from(page_size);
    if need > src.size() {
        return Err(DbError::Malformed(format!(
            "berkeley db truncated: the metadata names {pages} pages of {page_size} bytes ({need} bytes), found {} bytes",
            src.size()
        )));
    }
    Ok(Meta {
        order,
        page_size: page_size as usize,
        // `need` fits in the input size, so `pages` fits in u32 (last + 1 with last < size / 512).
        pages: u32::try_from(pages).unwrap_or(u32::MAX),
    })
}

/// Read every package blob, in page order, handing each to `sink`. Returns the number of records
/// handed over. An `Err` means the database as a whole is unusable; a damaged record or page is
/// an `Err` inside its [`Blob`].
pub(crate) fn read_bdb(
    src: &(impl ReadAt + ?Sized),
    sink: &mut dyn FnMut(Blob),
) -> Result<usize, DbError> {
    let meta = read_meta(src)?;
    let mut page = vec![0u8; meta.page_size];
    // One flag per page (the file holds them all, so this is at most size / 512 bytes).
    let mut used = vec![false; meta.pages as usize];
    let mut records = 0usize;
    for pgno in 1..meta.pages {
        src.read_exact_at(u64::from(pgno) * meta.page_size as u64, &mut page)?;
        let ty = page[25];
        if ty != P_HASH && ty != P_HASH_UNSORTED {
            continue; // overflow, free or other pages: reached from hash items
        }
        let entries = usize::from(meta.order.u16(&page, 20));
        let index_end = PAGE_HEADER + 2 * entries;
        if index_end > meta.page_size {
            records += 1;
            sink(Blob {
                key: format!("page {pgno}"),
                data: Err(DbError::Malformed(format!(
                    "berkeley db hash page {pgno}: {entries} item offsets do not fit in a {}-byte page",
                    meta.page_size
                ))),
            });
            continue;
        }
        if entries % 2 != 0 {
            records += 1;
            sink(Blob {
                key: format!("page {pgno}"),
                data: Err(DbError::Malformed(format!(
                    "berkeley db hash page {pgno}: expected key/value pairs (an even item count), found {entries} items"
                ))),
            });
        }
        let offs: Vec<usize> = (0..entries)
            .map(|i| usize::from(meta.order.u16(&page, PAGE_HEADER + 2 * i)))
            .collect();
        for pair in 0..entries / 2 {
            let (k, v) = (2 * pair, 2 * pair + 1);
            let mut key = format!("page {pgno} item {v}");
            let item = |i: usize| item_bytes(&page, &offs, i, index_end, pgno);
            // The key: rpm's header number (native-endian u32); 0 is the instance counter.
            match item(k) {
                Ok(kb) if kb.first() == Some(&H_KEYDATA) && kb.len() == 5 => {
                    let n = meta.order.u32(kb, 1);
                    if n == 0 {
                        continue;
                    }
                    key = format!("hdrnum {n}");
                }
                Ok(_) => {}
                Err(e) => {
                    records += 1;
                    sink(Blob { key, data: Err(e) });
                    continue;
                }
            }
            let data = item(v).and_then(|vb| match vb.first() {
                Some(&H_OFFPAGE) if vb.len() >= HOFFPAGE_LEN => {
                    let first = meta.order.u32(vb, 4);
                    let tlen = meta.order.u32(vb, 8);
                    read_overflow(src, &meta, &mut used, first, tlen)
                }
                Some(&H_KEYDATA) => Ok(vb[1..].to_vec()),
                other => Err(DbError::Malformed(format!(
                    "berkeley db hash page {pgno} item {v}: expected an off-page (3) or inline (1) value, found item type {} of {} bytes",
                    other.map_or_else(|| "none".to_owned(), u8::to_string),
                    vb.len()
                ))),
            });
            records += 1;
            sink(Blob { key, data });
        }
    }
    Ok(records)
}

/// Item `i` of a hash page: from its offset to the previous item's offset (items grow down from
/// the page end), or to the page end for item 0.
fn item_bytes<'p>(
    page: &'p [u8],
    offs: &[usize],
    i: usize,
    index_end: usize,
    pgno: u32,
) -> Result<&'p [u8], DbError> {
    let start = offs[i];
    let end = if i == 0 { page.len() } else { offs[i - 1] };
    if start < index_end || start >= end || end > page.len() {
        return Err(DbError::Malformed(format!(
            "berkeley db hash page {pgno} item {i}: expected an offset between {index_end} and {}, found {start}",
            end.min(page.len()).saturating_sub(1)
        )));
    }
    Ok(&page[start..end])
}

/// Follow an overflow chain from `first`, expecting `tlen` bytes in all.
///
/// `used` marks overflow pages already read: in a sound database every overflow page belongs to
/// exactly one chain, so a page met twice is an error. This also bounds the work on a hostile
/// file to one read per page, however many items point into the same chain.
fn read_overflow(
    src: &(impl ReadAt + ?Sized),
    meta: &Meta,
    used: &mut [bool],
    first: u32,
    tlen: u32,
) -> Result<Vec<u8>, DbError> {
    let total = u64::from(tlen);
    if total > MAX_BLOB || total > src.size() {
        return Err(DbError::Malformed(format!(
            "berkeley db overflow item: expected a length of at most {} bytes, found {tlen}",
            MAX_BLOB.min(src.size())
        )));
    }
    // Grow as pages are read; the chain itself is bounded by the page count.
    let mut out = Vec::with_capacity((tlen as usize).min(1 << 20));
    let mut page = vec![0u8; meta.page_size];
    let mut pgno = first;
    while pgno != 0 {
        let Some(seen) = used.get_mut(pgno as usize) else {
            return Err(DbError::Malformed(format!(
                "berkeley db overflow chain: expected a page number below {}, found {pgno}",
                meta.pages
            )));
        };
        if *seen {
            return Err(DbError::Malformed(format!(
                "berkeley db overflow chain from page {first}: expected page {pgno} to belong to this chain only, found it read before"
            )));
        }
        *seen = true;
        src.read_exact_at(u64::from(pgno) * meta.page_size as u64, &mut page)?;
        if page[25] != P_OVERFLOW {
            return Err(DbError::Malformed(format!(
                "berkeley db overflow chain: expected page {pgno} to be an overflow page (type {P_OVERFLOW}), found type {}",
                page[25]
            )));
        }
        let len = usize::from(meta.order.u16(&page, 22));
        if PAGE_HEADER + len > meta.page_size {
            return Err(DbError::Malformed(format!(
                "berkeley db overflow page {pgno}: expected at most {} data bytes, found {len}",
                meta.page_size - PAGE_HEADER
            )));
        }
        out.extend_from_slice(&page[PAGE_HEADER..PAGE_HEADER + len]);
        if out.len() as u64 > total {
            return Err(DbError::Malformed(format!(
                "berkeley db overflow chain from page {first}: expected {tlen} bytes, found more"
            )));
        }
        pgno = meta.order.u32(&page, 16);
    }
    if out.len() as u64 != total {
        return Err(DbError::Malformed(format!(
            "berkeley db overflow chain from page {first}: expected {tlen} bytes, found {}",
            out.len()
        )));
    }
    Ok(out)
}

/// Every record of a Berkeley DB `Packages` file held in memory.
pub(crate) fn bdb_blobs(bytes: &[u8]) -> Result<Vec<Blob>, DbError> {
    let mut v = Vec::new();
    read_bdb(bytes, &mut |b| v.push(b))?;
    Ok(v)
}
