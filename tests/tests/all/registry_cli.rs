//! The local registry through the `ferry` binary: publish a plugin built from source, search,
//! info, install into a project with a lock file, reinstall from the lock, yank; and a reader
//! that stops reading the command's output.

use std::process::{Command, Output};

struct Env {
    data: tempfile::TempDir,
}

impl Env {
    fn new() -> Self {
        Self {
            data: tempfile::tempdir().unwrap(),
        }
    }

    /// `ferry ARGS` on this data folder, not yet started.
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(ferry_tests::ferry_bin());
        command
            .args(args)
            .env("FERRY_DATA_DIR", self.data.path())
            .env("FERRY_CACHE_DIR", ferry_tests::component_cache())
            .env_remove("FERRY_DATABASE_URL");
        command
    }

    fn ferry(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }
}

fn out(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The same component with a custom section appended: valid, same manifest, other bytes.
fn with_custom_section(bytes: &[u8]) -> Vec<u8> {
    let mut v = bytes.to_vec();
    let name = b"note";
    let payload = b"other bytes";
    v.push(0);
    v.push((1 + name.len() + payload.len()) as u8);
    v.push(name.len() as u8);
    v.extend_from_slice(name);
    v.extend_from_slice(payload);
    v
}

#[test]
fn publish_search_install_lock_and_yank() {
    let env = Env::new();
    let work = tempfile::tempdir().unwrap();
    let ratio = ferry_tests::guests::RATIO;

    // A new registry holds the built-in plugins.
    let o = env.ferry(&["plugin", "search", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let found: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(found.len(), ferry_builtins::names().count());
    assert!(found.len() >= 15, "{found:?}");

    let o = env.ferry(&["plugin", "publish", ratio]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    assert!(
        out(&o).contains("published ratio 0.1.0 (transform"),
        "{}",
        out(&o)
    );
    let o = env.ferry(&["plugin", "publish", ratio]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    assert!(
        out(&o).contains("already published with these bytes"),
        "{}",
        out(&o)
    );

    // Other bytes under the same version: refused, and the stored version is unchanged.
    let changed = work.path().join("ratio-changed.wasm");
    std::fs::write(
        &changed,
        with_custom_section(&std::fs::read(ratio).unwrap()),
    )
    .unwrap();
    let o = env.ferry(&["plugin", "publish", changed.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(6), "{}", out(&o));
    assert!(
        out(&o).contains("ratio 0.1.0 is already published with other bytes"),
        "{}",
        out(&o)
    );

    // Junk and core modules are refused before anything is written.
    let junk = work.path().join("junk.wasm");
    std::fs::write(&junk, b"\0asm\x01\0\0\0").unwrap();
    let o = env.ferry(&["plugin", "publish", junk.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(3), "{}", out(&o));
    assert!(out(&o).contains("core WebAssembly module"), "{}", out(&o));

    let o = env.ferry(&["plugin", "search", "divides", "--json"]);
    let found: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(found.len(), 1, "{}", out(&o));
    let o = env.ferry(&["plugin", "search", "--kind", "validator", "--json"]);
    let found: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(found.len(), 2);
    let o = env.ferry(&["plugin", "info", "ratio"]);
    assert!(
        out(&o).contains("ratio (transform plugin)") && out(&o).contains("0.1.0"),
        "{}",
        out(&o)
    );

    // Install into a project: the lock file pins name, version and digest.
    let project = work.path().join("project");
    std::fs::create_dir(&project).unwrap();
    let p = project.to_str().unwrap();
    let o = env.ferry(&[
        "plugin",
        "install",
        "ratio@^0.1",
        "standard-scaler",
        "--project",
        p,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let lock = std::fs::read_to_string(project.join("ferry.lock")).unwrap();
    let digest = format!("sha256:{}", sha256_hex(&std::fs::read(ratio).unwrap()));
    assert!(
        lock.contains("name = \"ratio\"")
            && lock.contains("version = \"0.1.0\"")
            && lock.contains(&digest),
        "{lock}"
    );
    assert!(lock.contains("name = \"standard-scaler\""), "{lock}");
    let installed = project.join(".ferry/plugins/ratio-0.1.0.wasm");
    assert_eq!(
        std::fs::read(&installed).unwrap(),
        std::fs::read(ratio).unwrap()
    );

    // Yanked: ranges no longer find it, the lock file still installs it exactly.
    let o = env.ferry(&["plugin", "yank", "ratio@0.1.0"]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let o = env.ferry(&["plugin", "install", "ratio@^0.1", "--project", p]);
    assert_eq!(o.status.code(), Some(3), "{}", out(&o));
    assert!(out(&o).contains("0.1.0 (yanked)"), "{}", out(&o));
    std::fs::remove_dir_all(project.join(".ferry")).unwrap();
    let o = env.ferry(&["plugin", "install", "--locked", "--project", p]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    assert_eq!(
        std::fs::read(&installed).unwrap(),
        std::fs::read(ratio).unwrap()
    );
    assert_eq!(
        std::fs::read_to_string(project.join("ferry.lock")).unwrap(),
        lock,
        "a locked install must not change the lock"
    );

    // The installed plugin runs.
    let data = work.path().join("d.csv");
    std::fs::write(&data, "total,months\n10,2\n9,3\n").unwrap();
    let config = work.path().join("c.json");
    std::fs::write(
        &config,
        r#"{"numerator":"total","denominator":"months","output":"per_month"}"#,
    )
    .unwrap();
    let state = work.path().join("s.bin");
    let o = env.ferry(&[
        "transform",
        "fit",
        "--plugin",
        installed.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
        data.to_str().unwrap(),
        "--state",
        state.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));

    // Every change, refusals included, is in the audit log.
    let o = env.ferry(&["audit", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let log: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
    let seen = |action: &str, object: &str, outcome: &str| {
        log.iter().any(|e| {
            e["action"] == action
                && e["object"].as_str().unwrap().contains(object)
                && e["outcome"] == outcome
        })
    };
    assert!(
        seen("plugin.publish", "plugin:ratio@0.1.0", "ok"),
        "{log:#?}"
    );
    assert!(
        seen("plugin.publish", "ratio-changed.wasm", "denied"),
        "{log:#?}"
    );
    assert!(seen("plugin.publish", "junk.wasm", "denied"), "{log:#?}");
    assert!(seen("plugin.yank", "plugin:ratio@0.1.0", "ok"), "{log:#?}");

    // Tokens: shown once, listed without secrets, revocable.
    let o = env.ferry(&["token", "create", "ci", "--role", "publisher"]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let token = String::from_utf8_lossy(&o.stdout).trim().to_string();
    assert!(token.starts_with("ferry_"), "{token}");
    let o = env.ferry(&["token", "list", "--json"]);
    let tokens: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(tokens.len(), 1);
    assert!(
        !String::from_utf8_lossy(&o.stdout).contains(&token[20..]),
        "a secret was listed"
    );
    let id = tokens[0]["id"].as_str().unwrap().to_string();
    assert_eq!(env.ferry(&["token", "revoke", &id]).status.code(), Some(0));
    assert_eq!(env.ferry(&["token", "revoke", &id]).status.code(), Some(3));
    let o = env.ferry(&["token", "create", "x", "--role", "owner"]);
    assert_eq!(o.status.code(), Some(3), "{}", out(&o));
    assert!(
        out(&o).contains("role \"owner\" is not one of"),
        "{}",
        out(&o)
    );

    let o = env.ferry(&["plugin", "yank", "ratio@^0.1"]);
    assert_eq!(o.status.code(), Some(3), "{}", out(&o));
    assert!(
        out(&o).contains("yank needs an exact version"),
        "{}",
        out(&o)
    );
}

#[test]
fn a_lock_file_whose_digest_no_longer_matches_is_refused() {
    let env = Env::new();
    let project = tempfile::tempdir().unwrap();
    let p = project.path().to_str().unwrap();
    let o = env.ferry(&["plugin", "install", "clip", "--project", p]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let lock_path = project.path().join("ferry.lock");
    let lock = std::fs::read_to_string(&lock_path).unwrap();
    let start = lock.find("sha256:").unwrap() + "sha256:".len();
    let mut t = lock.clone();
    t.replace_range(start..start + 64, &"0".repeat(64));
    std::fs::write(&lock_path, &t).unwrap();
    let o = env.ferry(&["plugin", "install", "--locked", "--project", p]);
    assert_eq!(o.status.code(), Some(3), "{}", out(&o));
    assert!(
        out(&o).contains("no version of clip matches"),
        "{}",
        out(&o)
    );
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// `ferry … | head`: the reader has gone before the command prints. The command stops with the
/// code a shell reports for `SIGPIPE` (141), not with a panic and a backtrace.
#[test]
fn a_reader_that_stops_reading_ends_the_command_quietly() {
    let env = Env::new();
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let o = env
        .command(&["plugin", "list"])
        .env("RUST_BACKTRACE", "1")
        .stdout(writer)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(141), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("backtrace"), "{stderr}");
}
