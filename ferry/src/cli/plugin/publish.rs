//! `ferry plugin publish`: check a component and publish it, locally or to a remote Ferry,
//! signed if a key is given.

use std::path::Path;

use ferry_kit::publish;
use ferry_pipeline::client::RemoteRegistry;
use ferry_registry::Published;
use ferry_runtime::Runtime;

use crate::cli::{Exit, RegistryArgs, exit};

pub async fn run(
    runtime: &Runtime,
    args: &RegistryArgs,
    file: &Path,
    sign_key: Option<&Path>,
    skip_checks: bool,
) -> Result<u8, Exit> {
    let checks = if skip_checks {
        publish::Checks::PurityOnly
    } else {
        publish::Checks::Conformance
    };
    let bytes = std::fs::read(file).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    let signature = match sign_key {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            let key = ferry_registry::parse_signing_key(&text)?;
            Some(ferry_registry::sign(
                &key,
                &ferry_registry::digest_of(&bytes),
            ))
        }
        None => None,
    };
    if let Some(url) = &args.registry {
        // The server checks everything again; checking here first gives the clearest error.
        let plugin = runtime
            .load(&file.display().to_string(), &bytes, &Default::default())
            .await?;
        publish::check_purity(&plugin).await?;
        if checks == publish::Checks::Conformance {
            publish::conform(&plugin).await?;
        }
        eprintln!(
            "uploading {} ({} bytes) to {url}",
            file.display(),
            bytes.len()
        );
        let (created, r) = RemoteRegistry::new(url, args.token.clone())?
            .publish(bytes, signature.as_ref(), skip_checks)
            .await?;
        if created {
            println!(
                "published {} {} ({}, {} bytes, {}) to {url}",
                r.name, r.version, r.kind, r.size, r.digest
            );
        } else {
            println!(
                "{} {} is already published with these bytes ({})",
                r.name, r.version, r.digest
            );
        }
        if let Some(s) = &signature {
            println!("signed by {}", s.key);
        }
        return Ok(exit::OK);
    }
    let registry = args.open(runtime).await?;
    let user = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
    let actor = crate::cli::local_actor();
    let outcome = publish::publish_audited(
        runtime,
        &registry,
        &file.display().to_string(),
        &bytes,
        publish::Publisher {
            actor: &actor,
            owner: Some(&user),
            request_id: "cli",
        },
        checks,
    )
    .await?;
    if let Some(note) = outcome.purity_note() {
        eprintln!("{note}");
    }
    let r = outcome.published.record();
    match outcome.published {
        Published::Created(_) => println!(
            "published {} {} ({}, {} bytes, {})",
            r.name, r.version, r.kind, r.size, r.digest
        ),
        Published::Unchanged(_) => println!(
            "{} {} is already published with these bytes ({})",
            r.name, r.version, r.digest
        ),
    }
    if let Some(s) = &signature {
        registry.add_signature(&r.digest, s).await?;
        let object = format!("plugin:{}@{}", r.name, r.version);
        registry
            .audit(&actor, "plugin.sign", &object, "ok", "cli", &s.key)
            .await?;
        println!("signed by {}", s.key);
    }
    Ok(exit::OK)
}
