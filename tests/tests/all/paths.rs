//! No path from a request, a registry answer or a lock file leaves the folder it belongs to:
//! `..`, absolute paths and percent-encoded separators in URLs are refused, and symlinks
//! planted in the data folder or the project's plugin folder are not followed out of it. The
//! server keeps serving throughout.

use std::os::unix::fs::symlink;
use std::path::Path;

use ferry_tests::repo_root;
use ferry_tests::server::{Server, text};
use serde_json::Value;
use sha2::{Digest, Sha256};

async fn status(
    server: &Server,
    method: reqwest::Method,
    path: &str,
    body: &[u8],
) -> (u16, String) {
    let r = Server::http()
        .request(method, format!("{}{path}", server.url))
        .bearer_auth(&server.admin)
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap_or_default())
}

fn train(server: &Server) -> (String, String) {
    let o = server.ferry(&[
        "train",
        repo_root()
            .join("examples/churn/pipeline.toml")
            .to_str()
            .unwrap(),
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    (
        v["experiment_id"].as_str().unwrap().to_string(),
        v["run_id"].as_str().unwrap().to_string(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn request_paths_cannot_leave_the_artifact_store() {
    let server = Server::start(&[]);
    let (experiment, run) = train(&server);
    let secret = server.data.path().join("admin-token");
    assert!(secret.exists());
    use reqwest::Method;
    for path in [
        format!("/v1/runs/{run}/artifacts/../../admin-token"),
        format!("/v1/runs/{run}/artifacts/..%2F..%2Fadmin-token"),
        format!("/v1/runs/{run}/artifacts/%2e%2e/%2e%2e/admin-token"),
        format!("/v1/runs/{run}/artifacts//etc/passwd"),
        format!("/v1/runs/{run}/artifacts/%2Fetc%2Fpasswd"),
        "/v1/blobs/..%2F..%2Fadmin-token".to_string(),
        "/v1/blobs/sha256:..%2F..%2F..%2Fadmin-token".to_string(),
        format!(
            "/api/2.0/mlflow-artifacts/artifacts/{experiment}/{run}/artifacts/..%2F..%2F..%2Fadmin-token"
        ),
        "/api/2.0/mlflow-artifacts/artifacts/%2Fetc%2Fpasswd".to_string(),
        "/api/2.0/mlflow-artifacts/artifacts/..%5C..%5Cadmin-token".to_string(),
    ] {
        let (code, body) = status(&server, Method::GET, &path, b"").await;
        assert!(matches!(code, 400 | 404), "GET {path}: {code} {body}");
        assert!(!body.contains("root:"), "GET {path} leaked a file");
        let (code, body) = status(&server, Method::PUT, &path, b"escaped").await;
        assert!(matches!(code, 400 | 404 | 405), "PUT {path}: {code} {body}");
    }
    assert!(!server.data.path().join("escaped").exists());
    let (code, _) = status(
        &server,
        Method::GET,
        &format!("/v1/runs/{run}/artifacts/lineage.json"),
        b"",
    )
    .await;
    assert_eq!(code, 200, "the server still serves");
}

#[tokio::test(flavor = "multi_thread")]
async fn symlinks_planted_in_the_blob_store_are_not_followed_out_of_it() {
    let server = Server::start(&[]);
    let (experiment, run) = train(&server);
    let outside = tempfile::tempdir().unwrap();
    let blobs = server.data.path().join("blobs").join("sha256");

    // A blob's file replaced by a link to a copy outside the store: not read, even though the
    // copy holds the very bytes the digest names.
    let lineage = format!("/v1/runs/{run}/artifacts/lineage.json");
    let (code, original) = status(&server, reqwest::Method::GET, &lineage, b"").await;
    assert_eq!(code, 200);
    let hex = hex::encode(Sha256::digest(original.as_bytes()));
    let blob = blobs.join(&hex[..2]).join(&hex);
    let copy = outside.path().join("lineage-copy");
    std::fs::write(&copy, original.as_bytes()).unwrap();
    std::fs::remove_file(&blob).unwrap();
    symlink(&copy, &blob).unwrap();
    for path in [
        lineage.clone(),
        format!("/api/2.0/mlflow-artifacts/artifacts/{experiment}/{run}/artifacts/lineage.json"),
        format!("/v1/blobs/sha256:{hex}"),
    ] {
        let (code, body) = status(&server, reqwest::Method::GET, &path, b"").await;
        assert_ne!(
            code, 200,
            "{path} was read through a planted symlink: {body}"
        );
    }

    // A blob folder replaced by a link to a folder outside: an upload that would land there
    // is refused, and nothing is written outside.
    let bytes = b"an upload whose digest folder is a planted link".to_vec();
    let hex = hex::encode(Sha256::digest(&bytes));
    let folder = blobs.join(&hex[..2]);
    let _ = std::fs::remove_dir_all(&folder);
    let target = outside.path().join("planted");
    std::fs::create_dir(&target).unwrap();
    symlink(&target, &folder).unwrap();
    let (code, body) = status(
        &server,
        reqwest::Method::PUT,
        &format!("/api/2.0/mlflow-artifacts/artifacts/{experiment}/{run}/artifacts/new.txt"),
        &bytes,
    )
    .await;
    assert_ne!(code, 200, "{body}");
    assert!(
        std::fs::read_dir(&target).unwrap().next().is_none(),
        "a blob was written outside the store"
    );
    // Nothing staged is left behind, and the server goes on.
    let staged: Vec<_> = std::fs::read_dir(server.data.path().join("blobs").join("tmp"))
        .unwrap()
        .collect();
    assert!(staged.is_empty(), "{staged:?}");
    let (code, _) = status(
        &server,
        reqwest::Method::GET,
        &format!("/v1/runs/{run}/artifacts/evaluation.json"),
        b"",
    )
    .await;
    assert_eq!(code, 200);
}

#[test]
fn plugin_installs_stay_inside_the_projects_plugin_folder() {
    let server = Server::start(&[]);
    let project = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let o = server.ferry(&["plugin", "publish", ferry_tests::guests::RATIO]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // A symlink planted where the component will be written, pointing outside the project.
    let plugins = project.path().join(".ferry/plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    let victim = outside.path().join("victim.txt");
    std::fs::write(&victim, b"untouched").unwrap();
    symlink(&victim, plugins.join("ratio-0.1.0.wasm")).unwrap();
    let install = |args: &[&str]| {
        let mut all = vec!["plugin", "install"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--project", project.path().to_str().unwrap()]);
        server.ferry(&all)
    };
    let o = install(&["ratio@0.1.0"]);
    assert_ne!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("cannot write ratio-0.1.0.wasm"),
        "{}",
        text(&o)
    );
    assert_eq!(std::fs::read(&victim).unwrap(), b"untouched");

    // A lock file naming a path instead of a plugin.
    std::fs::remove_file(plugins.join("ratio-0.1.0.wasm")).unwrap();
    std::fs::write(
        project.path().join("ferry.lock"),
        "version = 1\n\n[[plugin]]\nname = \"../../../escape\"\nversion = \"0.1.0\"\ndigest = \"sha256:0000000000000000000000000000000000000000000000000000000000000000\"\n",
    )
    .unwrap();
    let o = install(&["--locked"]);
    assert_ne!(o.status.code(), Some(0), "{}", text(&o));
    assert!(!Path::new(&project.path().join("../../escape-0.1.0.wasm")).exists());
    assert!(std::fs::read_dir(outside.path()).unwrap().count() == 1);

    // With the planted link gone and a sound lock, the install works.
    std::fs::remove_file(project.path().join("ferry.lock")).unwrap();
    let o = install(&["ratio@0.1.0"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(plugins.join("ratio-0.1.0.wasm").exists());
}
