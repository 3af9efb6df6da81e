//! Plugin configuration files: JSON, or TOML by extension, handed to plugins as JSON text.

use std::path::Path;

/// Reads a configuration file and returns it as JSON text; the error names the file.
pub fn read_config(path: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if path.extension().is_some_and(|e| e == "toml") {
        let value: toml::Value =
            toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        serde_json::to_string(&value).map_err(|e| format!("{}: {e}", path.display()))
    } else {
        let value: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| format!("{}: not valid JSON: {e}", path.display()))?;
        Ok(value.to_string())
    }
}
