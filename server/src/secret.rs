//! Files holding secrets (tokens, signing keys): readable and writable by their owner only.

use std::io::Write;
use std::path::Path;

/// Writes `secret` and a newline to `path` with mode 0600. With `replace` an existing file is
/// overwritten; without it an existing file is an error, so a key is never lost by accident.
pub fn write_private(path: &Path, secret: &str, replace: bool) -> std::io::Result<()> {
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if replace {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    #[cfg(unix)]
    options.mode(0o600);
    let mut f = options.open(path)?;
    writeln!(f, "{secret}")
}
