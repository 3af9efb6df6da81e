//! A circuit breaker per deployment target: closed while the target answers; open after
//! `failures` failures within a window, so that requests go straight to the fallback; after
//! `open_ms`, half-open, letting `probes` requests through. A probe that succeeds closes it,
//! one that fails opens it again.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::spec::BreakerSettings;

#[derive(Debug)]
enum State {
    Closed,
    Open { until: Instant },
    HalfOpen { in_flight: u32 },
}

#[derive(Debug)]
struct Inner {
    state: State,
    failures: VecDeque<Instant>,
    opened: u64,
}

/// Whether a request may go to the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// The circuit is closed.
    Yes,
    /// The circuit is half-open and this request probes it.
    Probe,
    /// The circuit is open (or every probe is taken).
    No,
}

/// What a breaker shows in the API.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BreakerStatus {
    /// `closed`, `open` or `half-open`.
    pub state: &'static str,
    /// Failures within the current window.
    pub recent_failures: usize,
    /// How many times it has opened.
    pub opened: u64,
    /// When open: how long until it probes (ms).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probes_in_ms: Option<u64>,
}

/// One target's circuit breaker.
#[derive(Debug)]
pub struct Breaker {
    settings: BreakerSettings,
    inner: Mutex<Inner>,
}

impl Breaker {
    /// A closed breaker.
    pub fn new(settings: BreakerSettings) -> Self {
        Self {
            settings,
            inner: Mutex::new(Inner {
                state: State::Closed,
                failures: VecDeque::new(),
                opened: 0,
            }),
        }
    }

    /// The settings it was made with.
    pub fn settings(&self) -> BreakerSettings {
        self.settings
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether a request may go to the target now.
    pub fn admit(&self) -> Admission {
        let now = Instant::now();
        let mut inner = self.lock();
        match inner.state {
            State::Closed => Admission::Yes,
            State::Open { until } if now < until => Admission::No,
            State::Open { .. } => {
                inner.state = State::HalfOpen { in_flight: 1 };
                Admission::Probe
            }
            State::HalfOpen { in_flight } if in_flight < self.settings.probes => {
                inner.state = State::HalfOpen {
                    in_flight: in_flight + 1,
                };
                Admission::Probe
            }
            State::HalfOpen { .. } => Admission::No,
        }
    }

    /// The target answered.
    pub fn success(&self) {
        let mut inner = self.lock();
        if !matches!(inner.state, State::Closed) {
            inner.state = State::Closed;
            inner.failures.clear();
        }
    }

    /// The target failed.
    pub fn failure(&self) {
        let now = Instant::now();
        let mut inner = self.lock();
        let open = |inner: &mut Inner| {
            inner.state = State::Open {
                until: now + Duration::from_millis(self.settings.open_ms),
            };
            inner.failures.clear();
            inner.opened += 1;
        };
        match inner.state {
            State::HalfOpen { .. } => open(&mut inner),
            State::Open { .. } => {}
            State::Closed => {
                let window = Duration::from_millis(self.settings.window_ms);
                while inner
                    .failures
                    .front()
                    .is_some_and(|t| now.duration_since(*t) > window)
                {
                    inner.failures.pop_front();
                }
                inner.failures.push_back(now);
                if inner.failures.len() >= self.settings.failures as usize {
                    open(&mut inner);
                }
            }
        }
    }

    /// Its state now.
    pub fn status(&self) -> BreakerStatus {
        let now = Instant::now();
        let inner = self.lock();
        let window = Duration::from_millis(self.settings.window_ms);
        let recent_failures = inner
            .failures
            .iter()
            .filter(|t| now.duration_since(**t) <= window)
            .count();
        let (state, probes_in_ms) = match inner.state {
            State::Closed => ("closed", None),
            State::Open { until } if now < until => (
                "open",
                Some(
                    until
                        .duration_since(now)
                        .as_millis()
                        .try_into()
                        .unwrap_or(u64::MAX),
                ),
            ),
            State::Open { .. } | State::HalfOpen { .. } => ("half-open", None),
        };
        BreakerStatus {
            state,
            recent_failures,
            opened: inner.opened,
            probes_in_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(open_ms: u64) -> BreakerSettings {
        BreakerSettings {
            failures: 3,
            window_ms: 60_000,
            open_ms,
            probes: 1,
        }
    }

    #[test]
    fn opens_after_the_failures_then_probes_and_closes() {
        let b = Breaker::new(settings(20));
        for _ in 0..2 {
            b.failure();
            assert_eq!(b.admit(), Admission::Yes);
        }
        b.failure();
        assert_eq!(b.status().state, "open");
        assert_eq!(b.admit(), Admission::No);
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(b.status().state, "half-open");
        assert_eq!(b.admit(), Admission::Probe);
        assert_eq!(b.admit(), Admission::No, "one probe at a time");
        b.failure();
        assert_eq!(b.status().state, "open");
        assert_eq!(b.status().opened, 2);
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(b.admit(), Admission::Probe);
        b.success();
        assert_eq!(b.status().state, "closed");
        assert_eq!(b.admit(), Admission::Yes);
    }

    #[test]
    fn old_failures_leave_the_window() {
        let b = Breaker::new(BreakerSettings {
            window_ms: 10,
            ..settings(1000)
        });
        b.failure();
        b.failure();
        std::thread::sleep(Duration::from_millis(20));
        b.failure();
        assert_eq!(b.status().state, "closed");
    }
}
