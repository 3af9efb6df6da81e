//! The book's generated reference pages: every subcommand and flag (rendered from the clap
//! definition), the route table (from the server's OpenAPI document) and the exit codes. Each
//! test fails when `docs/` differs from what the code says; `FERRY_BLESS=1` rewrites the page.

use std::fmt::Write as _;
use std::path::PathBuf;

use clap::CommandFactory;

use super::{Cli, exit};

fn page(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../docs/src/reference")
        .join(relative)
}

/// Compares `path` with `expected`, or writes it under `FERRY_BLESS=1`.
fn check(path: &PathBuf, expected: &str) {
    if std::env::var_os("FERRY_BLESS").is_some() {
        std::fs::write(path, expected).expect("write the generated page");
        return;
    }
    let actual = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        actual == expected,
        "{} is not what the code says; run `FERRY_BLESS=1 cargo test -p ferry --bin ferry reference` and commit the result",
        path.display()
    );
}

fn cli_markdown() -> String {
    let options = clap_markdown::MarkdownOptions::new()
        .title("Every subcommand and flag".to_string())
        .show_footer(false);
    let body = clap_markdown::help_markdown_command_custom(&Cli::command(), &options);
    let body: Vec<String> = body.trim_end().lines().map(escape_brackets).collect();
    format!(
        "<!-- Generated from the `ferry` command's clap definition by `cli/reference.rs`; do not edit. -->\n\n{}\n",
        body.join("\n")
    )
}

/// Escapes square brackets outside code spans, so that help text such as `HOST[:PORT]` is not
/// read as a link; the table of contents' own links are kept.
fn escape_brackets(line: &str) -> String {
    if line.starts_with("* [`") && line.contains("↴](#") {
        return line.to_string();
    }
    let mut out = String::with_capacity(line.len());
    let mut in_code = false;
    for c in line.chars() {
        match c {
            '`' => in_code = !in_code,
            '[' | ']' if !in_code => out.push('\\'),
            _ => {}
        }
        out.push(c);
    }
    out
}

fn routes_markdown() -> String {
    let doc: serde_json::Value =
        serde_json::from_str(&ferry_server::openapi_json()).expect("the document is JSON");
    let mut out = String::from("\n| method | path | what it does |\n|---|---|---|\n");
    let paths = doc["paths"].as_object().expect("the document has paths");
    for (path, item) in paths {
        let Some(item) = item.as_object() else {
            continue;
        };
        for method in ["get", "put", "post", "patch", "delete"] {
            let Some(op) = item.get(method) else {
                continue;
            };
            let what = op["summary"]
                .as_str()
                .or_else(|| op["description"].as_str())
                .unwrap_or("")
                .lines()
                .next()
                .unwrap_or("")
                .replace('|', "\\|");
            let _ = writeln!(
                out,
                "| `{}` | `{}` | {what} |",
                method.to_uppercase(),
                path.replace('|', "\\|")
            );
        }
    }
    out
}

#[test]
fn the_cli_reference_is_what_clap_says() {
    check(&page("cli.md"), &cli_markdown());
}

#[test]
fn the_route_table_is_what_the_openapi_document_says() {
    const MARKER: &str =
        "<!-- generated from the OpenAPI document: everything below this line -->\n";
    let path = page("http-api.md");
    let text = std::fs::read_to_string(&path).expect("read the HTTP API page");
    let head = text
        .find(MARKER)
        .map(|at| &text[..at + MARKER.len()])
        .expect("the HTTP API page has the generated-table marker");
    check(&path, &format!("{head}{}", routes_markdown()));
}

#[test]
fn exit_codes_are_documented() {
    let text = std::fs::read_to_string(page("exit-codes.md")).expect("read the exit codes page");
    let codes = [
        exit::OK,
        exit::INVALID_DATA,
        2,
        exit::LOAD,
        exit::PLUGIN_ERROR,
        exit::PLUGIN_FAILED,
        exit::CONFLICT,
        exit::NOT_ALLOWED,
        exit::GATE_FAILED,
        exit::LINEAGE_MISMATCH,
        exit::INVALID_DEFINITION,
        exit::DRIFT,
        exit::NOT_CONFORMING,
        exit::INTERRUPTED,
        exit::CLOSED_STDOUT,
    ];
    for code in codes {
        assert!(
            text.contains(&format!("| `{code}` |")),
            "exit code {code} is not in docs/src/reference/exit-codes.md"
        );
    }
    let rows = text.lines().filter(|l| l.starts_with("| `")).count();
    assert_eq!(
        rows,
        codes.len(),
        "the page lists codes the binary does not define"
    );
}
