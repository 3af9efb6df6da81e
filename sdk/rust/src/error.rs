//! Error helpers: every error says what was wrong and where.

use crate::{InputError, PluginError};

/// The result type of every plugin function.
pub type Result<T, E = PluginError> = std::result::Result<T, E>;

/// Bad configuration; name the key in `message`.
pub fn config_error(message: impl Into<String>) -> PluginError {
    PluginError::Config(message.into())
}

/// Bad input in `column`, at `row` where one applies.
pub fn input_error(column: &str, row: Option<u32>, message: impl Into<String>) -> PluginError {
    PluginError::Input(InputError {
        column: Some(column.to_string()),
        row,
        message: message.into(),
    })
}

/// A failure inside the plugin.
pub fn internal_error(message: impl Into<String>) -> PluginError {
    PluginError::Internal(message.into())
}

/// An operation this plugin does not support.
pub fn unsupported(message: impl Into<String>) -> PluginError {
    PluginError::Unsupported(message.into())
}

impl PluginError {
    /// A one-line message that says what was wrong and where.
    pub fn message(&self) -> String {
        match self {
            PluginError::Config(m) => format!("bad configuration: {m}"),
            PluginError::Input(e) => {
                let mut s = String::from("bad input");
                if let Some(c) = &e.column {
                    s.push_str(&format!(" in column `{c}`"));
                }
                if let Some(r) = e.row {
                    s.push_str(&format!(" at row {r}"));
                }
                format!("{s}: {}", e.message)
            }
            PluginError::Unsupported(m) => format!("unsupported: {m}"),
            PluginError::Internal(m) => format!("internal error: {m}"),
        }
    }
}
