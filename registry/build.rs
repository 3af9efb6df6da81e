//! Embeds the migrations: writes `$OUT_DIR/migrations.rs` with every `migrations/<backend>/*.sql`
//! file's name and text (through `include_str!`), in file-name order, and rebuilds when they
//! change. `sqlx::migrate!` would do the same through a proc macro that builds sqlx's
//! PostgreSQL and SQLite drivers a second time for the compiler.

use std::fmt::Write as _;
use std::path::Path;
use std::{env, fs};

fn main() {
    println!("cargo:rerun-if-changed=migrations");
    // Read when the script runs, not when it was compiled: a build folder shared by two
    // checkouts may reuse a script compiled in the other one (and, below, its output).
    let manifest_dir = env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR");
    let root = Path::new(&manifest_dir).join("migrations");
    let mut out = String::new();
    for (constant, folder) in [("SQLITE", "sqlite"), ("POSTGRES", "postgres")] {
        let dir = root.join(folder);
        let mut files: Vec<_> = fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
            .map(|entry| entry.expect("a migration folder entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "sql"))
            .collect();
        files.sort();
        writeln!(
            out,
            "/// The {folder} migrations: (file name, SQL), in file-name order."
        )
        .unwrap();
        writeln!(out, "pub(crate) const {constant}: &[(&str, &str)] = &[").unwrap();
        for path in files {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .expect("a UTF-8 file name");
            // The path is spelled from `CARGO_MANIFEST_DIR` as the crate is compiled, not as
            // this script ran: in a build folder shared by two checkouts at the same commit,
            // Cargo can reuse this output for the other checkout, whose own files must be
            // the ones embedded.
            writeln!(
                out,
                "    ({name:?}, include_str!(concat!(env!(\"CARGO_MANIFEST_DIR\"), \"/migrations/{folder}/{name}\"))),"
            )
            .unwrap();
        }
        writeln!(out, "];").unwrap();
    }
    let dest = Path::new(&env::var("OUT_DIR").expect("OUT_DIR")).join("migrations.rs");
    fs::write(&dest, out).unwrap_or_else(|e| panic!("writing {}: {e}", dest.display()));
}
