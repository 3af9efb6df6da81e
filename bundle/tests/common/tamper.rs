//! What a tamperer does to a bundle: take it apart into its entries and put any entries back
//! together as a well-formed archive. Shared by the bundle crate's tests and `ferry edge`'s.

use std::io::{Read, Write};

/// A bundle's entries, in order: path and bytes.
pub type Entries = Vec<(String, Vec<u8>)>;

/// The bundle's entries, in order.
pub fn entries(bundle: &[u8]) -> Entries {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bundle));
    archive
        .entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let path = e.path().unwrap().to_string_lossy().into_owned();
            let mut bytes = Vec::new();
            e.read_to_end(&mut bytes).unwrap();
            (path, bytes)
        })
        .collect()
}

/// A bundle made of exactly these entries.
pub fn repack(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    for (path, bytes) in entries {
        let mut h = tar::Header::new_ustar();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut h, path, bytes.as_slice()).unwrap();
    }
    let mut gz = tar.into_inner().unwrap();
    gz.flush().unwrap();
    gz.finish().unwrap()
}
