//! `ferry plugin …`: one module per subcommand.

mod info;
mod inspect;
mod install;
mod list;
mod new;
mod owner;
mod publish;
mod search;
mod test;
mod yank;

use std::path::PathBuf;

use clap::Subcommand;
use ferry_runtime::{Plugin, Runtime};

use super::{Exit, RegistryArgs};

/// Plugin subcommands.
#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// List the built-in plugins.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Load a plugin file and show its kind, contract, exports, capabilities, limits and
    /// configuration schema (or why it is refused).
    Inspect {
        /// A `.wasm` component, or the name of a built-in plugin.
        plugin: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Create a plugin project that builds and passes `ferry plugin test` as it is: a working
    /// plugin of the kind, its configuration schema, the contract, and a README with the
    /// commands that build and test it.
    New {
        /// The plugin's name (lowercase letters, digits and `-`).
        name: String,
        /// The kind of plugin.
        #[arg(long, value_parser = new::parse_kind)]
        kind: ferry_runtime::manifest::PluginKind,
        /// The language: rust, python or extism-rust (every kind); js or c (validators,
        /// transforms and models).
        #[arg(long = "lang", value_parser = new::parse_language)]
        language: ferry_kit::scaffold::Language,
        /// The folder to create (default: ./NAME). It must be missing or empty.
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Rust: take `ferry-sdk` from this folder (a checkout's `sdk/rust`), named in the
        /// project's `Cargo.toml` relative to it. Default: the checkout this ferry was built
        /// from, if it is still there, else Ferry's repository.
        #[arg(long)]
        rust_sdk: Option<PathBuf>,
        /// What the plugin does, for its manifest (the registry shows it to users). Without
        /// it the template's description is used, which the conformance kit refuses until it
        /// is replaced.
        #[arg(long)]
        description: Option<String>,
    },
    /// Run the conformance kit on a plugin: its contract, manifest and configuration schema,
    /// the purity check on sample data, and the inputs careless callers send (an unparsable
    /// configuration, an unknown key, wrong column types, nulls, empty and one-row batches).
    /// Exits 12 when a check fails.
    Test {
        /// A `.wasm` component, or the name of a built-in plugin.
        plugin: String,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        sandbox: super::SandboxArgs,
    },
    /// Check a plugin and publish it to the registry.
    Publish {
        /// The `.wasm` component.
        file: PathBuf,
        /// Sign the component's digest with this key (from `ferry key generate`).
        #[arg(long)]
        sign_key: Option<PathBuf>,
        /// Publish without the conformance kit (the purity check still runs). A remote Ferry
        /// allows it only with an admin token; a local data folder belongs to its user.
        #[arg(long)]
        skip_checks: bool,
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// Search the registry by name, description, kind and keyword.
    Search {
        /// Words to look for in names, descriptions and keywords.
        text: Option<String>,
        /// Only plugins of this kind (validator, transform, model, deployer, alert-sink).
        #[arg(long)]
        kind: Option<String>,
        /// Only plugins with this keyword.
        #[arg(long)]
        keyword: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// Show a plugin package: its versions, digests, downloads and latest manifest.
    Info {
        /// The plugin's name.
        name: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// Install plugins into a project and pin them in its `ferry.lock`, or reinstall exactly
    /// what the lock file pins.
    Install {
        /// Specifications: `name`, `name@^1.2`, `name@latest`, `name@1.2.3`, `name@1.2.3#sha256:…`.
        specs: Vec<String>,
        /// The project folder (holds `ferry.lock` and `.ferry/plugins/`).
        #[arg(long, default_value = ".")]
        project: PathBuf,
        /// Install exactly what `ferry.lock` pins, and nothing else.
        #[arg(long, conflicts_with = "specs")]
        locked: bool,
        /// A trust policy (TOML with `[[require]] namespace = "acme-*", keys = ["ed25519:…"]`);
        /// defaults to the project's `ferry-trust.toml` when there is one.
        #[arg(long)]
        trust: Option<PathBuf>,
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// Add an owner to a package (owners and admins may).
    Owner {
        /// The package.
        name: String,
        /// The new owner (a token name).
        owner: String,
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// Yank a version (ranges skip it; exact versions and lock files still reach it).
    Yank {
        /// `name@version`.
        spec: String,
        /// Undo a yank.
        #[arg(long)]
        undo: bool,
        #[command(flatten)]
        registry: RegistryArgs,
    },
}

/// A plugin as JSON, for `--json` output.
pub(crate) fn describe(p: &Plugin) -> serde_json::Value {
    let m = p.manifest();
    serde_json::json!({
        "name": m.name,
        "version": m.version.to_string(),
        "kind": m.kind,
        "contract": format!("ferry:plugin@{}", m.contract),
        "description": m.description,
        "authors": m.authors,
        "license": m.license,
        "repository": m.repository,
        "keywords": m.keywords,
        "digest": p.digest(),
        "size": p.size(),
        "source": p.source(),
        "imports": p.imports(),
        "exports": p.exports(),
        "capabilities": m.capabilities,
        "default_limits": m.limits,
        "effective_limits": p.limits(),
        "config_schema": m.config_schema,
    })
}

pub async fn run(runtime: &Runtime, cmd: PluginCommand) -> Result<u8, Exit> {
    match cmd {
        PluginCommand::List { json } => list::run(runtime, json).await,
        PluginCommand::Inspect { plugin, json } => inspect::run(runtime, plugin, json).await,
        PluginCommand::New {
            name,
            kind,
            language,
            dir,
            rust_sdk,
            description,
        } => new::run(name, kind, language, dir, rust_sdk, description),
        PluginCommand::Test {
            plugin,
            json,
            sandbox,
        } => test::run(runtime, plugin, &sandbox, json).await,
        PluginCommand::Publish {
            file,
            sign_key,
            skip_checks,
            registry,
        } => publish::run(runtime, &registry, &file, sign_key.as_deref(), skip_checks).await,

        PluginCommand::Search {
            text,
            kind,
            keyword,
            json,
            registry,
        } => search::run(runtime, &registry, text, kind, keyword, json).await,
        PluginCommand::Info {
            name,
            json,
            registry,
        } => info::run(runtime, &registry, &name, json).await,
        PluginCommand::Install {
            specs,
            project,
            locked,
            trust,
            registry,
        } => {
            install::run(
                runtime,
                &registry,
                &specs,
                &project,
                locked,
                trust.as_deref(),
            )
            .await
        }
        PluginCommand::Owner {
            name,
            owner,
            registry,
        } => owner::run(runtime, &registry, &name, &owner).await,
        PluginCommand::Yank {
            spec,
            undo,
            registry,
        } => yank::run(runtime, &registry, &spec, undo).await,
    }
}
