//! Batch scoring on every core: `ferry transform --model` cuts its input into 8,192-row
//! batches, scores them on one worker per core (each on fresh instances) and writes them in
//! input order. These tests hold the promises that make that safe: the same bits whatever
//! the number of workers and whatever the input format, the first failing batch in input
//! order named by its rows, and an output file replaced only once every row is scored.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use ferry_core::data::{CsvReader, batch_to_record_batch, batch_to_rows};
use ferry_tests::churn_copy;
use ferry_tests::server::{Server, text};

use super::parity::big_csv;

/// Eight batches and a bit.
const ROWS: usize = 66_000;

/// A server with churn version 1 trained on the example's customers.
fn trained() -> (Server, tempfile::TempDir) {
    let dir = churn_copy(|t| t);
    let server = Server::start(&[]);
    let o = server.ferry(&["train", dir.path().join("pipeline.toml").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    (server, dir)
}

/// `ferry transform --model churn@1 DATA --predictions --keep customer_id`, with `workers`
/// (none: the default, one per core); the output's bytes, or the failure's text.
fn score(
    server: &Server,
    data: &Path,
    out: &Path,
    workers: Option<&str>,
) -> Result<Vec<u8>, String> {
    let mut args = vec![
        "transform",
        "--model",
        "churn@1",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--predictions",
        "--keep",
        "customer_id",
    ];
    if let Some(w) = workers {
        args.extend(["--workers", w]);
    }
    let o = server.ferry(&args);
    match o.status.code() {
        Some(0) => Ok(std::fs::read(out).unwrap()),
        code => Err(format!("exit {}: {}", code.unwrap_or(-1), text(&o))),
    }
}

/// The half-written outputs in `dir`.
fn partials(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".partial"))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn scoring_on_every_core_writes_the_same_bits_as_one_worker_in_every_format() {
    let (server, _dir) = trained();
    let work = tempfile::tempdir().unwrap();
    let csv = work.path().join("rows.csv");
    big_csv(&csv, ROWS);
    let out = work.path().join("scored.csv");

    let one = score(&server, &csv, &out, Some("1")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let plain = work.path().join("plain");
        std::fs::write(&plain, "").unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode();
        assert_eq!(
            mode(&out),
            mode(&plain),
            "the output has a plain file's mode"
        );
    }
    let lines = one.split(|&b| b == b'\n').filter(|l| !l.is_empty()).count();
    assert_eq!(lines, ROWS + 1, "a header and one line per row");
    for workers in [Some("2"), Some("7"), None] {
        assert!(
            score(&server, &csv, &out, workers).unwrap() == one,
            "--workers {workers:?} wrote other bits than one worker"
        );
    }

    // The same rows as JSON lines and as Parquet (in row groups of 5,000, so that batches
    // straddle them) score to the same bits.
    let table = CsvReader::open(&csv, 100_000).unwrap().read_all().unwrap();
    let jsonl = work.path().join("rows.jsonl");
    let lines: Vec<String> = batch_to_rows(&table)
        .iter()
        .map(|r| r.to_string())
        .collect();
    std::fs::write(&jsonl, lines.join("\n")).unwrap();
    let parquet = work.path().join("rows.parquet");
    let rb = batch_to_record_batch(&table).unwrap();
    let props = parquet::file::properties::WriterProperties::builder()
        .set_max_row_group_size(5_000)
        .build();
    let mut writer = parquet::arrow::ArrowWriter::try_new(
        std::fs::File::create(&parquet).unwrap(),
        Arc::clone(rb.schema_ref()),
        Some(props),
    )
    .unwrap();
    writer.write(&rb).unwrap();
    writer.close().unwrap();
    for data in [&jsonl, &parquet] {
        for workers in ["1", "3"] {
            assert!(
                score(&server, data, &out, Some(workers)).unwrap() == one,
                "{} on {workers} workers wrote other bits than the CSV file",
                data.display()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_first_failing_batch_is_named_and_the_output_is_left_as_it_was() {
    let (server, _dir) = trained();
    let work = tempfile::tempdir().unwrap();
    let csv = work.path().join("rows.csv");
    big_csv(&csv, 40_000);
    // Tenure over 72 months is refused by the version's expectations: row 20,000 is in the
    // third batch (rows 16,385 to 24,576) and row 39,000 in the fifth, which the workers
    // reach at about the same time.
    let text_in = std::fs::read_to_string(&csv).unwrap();
    let mut lines: Vec<String> = text_in.lines().map(str::to_string).collect();
    for row in [20_000, 39_000] {
        let mut fields: Vec<&str> = lines[row].split(',').collect();
        fields[1] = "500";
        lines[row] = fields.join(",");
    }
    std::fs::write(&csv, lines.join("\n") + "\n").unwrap();

    let out = work.path().join("scored.csv");
    std::fs::write(&out, "what was here before\n").unwrap();
    for workers in ["1", "2", "5"] {
        let e = score(&server, &csv, &out, Some(workers)).unwrap_err();
        assert!(
            e.starts_with("exit 1:"),
            "--workers {workers}: the data failed validation: {e}"
        );
        assert!(e.contains("rows 16385..24576"), "--workers {workers}: {e}");
        assert!(e.contains("tenure_months"), "--workers {workers}: {e}");
        assert!(
            !e.contains("32769"),
            "--workers {workers}: a later batch named: {e}"
        );
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "what was here before\n",
            "--workers {workers}: the output was touched"
        );
        let left = partials(work.path());
        assert!(left.is_empty(), "half-written files left: {left:?}");
    }

    // Flags that make no sense are refused by name.
    let e = score(&server, &csv, &out, Some("0")).unwrap_err();
    assert!(e.contains("--workers"), "{e}");
    let o = server.ferry(&[
        "transform",
        "--model",
        "churn@1",
        csv.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--keep",
        "no_such_column",
    ]);
    assert_ne!(o.status.code(), Some(0));
    assert!(
        text(&o).contains("--keep: no column `no_such_column`"),
        "{}",
        text(&o)
    );
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "what was here before\n"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_interrupted_run_stops_and_leaves_the_output_as_it_was() {
    let (server, _dir) = trained();
    let work = tempfile::tempdir().unwrap();
    let csv = work.path().join("rows.csv");
    // 396,000 rows: the 99,000 of `big_csv` four times (ids repeat only 99,000 rows apart,
    // so no batch holds one twice), long enough to be interrupted mid-way.
    big_csv(&csv, 99_000);
    let text_in = std::fs::read_to_string(&csv).unwrap();
    let (header, body) = text_in.split_once('\n').unwrap();
    std::fs::write(&csv, format!("{header}\n{}", body.repeat(4))).unwrap();
    let out = work.path().join("scored.csv");
    std::fs::write(&out, "what was here before\n").unwrap();
    let partials = || partials(work.path());
    for signal in ["INT", "TERM"] {
        let mut child = server
            .ferry_command(&[
                "transform",
                "--model",
                "churn@1",
                csv.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
                "--predictions",
                "--workers",
                "2",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Mid-way: the output is being written.
        while partials().is_empty() {
            assert!(
                child.try_wait().unwrap().is_none(),
                "SIG{signal}: the run ended before it could be interrupted"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        let sent = Command::new("kill")
            .args([format!("-{signal}"), child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let o = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(130), "SIG{signal}: {stderr}");
        assert!(stderr.contains("interrupted"), "SIG{signal}: {stderr}");
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "what was here before\n",
            "SIG{signal}: the output was touched"
        );
        assert!(partials().is_empty(), "SIG{signal}: {:?} left", partials());
    }
}
