//! A plugin that floods the log is capped: one instance may write 10,000 lines, then one
//! warning says the rest were dropped. This test captures the log with a subscriber of its
//! own, so it lives alone in its test binary: tracing's callsite cache is process-wide, and
//! other tests' plugins logging on other threads at the same time would race with it.

use std::path::Path;

use ferry_runtime::{LoadOptions, ValidatorInstance};
use ferry_tests::{floats, guests, runtime};

async fn provoke(action: &str) -> String {
    let p = runtime()
        .load_file(Path::new(guests::GUEST_HOSTILE), &LoadOptions::default())
        .await
        .expect("load hostile");
    let mut v = ValidatorInstance::new(&p).await.unwrap();
    let report = v
        .validate(
            &format!(r#"{{"do":"{action}"}}"#),
            &floats(&[("x", vec![1.0])]),
        )
        .await
        .unwrap();
    report.violations[0].message.clone()
}

/// Log lines captured by a subscriber on this thread.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_plugin_that_floods_the_log_is_capped_and_still_answers() {
    let captured = Captured::default();
    let sink = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || sink.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    // The plugin writes 20,000 lines; one instance may write 10,000, then one warning says
    // the rest were dropped.
    assert_eq!(provoke("log-flood").await, "logged");
    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let flood = text.lines().filter(|l| l.contains(" flood i=")).count();
    assert_eq!(flood, 10_000, "lines let through");
    let warned: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("logged more than 10000 lines; dropping the rest"))
        .collect();
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert!(warned[0].contains("hostile@0.1.0"), "{}", warned[0]);
    // A new instance has its own allowance and still answers.
    assert_eq!(provoke("ok").await, "fine");
    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        text.contains("the hostile plugin behaves this time"),
        "a fresh instance's log line is missing"
    );
}
