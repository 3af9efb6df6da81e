//! Opening a bundle: every byte is checked against the manifest before anything is returned.

use std::collections::BTreeMap;
use std::io::Read;

use flate2::bufread::GzDecoder;

use crate::format::{MANIFEST, SIGNATURE, check_path};
use crate::integrity::verify_digest;
use crate::trust::Trust;
use crate::{BundleError, FORMAT, Manifest, Signature, digest_of};

/// The most a manifest or signature may hold.
const MAX_META: u64 = 4 << 20;

/// An opened bundle whose files all match its manifest, and whose signature, if any, matches
/// the manifest. Whether that signature is trusted is `Bundle::check_trust`'s question.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// The manifest.
    pub manifest: Manifest,
    /// The manifest's digest (what the signature signs).
    pub manifest_digest: String,
    /// The signature, when the bundle is signed.
    pub signature: Option<Signature>,
    files: BTreeMap<String, Vec<u8>>,
}

impl Bundle {
    /// Applies `trust`: a bundle signed by a listed key passes; anything else passes only
    /// when the policy allows unsigned bundles.
    pub fn check_trust(&self, trust: &Trust) -> Result<(), BundleError> {
        trust.check(self.signature.as_ref())
    }

    /// The bytes of the file at `path`.
    pub fn file(&self, path: &str) -> Option<&[u8]> {
        self.files.get(path).map(Vec::as_slice)
    }

    /// The bytes of the file whose digest is `digest`.
    pub fn by_digest(&self, digest: &str) -> Option<&[u8]> {
        self.manifest
            .files
            .iter()
            .find(|f| f.digest == digest)
            .and_then(|f| self.file(&f.path))
    }
}

fn damaged(e: impl std::fmt::Display) -> BundleError {
    BundleError::Damaged(e.to_string())
}

fn read_limited(entry: impl Read, limit: u64, path: &str) -> Result<Vec<u8>, BundleError> {
    let mut bytes = Vec::new();
    entry
        .take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| damaged(format!("{path}: {e}")))?;
    if bytes.len() as u64 > limit {
        return Err(BundleError::Changed {
            path: path.to_string(),
            expected: format!("at most {limit} bytes"),
            found: "larger".to_string(),
        });
    }
    Ok(bytes)
}

type Entry<'a, 'b> = tar::Entry<'a, GzDecoder<&'b [u8]>>;

fn next_entry<'a, 'b>(
    entries: &mut tar::Entries<'a, GzDecoder<&'b [u8]>>,
) -> Result<Option<(String, Entry<'a, 'b>)>, BundleError> {
    let Some(entry) = entries.next() else {
        return Ok(None);
    };
    let entry = entry.map_err(damaged)?;
    let path = entry
        .path()
        .map_err(damaged)?
        .to_string_lossy()
        .into_owned();
    if entry.header().entry_type() != tar::EntryType::Regular {
        return Err(BundleError::Unlisted(format!(
            "{path} (not a regular file)"
        )));
    }
    Ok(Some((path, entry)))
}

/// Opens a bundle and checks it whole: the manifest comes first and is of this format, the
/// signature (if any) matches it, and every file is listed, present once, in the listed
/// order, of the listed size and digest.
pub fn read(bytes: &[u8]) -> Result<Bundle, BundleError> {
    let mut archive = tar::Archive::new(GzDecoder::new(bytes));
    let bundle = read_entries(&mut archive)?;
    // The archive's end is not the file's: the rest must be tar padding, a gzip trailer whose
    // checksum holds, and nothing after it.
    let mut gz = archive.into_inner();
    let mut rest = Vec::new();
    gz.read_to_end(&mut rest).map_err(damaged)?;
    if rest.iter().any(|b| *b != 0) {
        return Err(BundleError::Unlisted(
            "data after the end of the archive".into(),
        ));
    }
    if !gz.into_inner().is_empty() {
        return Err(BundleError::Unlisted(
            "bytes after the end of the bundle".into(),
        ));
    }
    Ok(bundle)
}

fn read_entries(archive: &mut tar::Archive<GzDecoder<&[u8]>>) -> Result<Bundle, BundleError> {
    let mut entries = archive.entries().map_err(damaged)?;
    let mut next = || next_entry(&mut entries);

    let manifest_bytes = match next()? {
        Some((path, entry)) if path == MANIFEST => read_limited(entry, MAX_META, MANIFEST)?,
        Some((path, _)) => {
            return Err(BundleError::Manifest(format!(
                "the first entry is {path}, not {MANIFEST}"
            )));
        }
        None => return Err(BundleError::Manifest("the bundle is empty".into())),
    };
    let manifest: Manifest = serde_json::from_slice(&manifest_bytes)
        .map_err(|e| BundleError::Manifest(e.to_string()))?;
    if manifest.format != FORMAT {
        return Err(BundleError::Manifest(format!(
            "its format is {:?}; this Ferry reads {FORMAT:?}",
            manifest.format
        )));
    }
    for f in &manifest.files {
        check_path(&f.path).map_err(BundleError::Manifest)?;
    }
    let manifest_digest = digest_of(&manifest_bytes);

    let mut signature = None;
    let mut files = BTreeMap::new();
    let mut listed = manifest.files.iter();
    let mut pending = next()?;
    if let Some((path, entry)) = pending.take() {
        if path == SIGNATURE {
            let sig: Signature = serde_json::from_slice(&read_limited(entry, MAX_META, SIGNATURE)?)
                .map_err(|e| BundleError::Signature(format!("{SIGNATURE}: {e}")))?;
            verify_digest(&sig.key, &sig.signature, &manifest_digest)
                .map_err(|e| BundleError::Signature(e.to_string()))?;
            signature = Some(sig);
            pending = next()?;
        } else {
            pending = Some((path, entry));
        }
    }
    while let Some((path, entry)) = pending.take() {
        let Some(expected) = listed.next() else {
            return Err(BundleError::Unlisted(path));
        };
        if expected.path != path {
            return Err(if manifest.files.iter().any(|f| f.path == path) {
                BundleError::Missing(expected.path.clone())
            } else {
                BundleError::Unlisted(path)
            });
        }
        let data = read_limited(entry, expected.size, &path)?;
        if data.len() as u64 != expected.size {
            return Err(BundleError::Changed {
                path,
                expected: format!("{} bytes", expected.size),
                found: format!("{} bytes", data.len()),
            });
        }
        let found = digest_of(&data);
        if found != expected.digest {
            return Err(BundleError::Changed {
                path,
                expected: expected.digest.clone(),
                found,
            });
        }
        files.insert(path, data);
        pending = next()?;
    }
    if let Some(missing) = listed.next() {
        return Err(BundleError::Missing(missing.path.clone()));
    }
    Ok(Bundle {
        manifest,
        manifest_digest,
        signature,
        files,
    })
}
