/// Why a bundle could not be written, read or trusted.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// The archive itself is broken: truncated, not gzip, not tar.
    #[error("the bundle is damaged or truncated: {0}")]
    Damaged(String),
    /// The manifest is missing, unreadable or of another format.
    #[error("the bundle's manifest is invalid: {0}")]
    Manifest(String),
    /// A file's bytes differ from what the manifest records for it.
    #[error(
        "{path} differs from the bundle's manifest: the manifest says {expected}, the file is {found}"
    )]
    Changed {
        /// The file inside the bundle.
        path: String,
        /// What the manifest records.
        expected: String,
        /// What the file holds.
        found: String,
    },
    /// A file the manifest lists is not in the bundle.
    #[error("{0} is listed in the bundle's manifest but missing from the bundle")]
    Missing(String),
    /// The bundle holds a file its manifest does not list.
    #[error("{0} is in the bundle but not in its manifest")]
    Unlisted(String),
    /// The signature is malformed or does not match the manifest.
    #[error("the bundle's signature is wrong: {0}")]
    Signature(String),
    /// The signature is valid but the trust policy does not accept it (or its absence).
    #[error("the bundle is not trusted: {0}")]
    Untrusted(String),
    /// A key or signature could not be read.
    #[error("{0}")]
    Key(String),
    /// Something the writer was given cannot go into a bundle.
    #[error("cannot write the bundle: {0}")]
    Write(String),
}
