//! The reference profile: what `ferry train` keeps of its data for drift checks, one entry
//! per raw input column and per model feature. Numerical columns keep their distinct values
//! with counts (their exact distribution), categorical ones their category counts, so every
//! drift test computed against the profile equals the one computed against the data itself.

use serde::{Deserialize, Serialize};

use super::sample::{ColumnKind, Sample};
use crate::data::{type_name, type_of};
use ferry_runtime::bindings::types::{Batch, DataType};

/// The profile format this host writes and reads.
pub const PROFILE_FORMAT: &str = "ferry-profile/1";

/// Text columns with at least this many values, all distinct, are identifiers: they are
/// kept out of drift checks, as a column of ids always "drifts".
const IDENTIFIER_MIN_ROWS: u64 = 20;

/// Where a profiled column comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// A raw column of the training data, as requests carry it.
    Input,
    /// A column the transforms computed, as the model reads it.
    Feature,
}

impl Role {
    /// `input` or `feature`.
    pub fn name(self) -> &'static str {
        match self {
            Role::Input => "input",
            Role::Feature => "feature",
        }
    }
}

/// One column of the reference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnProfile {
    /// The column's name.
    pub name: String,
    /// Input or feature.
    pub role: Role,
    /// `float64`, `int64`, `boolean` or `text`.
    #[serde(rename = "type")]
    pub data_type: String,
    /// Rows in the reference.
    pub rows: u64,
    /// Nulls, NaN and infinities among them.
    pub missing: u64,
    /// The distribution; absent for an identifier column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample: Option<Sample>,
}

impl ColumnProfile {
    /// Whether the column holds integers.
    pub fn is_integer(&self) -> bool {
        self.data_type == "int64"
    }

    /// Numerical or categorical.
    pub fn kind(&self) -> ColumnKind {
        match self.data_type.as_str() {
            "float64" | "int64" => ColumnKind::Numerical,
            _ => ColumnKind::Categorical,
        }
    }
}

/// The reference distribution of every profiled column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// [`PROFILE_FORMAT`].
    pub format: String,
    /// The columns, inputs first.
    pub columns: Vec<ColumnProfile>,
}

impl Profile {
    /// An empty profile.
    pub fn new() -> Self {
        Self {
            format: PROFILE_FORMAT.into(),
            columns: Vec::new(),
        }
    }

    /// Profiles every column of `batch` (except `skip`) under `role`.
    pub fn add(&mut self, batch: &Batch, role: Role, skip: &[&str]) {
        let columns: Vec<_> = batch
            .columns
            .iter()
            .filter(|c| !skip.contains(&c.name.as_str()))
            .collect();
        let profiled: Vec<ColumnProfile> = std::thread::scope(|scope| {
            let handles: Vec<_> = columns
                .iter()
                .map(|column| {
                    scope.spawn(move || {
                        let (sample, missing) = Sample::of(column);
                        let rows = u64::from(batch.num_rows);
                        let identifier = type_of(&column.data) == DataType::Text
                            && sample.total() >= IDENTIFIER_MIN_ROWS
                            && sample.distinct() as u64 == sample.total();
                        ColumnProfile {
                            name: column.name.clone(),
                            role,
                            data_type: type_name(type_of(&column.data)).into(),
                            rows,
                            missing,
                            sample: (!identifier).then_some(sample),
                        }
                    })
                })
                .collect();
            handles.into_iter().filter_map(|h| h.join().ok()).collect()
        });
        self.columns.extend(profiled);
    }

    /// Reads a stored profile, checking its format.
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        let p: Profile = serde_json::from_slice(bytes)
            .map_err(|e| format!("the reference profile is not valid: {e}"))?;
        if p.format != PROFILE_FORMAT {
            return Err(format!(
                "reference profile format {:?} is not {PROFILE_FORMAT:?}",
                p.format
            ));
        }
        Ok(p)
    }

    /// The profile as stored.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// The columns of one role.
    pub fn of_role(&self, role: Role) -> impl Iterator<Item = &ColumnProfile> {
        self.columns.iter().filter(move |c| c.role == role)
    }
}

impl Default for Profile {
    fn default() -> Self {
        Self::new()
    }
}
