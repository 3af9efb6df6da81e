//! What the runtime reports about plugin calls and instances. The embedder gives the runtime
//! a [`RuntimeMetrics`] in its [`RuntimeOptions`](crate::RuntimeOptions) and registers it
//! wherever it exports its own metrics; the runtime keeps no global of its own.

use std::fmt;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Labels of a plugin call.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallLabels {
    /// `name@version`.
    pub plugin: String,
    /// The contract function (`apply`, `predict`, ...).
    pub call: &'static str,
}

/// Labels of a plugin failure.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FailureLabels {
    /// `name@version`.
    pub plugin: String,
    /// `deadline`, `memory`, `trap`, `denied`, `invalid_output` or `error`.
    pub failure: &'static str,
}

/// A latency histogram: 0.25 ms to about 8 s, doubling.
pub fn latency() -> Histogram {
    Histogram::new(exponential_buckets(0.000_25, 2.0, 16))
}

/// The runtime's metrics. Cheap to clone: every clone counts into the same series.
#[derive(Clone)]
pub struct RuntimeMetrics {
    /// Plugin calls' latency.
    pub plugin_call_seconds: Family<CallLabels, Histogram, fn() -> Histogram>,
    /// Plugin failures by kind.
    pub plugin_failures: Family<FailureLabels, Counter>,
    /// Plugin instances alive now.
    pub instances_live: Gauge,
    /// Plugin instances created.
    pub instances_created: Counter,
    /// Of those, instances started from a snapshot taken after `prepare`.
    pub instances_from_snapshots: Counter,
    /// Snapshots taken (not those found on disk).
    pub snapshots_taken: Counter,
    /// Instances the pooling allocator reserves (0 when instances are allocated on demand).
    pub instance_pool_capacity: Gauge,
    /// Plugin calls stopped for a deadline, the memory cap or a trap (not exported; alert
    /// rules read it).
    pub misbehaviour: Counter,
    /// Instance sets one served version may hold at once.
    pub instance_sets_per_version: Gauge,
    /// Calls that waited for an instance set because their version held its limit.
    pub instance_set_waits: Counter,
    /// The most instance sets one served version has held at once.
    pub instance_sets_peak: Gauge,
}

impl Default for RuntimeMetrics {
    fn default() -> Self {
        Self {
            plugin_call_seconds: Family::new_with_constructor(latency as fn() -> Histogram),
            plugin_failures: Family::default(),
            instances_live: Gauge::default(),
            instances_created: Counter::default(),
            instances_from_snapshots: Counter::default(),
            snapshots_taken: Counter::default(),
            instance_pool_capacity: Gauge::default(),
            misbehaviour: Counter::default(),
            instance_sets_per_version: Gauge::default(),
            instance_set_waits: Counter::default(),
            instance_sets_peak: Gauge::default(),
        }
    }
}

impl fmt::Debug for RuntimeMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuntimeMetrics")
            .field("instances_live", &self.instances_live.get())
            .field("instances_created", &self.instances_created.get())
            .finish_non_exhaustive()
    }
}

impl RuntimeMetrics {
    /// Registers the exported series in `registry`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "plugin_call_seconds",
            "Plugin call latency in seconds, by plugin and contract function",
            self.plugin_call_seconds.clone(),
        );
        registry.register(
            "plugin_failures",
            "Plugin calls stopped or failed, by plugin and kind (deadline, memory, trap, denied, invalid_output, error)",
            self.plugin_failures.clone(),
        );
        registry.register(
            "instances_live",
            "Plugin instances alive now",
            self.instances_live.clone(),
        );
        registry.register(
            "instances_created",
            "Plugin instances created",
            self.instances_created.clone(),
        );
        registry.register(
            "instances_from_snapshots",
            "Plugin instances started from a snapshot taken after `prepare` (contract 0.1.1)",
            self.instances_from_snapshots.clone(),
        );
        registry.register(
            "snapshots_taken",
            "Snapshots of prepared plugins taken (not those found on disk)",
            self.snapshots_taken.clone(),
        );
        registry.register(
            "instance_pool_capacity",
            "Instances the pooling allocator reserves (0: allocated on demand)",
            self.instance_pool_capacity.clone(),
        );
        registry.register(
            "instance_sets_per_version",
            "Instance sets one served version may hold at once (--max-instance-sets)",
            self.instance_sets_per_version.clone(),
        );
        registry.register(
            "instance_sets_peak",
            "The most instance sets one served version has held at once",
            self.instance_sets_peak.clone(),
        );
        registry.register(
            "instance_set_waits",
            "Calls that waited for an instance set because their version held its limit",
            self.instance_set_waits.clone(),
        );
    }
}
