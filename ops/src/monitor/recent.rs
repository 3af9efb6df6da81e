//! The last hour of prediction requests per deployment or model, in memory, for alert rules on
//! latency and error rate over a window; and a running count of plugin misbehaviour.

use std::collections::{HashMap, VecDeque};
use std::sync::{LazyLock, Mutex};

/// How long requests are kept.
const KEEP_MS: i64 = 3_600_000;
/// At most this many requests are kept per target.
const KEEP_REQUESTS: usize = 100_000;

/// One request: when it ended (ms), how long it took (s), and whether it failed (5xx).
type Seen = (i64, f64, bool);

static RECENT: LazyLock<Mutex<HashMap<String, VecDeque<Seen>>>> = LazyLock::new(Default::default);

/// The key of a deployment's requests.
pub fn deployment_key(name: &str) -> String {
    format!("deployment:{name}")
}

/// The key of a model endpoint's requests.
pub fn model_key(name: &str) -> String {
    format!("model:{name}")
}

/// Remembers a request.
pub fn remember(key: &str, at_ms: i64, seconds: f64, failed: bool) {
    let Ok(mut all) = RECENT.lock() else { return };
    if !all.contains_key(key) {
        all.insert(key.to_string(), VecDeque::new());
    }
    let Some(q) = all.get_mut(key) else { return };
    q.push_back((at_ms, seconds, failed));
    while q.len() > KEEP_REQUESTS || q.front().is_some_and(|f| f.0 < at_ms - KEEP_MS) {
        q.pop_front();
    }
}

/// The share of failed requests and the 99th-percentile latency (ms) of `key`'s requests
/// since `since_ms`, with their number; `None` without requests.
pub fn window(key: &str, since_ms: i64) -> Option<(f64, f64, usize)> {
    let mut latencies: Vec<f64> = Vec::new();
    let mut failed = 0usize;
    {
        let all = RECENT.lock().ok()?;
        for &(_, s, f) in all.get(key)?.iter().filter(|r| r.0 >= since_ms) {
            latencies.push(s * 1e3);
            failed += usize::from(f);
        }
    }
    if latencies.is_empty() {
        return None;
    }
    latencies.sort_by(f64::total_cmp);
    let n = latencies.len();
    let rank = ((0.99 * n as f64).ceil() as usize).clamp(1, n);
    Some((failed as f64 / n as f64, latencies[rank - 1], n))
}
