//! The `ferry-edge` binary from outside: its commands, and what it answers for a file that is
//! not a bundle or not there. (`tests/tests/edge.rs` checks that its predictions and
//! verification equal the full `ferry edge`'s on a real bundle.)

use std::process::{Command, Output};

fn ferry_edge(args: &[&str]) -> Output {
    let cache = tempfile::tempdir().unwrap();
    Command::new(env!("CARGO_BIN_EXE_ferry-edge"))
        .args(args)
        .env("FERRY_CACHE_DIR", cache.path())
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn it_offers_verify_predict_and_run_and_nothing_of_the_registry() {
    let o = ferry_edge(&["--help"]);
    assert_eq!(o.status.code(), Some(0));
    let help = String::from_utf8_lossy(&o.stdout);
    for command in ["verify", "predict", "run"] {
        assert!(help.contains(command), "{command} missing from:\n{help}");
    }
    for absent in ["serve", "train", "deploy", "plugin"] {
        assert!(
            !help.contains(&format!("\n  {absent} ")),
            "{absent} in:\n{help}"
        );
    }
}

#[test]
fn a_file_that_is_not_a_bundle_is_refused_with_exit_9_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("not-a-bundle.ferry");
    std::fs::write(&path, b"these bytes are not a gzip'd tar").unwrap();
    let o = ferry_edge(&["verify", path.to_str().unwrap(), "--allow-unsigned"]);
    assert_eq!(o.status.code(), Some(9), "{}", stderr(&o));
    assert!(stderr(&o).contains("not-a-bundle.ferry"), "{}", stderr(&o));
}

#[test]
fn a_missing_bundle_is_exit_3_naming_it() {
    let o = ferry_edge(&["verify", "/no/such/bundle.ferry", "--allow-unsigned"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("/no/such/bundle.ferry"),
        "{}",
        stderr(&o)
    );
}
