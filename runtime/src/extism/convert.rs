//! The `ferry:plugin` types between the host's bindings and the Extism wire format: inputs go
//! out as the wire types, answers come back as the bindings' types.

use ferry_extism_pdk::wire as w;

use crate::bindings::types as t;

/// Into the wire format.
pub trait ToWire {
    /// The wire type.
    type Wire;
    /// Converts.
    fn to_wire(&self) -> Self::Wire;
}

/// Out of the wire format.
pub trait FromWire<W> {
    /// Converts.
    fn from_wire(w: W) -> Self;
}

impl<T: ToWire> ToWire for [T] {
    type Wire = Vec<T::Wire>;
    fn to_wire(&self) -> Self::Wire {
        self.iter().map(ToWire::to_wire).collect()
    }
}

impl<W, T: FromWire<W>> FromWire<Vec<W>> for Vec<T> {
    fn from_wire(w: Vec<W>) -> Self {
        w.into_iter().map(T::from_wire).collect()
    }
}

impl ToWire for t::DataType {
    type Wire = w::DataType;
    fn to_wire(&self) -> w::DataType {
        match self {
            t::DataType::Float64 => w::DataType::Float64,
            t::DataType::Int64 => w::DataType::Int64,
            t::DataType::Boolean => w::DataType::Boolean,
            t::DataType::Text => w::DataType::Text,
        }
    }
}

impl FromWire<w::DataType> for t::DataType {
    fn from_wire(d: w::DataType) -> Self {
        match d {
            w::DataType::Float64 => t::DataType::Float64,
            w::DataType::Int64 => t::DataType::Int64,
            w::DataType::Boolean => t::DataType::Boolean,
            w::DataType::Text => t::DataType::Text,
        }
    }
}

impl ToWire for t::Field {
    type Wire = w::Field;
    fn to_wire(&self) -> w::Field {
        w::Field {
            name: self.name.clone(),
            data_type: self.data_type.to_wire(),
            nullable: self.nullable,
        }
    }
}

impl FromWire<w::Field> for t::Field {
    fn from_wire(f: w::Field) -> Self {
        t::Field {
            name: f.name,
            data_type: t::DataType::from_wire(f.data_type),
            nullable: f.nullable,
        }
    }
}

impl ToWire for t::Column {
    type Wire = w::Column;
    fn to_wire(&self) -> w::Column {
        w::Column {
            name: self.name.clone(),
            data: match &self.data {
                t::ColumnData::Float64(v) => w::ColumnData::Float64(v.clone()),
                t::ColumnData::Int64(v) => w::ColumnData::Int64(v.clone()),
                t::ColumnData::Boolean(v) => w::ColumnData::Boolean(v.clone()),
                t::ColumnData::Text(v) => w::ColumnData::Text(v.clone()),
            },
            nulls: self.nulls.clone(),
        }
    }
}

impl FromWire<w::Column> for t::Column {
    fn from_wire(c: w::Column) -> Self {
        t::Column {
            name: c.name,
            data: match c.data {
                w::ColumnData::Float64(v) => t::ColumnData::Float64(v),
                w::ColumnData::Int64(v) => t::ColumnData::Int64(v),
                w::ColumnData::Boolean(v) => t::ColumnData::Boolean(v),
                w::ColumnData::Text(v) => t::ColumnData::Text(v),
            },
            nulls: c.nulls,
        }
    }
}

impl ToWire for t::Batch {
    type Wire = w::Batch;
    fn to_wire(&self) -> w::Batch {
        w::Batch {
            num_rows: self.num_rows,
            columns: self.columns.to_wire(),
        }
    }
}

impl FromWire<w::Batch> for t::Batch {
    fn from_wire(b: w::Batch) -> Self {
        t::Batch {
            num_rows: b.num_rows,
            columns: Vec::from_wire(b.columns),
        }
    }
}

impl FromWire<w::PluginError> for t::PluginError {
    fn from_wire(e: w::PluginError) -> Self {
        match e {
            w::PluginError::Config(m) => t::PluginError::Config(m),
            w::PluginError::Input(i) => t::PluginError::Input(t::InputError {
                column: i.column,
                row: i.row,
                message: i.message,
            }),
            w::PluginError::Unsupported(m) => t::PluginError::Unsupported(m),
            w::PluginError::Internal(m) => t::PluginError::Internal(m),
        }
    }
}

impl FromWire<w::PluginKind> for t::PluginKind {
    fn from_wire(k: w::PluginKind) -> Self {
        match k {
            w::PluginKind::Validator => t::PluginKind::Validator,
            w::PluginKind::Transform => t::PluginKind::Transform,
            w::PluginKind::Model => t::PluginKind::Model,
            w::PluginKind::Deployer => t::PluginKind::Deployer,
            w::PluginKind::AlertSink => t::PluginKind::AlertSink,
        }
    }
}

impl FromWire<w::Manifest> for t::Manifest {
    fn from_wire(m: w::Manifest) -> Self {
        t::Manifest {
            name: m.name,
            version: m.version,
            kind: t::PluginKind::from_wire(m.kind),
            description: m.description,
            authors: m.authors,
            license: m.license,
            repository: m.repository,
            keywords: m.keywords,
            capabilities: t::Capabilities {
                directories: m
                    .capabilities
                    .directories
                    .into_iter()
                    .map(|d| t::DirectoryRequest {
                        guest_path: d.guest_path,
                        writable: d.writable,
                        purpose: d.purpose,
                    })
                    .collect(),
                http_hosts: m.capabilities.http_hosts,
                env: m.capabilities.env,
            },
            limits: t::Limits {
                memory_mib: m.limits.memory_mib,
                timeout_ms: m.limits.timeout_ms,
            },
            config_schema: m.config_schema,
        }
    }
}

impl FromWire<w::Report> for t::Report {
    fn from_wire(r: w::Report) -> Self {
        t::Report {
            rows_checked: r.rows_checked,
            violations: r
                .violations
                .into_iter()
                .map(|v| t::Violation {
                    rule: v.rule,
                    column: v.column,
                    row: v.row,
                    message: v.message,
                })
                .collect(),
            counts: r
                .counts
                .into_iter()
                .map(|c| t::ViolationCount {
                    rule: c.rule,
                    column: c.column,
                    count: c.count,
                })
                .collect(),
            truncated: r.truncated,
        }
    }
}

impl FromWire<w::ModelInfo> for t::ModelInfo {
    fn from_wire(m: w::ModelInfo) -> Self {
        t::ModelInfo {
            task: match m.task {
                w::Task::BinaryClassification => t::Task::BinaryClassification,
                w::Task::MulticlassClassification => t::Task::MulticlassClassification,
                w::Task::Regression => t::Task::Regression,
            },
            inputs: Vec::from_wire(m.inputs),
            outputs: m
                .outputs
                .into_iter()
                .map(|o| t::ModelOutput {
                    name: o.name,
                    description: o.description,
                })
                .collect(),
        }
    }
}

impl ToWire for t::PluginRef {
    type Wire = w::PluginRef;
    fn to_wire(&self) -> w::PluginRef {
        w::PluginRef {
            name: self.name.clone(),
            version: self.version.clone(),
            digest: self.digest.clone(),
        }
    }
}

impl ToWire for t::Deployment {
    type Wire = w::Deployment;
    fn to_wire(&self) -> w::Deployment {
        w::Deployment {
            name: self.name.clone(),
            model_name: self.model_name.clone(),
            model_version: self.model_version.clone(),
            model_plugin: self.model_plugin.to_wire(),
            pipeline: self.pipeline.to_wire(),
            artifacts: self
                .artifacts
                .iter()
                .map(|a| w::Artifact {
                    path: a.path.clone(),
                    digest: a.digest.clone(),
                    contents: a.contents.clone(),
                })
                .collect(),
            settings: self.settings.clone(),
        }
    }
}

impl FromWire<w::DeploymentPlan> for t::DeploymentPlan {
    fn from_wire(p: w::DeploymentPlan) -> Self {
        t::DeploymentPlan { actions: p.actions }
    }
}

impl FromWire<w::DeploymentStatus> for t::DeploymentStatus {
    fn from_wire(s: w::DeploymentStatus) -> Self {
        t::DeploymentStatus {
            name: s.name,
            active_version: s.active_version,
            history: s.history,
            message: s.message,
        }
    }
}

impl ToWire for t::Alert {
    type Wire = w::Alert;
    fn to_wire(&self) -> w::Alert {
        w::Alert {
            severity: match self.severity {
                t::Severity::Info => w::Severity::Info,
                t::Severity::Warning => w::Severity::Warning,
                t::Severity::Critical => w::Severity::Critical,
            },
            title: self.title.clone(),
            text: self.text.clone(),
            labels: self.labels.clone(),
            source: self.source.clone(),
            time_ms: self.time_ms,
        }
    }
}

/// Values that arrive as they are.
macro_rules! same {
    ($($t:ty),*) => {$(
        impl FromWire<$t> for $t {
            fn from_wire(v: $t) -> Self {
                v
            }
        }
    )*};
}

same!((), u32);

/// Bytes (a state or an artifact), base64 on the wire.
#[derive(Debug, serde::Deserialize)]
#[serde(transparent)]
pub struct Bytes(#[serde(with = "ferry_extism_pdk::wire::bytes")] pub Vec<u8>);

impl FromWire<Bytes> for Vec<u8> {
    fn from_wire(b: Bytes) -> Self {
        b.0
    }
}
