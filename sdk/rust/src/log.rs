//! Structured logs, written by the host and attributed to the plugin.

use crate::host::{self, LogLevel};

/// Writes a log line with key-value fields.
pub fn log(level: LogLevel, message: &str, fields: &[(&str, &str)]) {
    #[cfg(target_arch = "wasm32")]
    {
        let fields: Vec<(String, String)> = fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        host::log(level, message, &fields);
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = host::log;
        eprintln!("[{level:?}] {message} {fields:?}");
    }
}

/// Writes a debug line.
pub fn debug(message: &str) {
    log(LogLevel::Debug, message, &[]);
}

/// Writes an info line.
pub fn info(message: &str) {
    log(LogLevel::Info, message, &[]);
}

/// Writes a warning.
pub fn warn(message: &str) {
    log(LogLevel::Warn, message, &[]);
}
