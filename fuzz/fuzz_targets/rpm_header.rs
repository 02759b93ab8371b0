//! Fuzz the rpm header parser, and the Berkeley DB and NDB page parsers on the same input:
//! any input must give `Ok` or `Err`, never a panic, a hang or a huge allocation.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = nminus::collect::rpm::parse_header(data);
    for blobs in [
        nminus::collect::rpm::bdb_blobs(data),
        nminus::collect::rpm::ndb_blobs(data),
    ]
    .into_iter()
    .flatten()
    {
        for blob in blobs {
            if let Ok(bytes) = blob.data {
                let _ = nminus::collect::rpm::parse_header(&bytes);
            }
        }
    }
});
