//! A circuit breaker per deployment target: closed while the target answers; open after
//! `failures` failures within a window, so that requests go straight to the fallback; after
//! `open_ms`, half-open, letting `probes` requests through. A probe that succeeds closes it,
//! one that fails opens it again. A probe holds its slot through a [`Ticket`]: a probe whose
//! request is dropped (its client went away) gives the slot back, and one that has not
//! settled within its own deadline counts as failed, so a breaker cannot stay half-open for
//! good.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

use ferry_registry::deployment_spec::BreakerSettings;

#[derive(Debug)]
enum State {
    Closed,
    Open {
        until: Instant,
    },
    /// The probes in flight: their ids and when each started.
    HalfOpen {
        probes: Vec<(u64, Instant)>,
    },
}

#[derive(Debug)]
struct Inner {
    state: State,
    failures: VecDeque<Instant>,
    opened: u64,
    next_probe: u64,
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
    probe_deadline: Duration,
    inner: Mutex<Inner>,
}

/// Leave to send one request to the target. Settle it with [`Ticket::success`] or
/// [`Ticket::failure`]; a probe's ticket dropped unsettled gives its slot back.
#[derive(Debug)]
pub struct Ticket {
    breaker: Arc<Breaker>,
    probe: Option<u64>,
}

impl Ticket {
    /// Whether this request probes a half-open circuit.
    pub fn is_probe(&self) -> bool {
        self.probe.is_some()
    }

    /// The target answered.
    pub fn success(mut self) {
        let probe = self.probe.take();
        self.breaker.settle(probe, true);
    }

    /// The target failed.
    pub fn failure(mut self) {
        let probe = self.probe.take();
        self.breaker.settle(probe, false);
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if let Some(id) = self.probe.take() {
            self.breaker.release(id);
        }
    }
}

impl Breaker {
    /// A closed breaker whose probes count as failed once they have run for `probe_deadline`.
    pub fn new(settings: BreakerSettings, probe_deadline: Duration) -> Self {
        Self {
            settings,
            probe_deadline,
            inner: Mutex::new(Inner {
                state: State::Closed,
                failures: VecDeque::new(),
                opened: 0,
                next_probe: 0,
            }),
        }
    }

    /// The settings it was made with, and its probes' deadline.
    pub fn settings(&self) -> (BreakerSettings, Duration) {
        (self.settings, self.probe_deadline)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn open(&self, inner: &mut Inner, now: Instant) {
        inner.state = State::Open {
            until: now + Duration::from_millis(self.settings.open_ms),
        };
        inner.failures.clear();
        inner.opened += 1;
    }

    /// A half-open breaker whose oldest probe has outlived its deadline: that probe failed.
    fn expire(&self, inner: &mut Inner, now: Instant) {
        if let State::HalfOpen { probes } = &inner.state
            && probes
                .iter()
                .any(|(_, started)| now.duration_since(*started) >= self.probe_deadline)
        {
            self.open(inner, now);
        }
    }

    /// Leave to send a request to the target now, or `None` while its circuit is open (or
    /// every probe is taken).
    pub fn admit(self: &Arc<Self>) -> Option<Ticket> {
        let now = Instant::now();
        let mut inner = self.lock();
        self.expire(&mut inner, now);
        let ticket = |probe| {
            Some(Ticket {
                breaker: self.clone(),
                probe,
            })
        };
        let id = inner.next_probe;
        match &mut inner.state {
            State::Closed => ticket(None),
            State::Open { until } if now < *until => None,
            State::Open { .. } => {
                inner.state = State::HalfOpen {
                    probes: vec![(id, now)],
                };
                inner.next_probe += 1;
                ticket(Some(id))
            }
            State::HalfOpen { probes } if probes.len() < self.settings.probes as usize => {
                probes.push((id, now));
                inner.next_probe += 1;
                ticket(Some(id))
            }
            State::HalfOpen { .. } => None,
        }
    }

    /// Records an outcome: of probe `probe`, or of a request let through while closed.
    fn settle(&self, probe: Option<u64>, answered: bool) {
        let now = Instant::now();
        let mut inner = self.lock();
        let ours = match (&inner.state, probe) {
            (State::HalfOpen { probes }, Some(id)) => probes.iter().any(|(p, _)| *p == id),
            (_, Some(_)) => false,
            (_, None) => true,
        };
        if !ours {
            // A probe that outlived its deadline was already counted as failed.
            return;
        }
        if answered {
            if !matches!(inner.state, State::Closed) {
                inner.state = State::Closed;
                inner.failures.clear();
            }
            return;
        }
        match inner.state {
            State::HalfOpen { .. } => self.open(&mut inner, now),
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
                    self.open(&mut inner, now);
                }
            }
        }
    }

    /// Gives back the slot of a probe that never settled.
    fn release(&self, id: u64) {
        if let State::HalfOpen { probes } = &mut self.lock().state {
            probes.retain(|(p, _)| *p != id);
        }
    }

    /// How long until the breaker lets a request through again while it refuses them: the
    /// rest of its open time, or, while every probe slot is taken, the longest a probe may
    /// run; `None` while it admits requests.
    pub fn refusing_for(&self) -> Option<Duration> {
        let now = Instant::now();
        let mut inner = self.lock();
        self.expire(&mut inner, now);
        match &inner.state {
            State::Closed => None,
            State::Open { until } if now < *until => Some(until.duration_since(now)),
            State::Open { .. } => None,
            State::HalfOpen { probes } if probes.len() < self.settings.probes as usize => None,
            State::HalfOpen { probes } => Some(
                probes
                    .iter()
                    .map(|(_, started)| {
                        self.probe_deadline
                            .saturating_sub(now.duration_since(*started))
                    })
                    .min()
                    .unwrap_or(self.probe_deadline),
            ),
        }
    }

    /// Its state now.
    pub fn status(&self) -> BreakerStatus {
        let now = Instant::now();
        let mut inner = self.lock();
        self.expire(&mut inner, now);
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

    fn breaker(open_ms: u64) -> Arc<Breaker> {
        Arc::new(Breaker::new(settings(open_ms), Duration::from_secs(60)))
    }

    fn fail(b: &Arc<Breaker>) {
        b.admit().expect("admitted").failure();
    }

    #[test]
    fn says_how_long_it_refuses() {
        let b = breaker(1000);
        assert_eq!(b.refusing_for(), None);
        for _ in 0..3 {
            fail(&b);
        }
        let open = b.refusing_for().expect("open");
        assert!(open > Duration::from_millis(900) && open <= Duration::from_millis(1000));

        let b = Arc::new(Breaker::new(settings(5), Duration::from_millis(500)));
        for _ in 0..3 {
            fail(&b);
        }
        std::thread::sleep(Duration::from_millis(10));
        assert_eq!(b.refusing_for(), None, "half-open with a probe slot free");
        let _probe = b.admit().expect("a probe");
        let taken = b.refusing_for().expect("every probe slot taken");
        assert!(taken <= Duration::from_millis(500));
    }

    #[test]
    fn opens_after_the_failures_then_probes_and_closes() {
        let b = breaker(20);
        for _ in 0..2 {
            fail(&b);
            assert!(b.admit().is_some_and(|t| !t.is_probe()));
        }
        fail(&b);
        assert_eq!(b.status().state, "open");
        assert!(b.admit().is_none());
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(b.status().state, "half-open");
        let probe = b.admit().expect("a probe");
        assert!(probe.is_probe());
        assert!(b.admit().is_none(), "one probe at a time");
        probe.failure();
        assert_eq!(b.status().state, "open");
        assert_eq!(b.status().opened, 2);
        std::thread::sleep(Duration::from_millis(30));
        b.admit().expect("a probe").success();
        assert_eq!(b.status().state, "closed");
        assert!(b.admit().is_some_and(|t| !t.is_probe()));
    }

    #[test]
    fn old_failures_leave_the_window() {
        let b = Arc::new(Breaker::new(
            BreakerSettings {
                window_ms: 10,
                ..settings(1000)
            },
            Duration::from_secs(60),
        ));
        fail(&b);
        fail(&b);
        std::thread::sleep(Duration::from_millis(20));
        fail(&b);
        assert_eq!(b.status().state, "closed");
    }

    #[test]
    fn a_probe_dropped_unsettled_gives_its_slot_back() {
        let b = breaker(1);
        for _ in 0..3 {
            fail(&b);
        }
        std::thread::sleep(Duration::from_millis(5));
        let probe = b.admit().expect("a probe");
        assert!(b.admit().is_none());
        drop(probe);
        let again = b.admit().expect("the slot is free again");
        assert!(again.is_probe());
        again.success();
        assert_eq!(b.status().state, "closed");
    }

    #[test]
    fn a_probe_past_its_deadline_counts_as_failed() {
        let b = Arc::new(Breaker::new(settings(50), Duration::from_millis(10)));
        for _ in 0..3 {
            fail(&b);
        }
        std::thread::sleep(Duration::from_millis(60));
        let stuck = b.admit().expect("a probe");
        std::thread::sleep(Duration::from_millis(15));
        assert_eq!(
            b.status().state,
            "open",
            "the overdue probe opened it again"
        );
        assert_eq!(b.status().opened, 2);
        stuck.success();
        assert_eq!(b.status().state, "open", "a late answer does not count");
        std::thread::sleep(Duration::from_millis(60));
        b.admit().expect("a new probe").success();
        assert_eq!(b.status().state, "closed");
    }
}
