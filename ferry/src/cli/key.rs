//! `ferry key generate`: an ed25519 key pair for signing plugins.

use std::path::PathBuf;

use clap::Subcommand;

use super::{Exit, exit};

/// Key subcommands.
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Write a new key pair: PREFIX.key (secret, readable only by you) and PREFIX.pub,
    /// creating PREFIX's folder if it does not exist.
    Generate {
        /// The files' common prefix, e.g. `keys/acme`.
        #[arg(long)]
        out: PathBuf,
    },
}

pub async fn run(cmd: KeyCommand) -> Result<u8, Exit> {
    let KeyCommand::Generate { out } = cmd;
    let key = ferry_registry::generate_key()?;
    let secret = out.with_extension("key");
    let public = out.with_extension("pub");
    if secret.exists() {
        return Err(
            anyhow::anyhow!("{} exists; refusing to overwrite a key", secret.display()).into(),
        );
    }
    if let Some(dir) = secret.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| anyhow::anyhow!("cannot create folder {}: {e}", dir.display()))?;
    }
    ferry_server::secret::write_private(&secret, &hex::encode(key.to_bytes()), false)
        .map_err(|e| anyhow::anyhow!("{}: {e}", secret.display()))?;
    let id = ferry_registry::key_id(&key.verifying_key());
    std::fs::write(&public, format!("{id}\n"))
        .map_err(|e| anyhow::anyhow!("{}: {e}", public.display()))?;
    println!("{id}");
    eprintln!(
        "wrote {} (secret) and {}",
        secret.display(),
        public.display()
    );
    Ok(exit::OK)
}
