//! Monitoring a served model: Prometheus metrics, the prediction log, live metrics from
//! labels, the last hour of requests and alert rules. The drift statistics they use are in
//! `ferry_core::stats`.

pub mod alerts;
pub mod export;
pub mod live;
pub mod metrics;
pub mod predlog;
pub mod recent;
