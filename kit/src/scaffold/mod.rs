//! `ferry plugin new`: a plugin project that builds and passes `ferry plugin test` unchanged.
//! Each project carries what it builds against: the contract (`wit/`) and, for Python and
//! JavaScript and C, the authoring layer, so it builds offline with only the language's
//! toolchain.

mod embedded;
mod render;

pub use render::PLACEHOLDER;

use std::path::{Path, PathBuf};

use ferry_runtime::manifest::{ManifestError, PluginKind, check_name};

/// The languages a project can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    /// Rust, with the `ferry-sdk` crate, built for `wasm32-wasip2`.
    Rust,
    /// Python, with the `ferry_plugin` package, built by componentize-py. Its alert sink
    /// writes to a folder: the Python component has no HTTP client.
    Python,
    /// JavaScript, with `ferry-plugin.js`, built by ComponentizeJS. It computes only: the
    /// JavaScript component has no file system or HTTP client to deploy or alert with.
    Js,
    /// C, with `ferry.h`, built by `make` (wit-bindgen, clang for wasm32-wasi, jco). It
    /// computes only: the C layer has no HTTP client to deploy or alert with.
    C,
    /// Rust, with the `ferry-extism-pdk` crate: an Extism plugin, built for
    /// `wasm32-unknown-unknown`, or for `wasm32-wasip1` when it is a deployer (which writes
    /// files in the directory the operator grants).
    ExtismRust,
}

impl Language {
    /// Every language `ferry plugin new` offers.
    pub const ALL: [Language; 5] = [
        Language::Rust,
        Language::Python,
        Language::Js,
        Language::C,
        Language::ExtismRust,
    ];

    /// The language's name, as `--lang` spells it.
    pub fn name(self) -> &'static str {
        match self {
            Language::Rust => "rust",
            Language::Python => "python",
            Language::Js => "js",
            Language::C => "c",
            Language::ExtismRust => "extism-rust",
        }
    }

    /// The kinds its authoring layer offers.
    pub fn kinds(self) -> &'static [PluginKind] {
        match self {
            Language::Rust | Language::Python | Language::ExtismRust => &PluginKind::ALL,
            Language::Js | Language::C => &[
                PluginKind::Validator,
                PluginKind::Transform,
                PluginKind::Model,
            ],
        }
    }
}

/// Where a Rust project takes `ferry-sdk` (and an Extism one `ferry-extism-pdk`, beside it)
/// from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RustSdk {
    /// A checkout's `sdk/rust` folder (`sdk/extism-rust` is its sibling), as written in the
    /// project's `Cargo.toml`: relative to the project's folder when the two share a root.
    Path(PathBuf),
    /// Ferry's repository.
    Git,
}

impl RustSdk {
    /// The folder this binary was built from, when it is still there; Ferry's repository
    /// otherwise.
    pub fn default_for_this_build() -> RustSdk {
        let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sdk/rust");
        match here.join("Cargo.toml").is_file() {
            true => RustSdk::Path(here.canonicalize().unwrap_or(here)),
            false => RustSdk::Git,
        }
    }
}

/// What to create.
#[derive(Debug, Clone)]
pub struct Template {
    /// The plugin's name (a valid plugin name; the project's folder by default).
    pub name: String,
    /// Its kind.
    pub kind: PluginKind,
    /// Its language.
    pub language: Language,
    /// Where a Rust project takes the SDK from.
    pub rust_sdk: RustSdk,
    /// What the plugin does, for its manifest; without one the template's own sentence is
    /// used, marked as the template's, which the conformance kit refuses until it is replaced.
    pub description: Option<String>,
}

/// Why a project could not be created.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    /// The name is not a valid plugin name.
    #[error(transparent)]
    Name(#[from] ManifestError),
    /// The language's authoring layer does not offer the kind.
    #[error(
        "--kind {kind} is not offered in --lang {language}: its authoring layer writes {offered}"
    )]
    NotOffered {
        /// The kind asked for.
        kind: PluginKind,
        /// The language asked for.
        language: &'static str,
        /// The kinds it offers.
        offered: String,
    },
    /// The folder exists and holds files.
    #[error("{0} already exists and is not empty; choose another folder or name")]
    Exists(PathBuf),
    /// Writing failed.
    #[error("writing {path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
}

/// A project: its files, and the two commands that build and test it.
#[derive(Debug, Clone)]
pub struct Project {
    /// Relative paths and contents.
    pub files: Vec<(String, String)>,
    /// The command that builds the component.
    pub build: String,
    /// The command that runs the conformance kit on it.
    pub test: String,
    /// Where the component lands, relative to the project.
    pub component: String,
}

/// The project for `template`.
pub fn project(template: &Template) -> Result<Project, ScaffoldError> {
    check_name(&template.name)?;
    if !template.language.kinds().contains(&template.kind) {
        return Err(ScaffoldError::NotOffered {
            kind: template.kind,
            language: template.language.name(),
            offered: {
                let kinds: Vec<&str> = template.language.kinds().iter().map(|k| k.name()).collect();
                match kinds.split_last() {
                    Some((last, rest)) if !rest.is_empty() => {
                        format!("{} and {last}", rest.join(", "))
                    }
                    _ => kinds.join(""),
                }
            },
        });
    }
    Ok(render::project(template))
}

/// `target` as seen from the folder `from`: a relative path when the two share a root (both
/// absolute), `target` itself otherwise.
pub fn relative_to(from: &Path, target: &Path) -> PathBuf {
    let (f, t): (Vec<_>, Vec<_>) = (from.components().collect(), target.components().collect());
    let common = f.iter().zip(&t).take_while(|(a, b)| a == b).count();
    if common == 0 {
        return target.to_path_buf();
    }
    let mut out = PathBuf::new();
    for _ in common..f.len() {
        out.push("..");
    }
    for c in &t[common..] {
        out.push(c);
    }
    out
}

/// Writes the project for `template` into `dir`, which must be missing or empty. Returns the
/// project written.
pub fn create(dir: &Path, template: &Template) -> Result<Project, ScaffoldError> {
    let project = project(template)?;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ScaffoldError::Io { path, source }
    };
    if dir.exists() {
        let mut entries = std::fs::read_dir(dir).map_err(io(dir))?;
        if entries.next().is_some() {
            return Err(ScaffoldError::Exists(dir.to_path_buf()));
        }
    }
    for (relative, contents) in &project.files {
        let path = dir.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        std::fs::write(&path, contents).map_err(io(&path))?;
    }
    Ok(project)
}
