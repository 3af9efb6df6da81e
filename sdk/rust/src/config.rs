//! Configuration parsing.

use crate::{PluginError, Result};
use serde::de::DeserializeOwned;

/// Parses a plugin's JSON configuration; an empty string is read as `{}`. The error names the
/// offending key and position.
pub fn parse_config<T: DeserializeOwned>(json: &str) -> Result<T> {
    let text = if json.trim().is_empty() { "{}" } else { json };
    serde_json::from_str(text).map_err(|e| PluginError::Config(e.to_string()))
}
