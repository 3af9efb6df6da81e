//! The README's five-minute tour, run as written: every shell block marked `sh,tour` is
//! extracted in order and run by bash with `set -euo pipefail`, with this build's `ferry` first
//! on the path, a fresh data folder and a free port in place of 8080. A block that no longer
//! works fails this test, so the README cannot go stale.

use std::io::Read;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ferry_tests::{component_cache, ferry_bin, repo_root};

/// The shell blocks of `markdown` whose info string is `sh,tour`, in order.
fn tour_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match &mut current {
            None if line.trim_end() == "```sh,tour" => current = Some(String::new()),
            None => {}
            Some(block) if line.trim_end() == "```" => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            Some(block) => {
                block.push_str(line);
                block.push('\n');
            }
        }
    }
    assert!(current.is_none(), "a tour block is not closed");
    blocks
}

/// Kills the tour's process group (the server it starts in the background included).
struct Group(i32);

impl Drop for Group {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.0)])
            .status();
    }
}

#[test]
fn the_readme_tour_runs_as_written() {
    let root = repo_root();
    let readme = std::fs::read_to_string(root.join("README.md")).expect("read README.md");
    let blocks = tour_blocks(&readme);
    assert!(
        blocks.len() >= 4,
        "the tour has train, serve, deploy and drift blocks; found {}",
        blocks.len()
    );
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let script = format!("set -euo pipefail\nset -x\n{}", blocks.concat())
        .replace("127.0.0.1:8080", &format!("127.0.0.1:{port}"));

    let work = tempfile::tempdir().expect("a work folder");
    std::os::unix::fs::symlink(root.join("examples"), work.path().join("examples"))
        .expect("link the examples");
    let bin_dir = ferry_bin().parent().expect("bin folder").to_path_buf();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut child = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(work.path())
        .env("PATH", path)
        .env("FERRY_DATA_DIR", work.path().join("data"))
        .env("FERRY_CACHE_DIR", component_cache())
        .env_remove("FERRY_REGISTRY")
        .env_remove("FERRY_TOKEN")
        .env_remove("FERRY_DATABASE_URL")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .expect("run bash");
    let group = Group(child.id() as i32);

    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_secs(600);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for bash") {
            break Some(status);
        }
        if Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    drop(group);
    let (out, err) = (out.join().unwrap(), err.join().unwrap());
    let shown = format!("--- stdout\n{out}\n--- stderr\n{err}");
    let status = status.unwrap_or_else(|| panic!("the tour ran for 10 minutes\n{shown}"));
    assert!(status.success(), "the tour failed ({status})\n{shown}");

    assert!(
        out.contains(r#""model":"churn","version":1"#),
        "the model answered\n{shown}"
    );
    assert!(
        out.contains(r#""deployment":"churn""#),
        "the deployment answered\n{shown}"
    );
    assert!(
        out.contains("ferry_requests_total"),
        "the metrics count requests\n{shown}"
    );
    for column in ["tenure_months", "monthly_charges"] {
        assert!(
            out.lines()
                .any(|l| l.starts_with(column) && l.trim_end().ends_with("yes")),
            "the drift report marks {column} as drifted\n{shown}"
        );
    }
}
