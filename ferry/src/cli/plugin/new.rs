//! `ferry plugin new`: a plugin project that builds and passes `ferry plugin test` as it is.

use std::path::PathBuf;

use ferry_kit::scaffold::{self, Language, RustSdk, Template};
use ferry_runtime::manifest::PluginKind;

use crate::cli::{Exit, exit};

/// `--kind`: a plugin kind as manifests spell it.
pub fn parse_kind(s: &str) -> Result<PluginKind, String> {
    PluginKind::ALL
        .into_iter()
        .find(|k| k.name() == s)
        .ok_or_else(|| {
            let all: Vec<&str> = PluginKind::ALL.iter().map(|k| k.name()).collect();
            format!("unknown kind {s:?}; one of {}", all.join(", "))
        })
}

/// `--lang`: a language `ferry plugin new` offers.
pub fn parse_language(s: &str) -> Result<Language, String> {
    Language::ALL
        .into_iter()
        .find(|l| l.name() == s)
        .ok_or_else(|| {
            let all: Vec<&str> = Language::ALL.iter().map(|l| l.name()).collect();
            let later = match s {
                "go" => " (not offered: see docs/src/authoring/languages.md)",
                _ => "",
            };
            format!("unknown language {s:?}{later}; one of {}", all.join(", "))
        })
}

pub fn run(
    name: String,
    kind: PluginKind,
    language: Language,
    dir: Option<PathBuf>,
    rust_sdk: Option<PathBuf>,
    description: Option<String>,
) -> Result<u8, Exit> {
    let dir = dir.unwrap_or_else(|| PathBuf::from(&name));
    let rust_sdk = match rust_sdk {
        Some(path) => RustSdk::Path(std::path::absolute(&path)?),
        None => RustSdk::default_for_this_build(),
    };
    // The project names the SDK by a path relative to itself, so the two can move together.
    let rust_sdk = match rust_sdk {
        RustSdk::Path(sdk) => {
            RustSdk::Path(scaffold::relative_to(&std::path::absolute(&dir)?, &sdk))
        }
        git => git,
    };
    if let Some(d) = &description
        && (d.trim().is_empty()
            || d.contains(scaffold::PLACEHOLDER)
            || d.chars().any(|c| c == '"' || c == '\\' || c.is_control()))
    {
        return Err(anyhow::anyhow!(
            "--description {d:?}: say what the plugin does in a sentence of your own, on one line, without `\"` or `\\` (it is written into the project's source)"
        )
        .into());
    }
    let describe_later = description.is_none();
    let template = Template {
        name,
        kind,
        language,
        rust_sdk,
        description,
    };
    let project = scaffold::create(&dir, &template)?;
    println!(
        "Created {} ({} {}, {} files) in {}",
        template.name,
        language.name(),
        kind.name(),
        project.files.len(),
        dir.display()
    );
    if matches!(language, Language::Rust | Language::ExtismRust) {
        let (krate, folder) = match language {
            Language::ExtismRust => ("ferry-extism-pdk", "../extism-rust"),
            _ => ("ferry-sdk", ""),
        };
        match &template.rust_sdk {
            RustSdk::Path(p) => println!("{krate} comes from {}", p.join(folder).display()),
            RustSdk::Git => {
                println!("{krate} comes from Ferry's repository (--rust-sdk DIR to use a checkout)")
            }
        }
    }
    if describe_later {
        println!(
            "\nIts description is the template's until you write your own in the manifest (or pass --description): the conformance kit refuses it until then."
        );
    }
    println!(
        "\nBuild it and run the conformance kit:\n  cd {}\n  {}\n  {}",
        dir.display(),
        project.build,
        project.test
    );
    Ok(exit::OK)
}
