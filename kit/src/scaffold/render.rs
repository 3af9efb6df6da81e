//! Filling the templates in: the plugin's name, a description, its configuration schema in the
//! language's own literal syntax, the build files and a README with the two commands.

use serde_json::Value;

use super::embedded::{self, C_SDK, JS_PACKAGE, JS_SDK, PYTHON_SDK, RUST_CARGO, WIT};
use super::{Language, Project, RustSdk, Template};
use ferry_runtime::manifest::PluginKind;

fn description(t: &Template) -> String {
    if let Some(given) = &t.description {
        return given.clone();
    }
    let what = match t.kind.name() {
        "validator" => "Checks that numeric columns lie within a range and hold no nulls",
        "transform" => "Centres numeric columns on the means learned in training",
        "model" => "A nearest-centroid classifier",
        "deployer" => "Deploys model versions into a folder, with rollback",
        _ if t.language == Language::Rust => "POSTs alerts as JSON to a URL",
        _ => "Appends alerts as JSON lines to a file",
    };
    format!("{what} {PLACEHOLDER}")
}

/// What a description made from the template ends with, until its author says what the plugin
/// does; the conformance kit refuses it.
pub const PLACEHOLDER: &str = "(made by ferry plugin new)";

fn fill(text: &str, t: &Template, schema: &str) -> String {
    text.replace("{{name}}", &t.name)
        .replace("{{description}}", &description(t))
        .replace("{{schema}}", schema)
}

/// A language whose object literals a schema is written in.
#[derive(Clone, Copy)]
enum Syntax {
    /// `True`, `False`, `None`, quoted keys.
    Python,
    /// `true`, `false`, `null`, bare keys where they are identifiers.
    JavaScript,
}

/// `value` as a literal of `syntax` on a line indented by `indent` where `used` columns are
/// taken before it: on that line where it fits in 80 columns, otherwise one entry per line.
fn literal(value: &Value, indent: usize, used: usize, syntax: Syntax) -> String {
    let flat = flat_literal(value, syntax);
    if indent + used + flat.len() < 80 {
        return flat;
    }
    let step = match syntax {
        Syntax::Python => 4,
        Syntax::JavaScript => 2,
    };
    let pad = " ".repeat(indent + step);
    let close = " ".repeat(indent);
    match value {
        Value::Array(items) => {
            let entries: Vec<String> = items
                .iter()
                .map(|v| format!("{pad}{},", literal(v, indent + step, 0, syntax)))
                .collect();
            format!("[\n{}\n{close}]", entries.join("\n"))
        }
        Value::Object(map) => {
            let entries: Vec<String> = map
                .iter()
                .map(|(k, v)| {
                    let key = key(k, syntax);
                    let value = literal(v, indent + step, key.len() + 2, syntax);
                    format!("{pad}{key}: {value},")
                })
                .collect();
            format!("{{\n{}\n{close}}}", entries.join("\n"))
        }
        _ => flat,
    }
}

fn key(k: &str, syntax: Syntax) -> String {
    let bare = matches!(syntax, Syntax::JavaScript)
        && k.chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if bare {
        k.to_string()
    } else {
        Value::String(k.to_string()).to_string()
    }
}

fn flat_literal(value: &Value, syntax: Syntax) -> String {
    let python = matches!(syntax, Syntax::Python);
    let space = if python { "" } else { " " };
    match value {
        Value::Null => if python { "None" } else { "null" }.into(),
        Value::Bool(true) => if python { "True" } else { "true" }.into(),
        Value::Bool(false) => if python { "False" } else { "false" }.into(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => Value::String(s.clone()).to_string(),
        Value::Array(items) => format!(
            "[{}]",
            items
                .iter()
                .map(|v| flat_literal(v, syntax))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Value::Object(map) if map.is_empty() => "{}".into(),
        Value::Object(map) => format!(
            "{{{space}{}{space}}}",
            map.iter()
                .map(|(k, v)| format!("{}: {}", key(k, syntax), flat_literal(v, syntax)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// `value` as compact JSON in C string literals: an object one entry per line (an entry that
/// is itself a long object, one of its entries per line), continued lines indented by `indent`.
fn c_string(value: &Value, indent: usize) -> String {
    fn entries(
        map: &serde_json::Map<String, Value>,
        out: &mut Vec<String>,
        open: &str,
        close: &str,
    ) {
        let last = map.len().saturating_sub(1);
        for (i, (k, v)) in map.iter().enumerate() {
            let open = if i == 0 { open } else { "" };
            let sep = if i == last {
                close.to_string()
            } else {
                ",".to_string()
            };
            let key = Value::String(k.clone());
            match v {
                Value::Object(inner) if inner.len() > 1 && v.to_string().len() > 60 => {
                    entries(inner, out, &format!("{open}{key}:{{"), &format!("}}{sep}"));
                }
                _ => out.push(format!("{open}{key}:{v}{sep}")),
            }
        }
    }
    let mut pieces = Vec::new();
    match value {
        Value::Object(map) if !map.is_empty() => entries(map, &mut pieces, "{", "}"),
        _ => pieces.push(value.to_string()),
    }
    let pad = " ".repeat(indent + 4);
    pieces
        .iter()
        .map(|p| format!("{p:?}"))
        .collect::<Vec<_>>()
        .join(&format!("\n{pad}"))
}

fn schema_value(t: &Template) -> Value {
    serde_json::from_str(embedded::schema(t.language.name(), t.kind.name())).unwrap_or(Value::Null)
}

fn rust_sdk_dependency(sdk: &RustSdk, extism: bool) -> String {
    match sdk {
        RustSdk::Path(p) if extism => {
            let dir = p.parent().unwrap_or(p).join("extism-rust");
            format!("{{ path = {:?} }}", dir.display().to_string())
        }
        RustSdk::Path(p) => format!("{{ path = {:?} }}", p.display().to_string()),
        RustSdk::Git => "{ git = \"https://github.com/ferry-mlops/ferry\" }".into(),
    }
}

fn readme(t: &Template, build: &str, test: &str, needs: &str, layout: &str) -> String {
    format!(
        "# {name}\n\n{description}: a Ferry {kind} plugin in {language}.\n\n\
         Build it and run the conformance kit on it:\n\n```sh\n{build}\n{test}\n```\n\n\
         {needs}\n\n{layout}\n\n\
         `ferry plugin test` checks the plugin point by point, as `ferry plugin publish` will; \
         then `ferry plugin publish {component}` puts it in the registry.\n",
        name = t.name,
        description = description(t),
        kind = t.kind.name(),
        language = match t.language {
            Language::Rust => "Rust",
            Language::Python => "Python",
            Language::Js => "JavaScript",
            Language::C => "C",
            Language::ExtismRust => "Rust, as an Extism plugin",
        },
        component = component(t),
    )
}

/// The target an Extism plugin of `kind` is built for: a deployer writes files, so it gets WASI
/// preview 1 (the operator's directory grants are its allowed paths); the others need none.
fn extism_target(kind: PluginKind) -> &'static str {
    match kind {
        PluginKind::Deployer => "wasm32-wasip1",
        _ => "wasm32-unknown-unknown",
    }
}

fn component(t: &Template) -> String {
    match t.language {
        Language::Rust => format!(
            "target/wasm32-wasip2/release/{}.wasm",
            t.name.replace('-', "_")
        ),
        Language::ExtismRust => format!(
            "target/{}/release/{}.wasm",
            extism_target(t.kind),
            t.name.replace('-', "_")
        ),
        Language::Python | Language::Js | Language::C => format!("{}.wasm", t.name),
    }
}

pub(super) fn project(t: &Template) -> Project {
    let kind = t.kind.name();
    // The kinds that compute build for their `prepared-*` world (contract 0.1.1), whose extra
    // export the Python, JavaScript and C layers provide.
    let world = if t.kind.is_pure() {
        format!("prepared-{}", t.kind.world())
    } else {
        t.kind.world()
    };
    let schema = schema_value(t);
    let pretty = serde_json::to_string_pretty(&schema).unwrap_or_default();
    let source = |lang: &str| embedded::source(lang, kind).unwrap_or_default();
    let component = component(t);
    let test = format!("ferry plugin test {component}");
    let mut files: Vec<(String, String)> = Vec::new();
    let build;
    match t.language {
        Language::Rust => {
            build = "cargo build --release --target wasm32-wasip2".to_string();
            let cargo = RUST_CARGO
                .replace("{{sdk}}", &rust_sdk_dependency(&t.rust_sdk, false))
                .replace("{{name}}", &t.name)
                .replace("{{description}}", &description(t));
            files.push(("Cargo.toml".into(), cargo));
            files.push(("src/lib.rs".into(), fill(source("rust"), t, "")));
            files.push(("config.schema.json".into(), format!("{pretty}\n")));
            files.push((".gitignore".into(), "/target\n".into()));
            files.push((
                "rust-toolchain.toml".into(),
                "[toolchain]\nchannel = \"1.96\"\ntargets = [\"wasm32-wasip2\"]\n".into(),
            ));
            let needs = "`rust-toolchain.toml` pins the Rust that `ferry-sdk` needs, with the \
                         `wasm32-wasip2` target: run `rustup toolchain install` once in this \
                         folder.";
            let layout = "`src/lib.rs` is the plugin; `config.schema.json` is the schema of its \
                          configuration, whose first example the kit runs it with.";
            files.push(("README.md".into(), readme(t, &build, &test, needs, layout)));
        }
        Language::ExtismRust => {
            let target = extism_target(t.kind);
            build = format!("cargo build --release --target {target}");
            let cargo = RUST_CARGO
                .replace("ferry-sdk = ", "ferry-extism-pdk = ")
                .replace("{{sdk}}", &rust_sdk_dependency(&t.rust_sdk, true))
                .replace("{{name}}", &t.name)
                .replace("{{description}}", &description(t));
            files.push(("Cargo.toml".into(), cargo));
            // The Rust template, with `ferry-extism-pdk` for `ferry-sdk`: the two crates have
            // the same traits, builder and helpers.
            let lib = fill(source("rust"), t, "").replace("ferry_sdk", "ferry_extism_pdk");
            files.push(("src/lib.rs".into(), lib));
            files.push(("config.schema.json".into(), format!("{pretty}\n")));
            files.push((".gitignore".into(), "/target\n".into()));
            files.push((
                "rust-toolchain.toml".into(),
                format!("[toolchain]\nchannel = \"1.96\"\ntargets = [\"{target}\"]\n"),
            ));
            let imports = match t.kind {
                PluginKind::Deployer => {
                    "`extism:host/env` and WASI preview 1, whose only files are the \
                     directories the operator grants"
                }
                _ => "only `extism:host/env`",
            };
            let needs = format!(
                "`rust-toolchain.toml` pins Rust with the `{target}` target: run `rustup \
                 toolchain install` once in this folder. The result is an Extism plugin (a core \
                 module importing {imports}), which Ferry runs in the same sandbox as a \
                 component."
            );
            let layout = "`src/lib.rs` is the plugin, written against `ferry-extism-pdk` (the \
                          same traits as `ferry-sdk`); `config.schema.json` is the schema of its \
                          configuration, whose first example the kit runs it with.";
            files.push(("README.md".into(), readme(t, &build, &test, &needs, layout)));
        }
        Language::Python => {
            build =
                format!("componentize-py -d wit -w {world} componentize app -p . -o {component}");
            let literal = literal(&schema, 4, "config_schema=".len(), Syntax::Python);
            files.push(("app.py".into(), fill(source("python"), t, &literal)));
            for (path, text) in PYTHON_SDK.iter().chain(WIT) {
                files.push((path.to_string(), text.to_string()));
            }
            files.push((".gitignore".into(), "*.wasm\n__pycache__/\n".into()));
            let needs = "It needs componentize-py (`pip install componentize-py==0.25.1`).";
            let layout = "`app.py` is the plugin; `ferry_plugin/` is Ferry's Python authoring \
                          layer and `wit/` the plugin contract, both copied in by \
                          `ferry plugin new` so the project builds on its own.";
            files.push(("README.md".into(), readme(t, &build, &test, needs, layout)));
        }
        Language::Js => {
            build = "npm install && npm run build".to_string();
            let literal = literal(&schema, 2, "configSchema: ".len(), Syntax::JavaScript);
            files.push(("plugin.js".into(), fill(source("js"), t, &literal)));
            for (path, text) in JS_SDK.iter().chain(WIT) {
                files.push((path.to_string(), text.to_string()));
            }
            files.push(("package.json".into(), package_json(t, &world, &component)));
            files.push((".gitignore".into(), "*.wasm\nnode_modules/\n".into()));
            let needs = "It needs Node.js 20 or newer; `npm install` fetches ComponentizeJS.";
            let layout = "`plugin.js` is the plugin; `ferry-plugin.js` is Ferry's JavaScript \
                          authoring layer, `build.mjs` its build script and `wit/` the plugin \
                          contract, all copied in by `ferry plugin new` so the project builds \
                          on its own.";
            files.push(("README.md".into(), readme(t, &build, &test, needs, layout)));
        }
        Language::C => {
            build = "make".to_string();
            files.push((
                "plugin.c".into(),
                fill(source("c"), t, &c_string(&schema, 4)),
            ));
            for (path, text) in C_SDK.iter().chain(WIT) {
                files.push((path.to_string(), text.to_string()));
            }
            let makefile = format!(
                "# Builds {component}: `make`. See ferry-sdk/ferry.mk for the tools it runs.\n\
                 FERRY_WORLD := {world}\nFERRY_WIT   := wit\nSOURCES     := plugin.c\n\
                 COMPONENT   := {component}\ninclude ferry-sdk/ferry.mk\n"
            );
            files.push(("Makefile".into(), makefile));
            files.push((".gitignore".into(), "*.wasm\nbuild/\n".into()));
            let needs = "It needs clang with wasi-libc (Debian: `apt-get install clang-19 lld-19 \
                         libclang-rt-19-dev-wasm32 wasi-libc`, about a minute), `wit-bindgen` \
                         (`cargo install wit-bindgen-cli@0.57.1 --locked`, 2.5 to 9 minutes on 2 \
                         cores) and Node.js with npm: `make` runs jco 1.35.0 through npx. \
                         `make WIT_BINDGEN=... JCO=...` names them where they are elsewhere.";
            let layout = "`plugin.c` is the plugin; `ferry-sdk/` is Ferry's C authoring layer \
                          (`ferry.h` documents it) and `wit/` the plugin contract, both copied \
                          in by `ferry plugin new` so the project builds on its own.";
            files.push(("README.md".into(), readme(t, &build, &test, needs, layout)));
        }
    }
    Project {
        files,
        build,
        test,
        component,
    }
}

fn package_json(t: &Template, world: &str, component: &str) -> String {
    let sdk: Value = serde_json::from_str(JS_PACKAGE).unwrap_or(Value::Null);
    let package = serde_json::json!({
        "name": t.name,
        "version": "0.1.0",
        "description": description(t),
        "type": "module",
        "private": true,
        "license": "Apache-2.0",
        "scripts": {
            "build": format!("node build.mjs plugin.js --world {world} --out {component} --wit wit"),
        },
        "devDependencies": sdk.get("devDependencies").cloned().unwrap_or(Value::Null),
    });
    format!(
        "{}\n",
        serde_json::to_string_pretty(&package).unwrap_or_default()
    )
}
