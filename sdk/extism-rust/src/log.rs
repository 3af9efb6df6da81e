//! Log lines through the host (Extism's `log_*`), attributed to the plugin.

/// Logs at info level.
pub fn info(message: &str) {
    #[cfg(target_arch = "wasm32")]
    extism_pdk::info!("{}", message);
    #[cfg(not(target_arch = "wasm32"))]
    let _ = message;
}

/// Logs at warning level.
pub fn warn(message: &str) {
    #[cfg(target_arch = "wasm32")]
    extism_pdk::warn!("{}", message);
    #[cfg(not(target_arch = "wasm32"))]
    let _ = message;
}

/// Logs at debug level.
pub fn debug(message: &str) {
    #[cfg(target_arch = "wasm32")]
    extism_pdk::debug!("{}", message);
    #[cfg(not(target_arch = "wasm32"))]
    let _ = message;
}
