//! Typed errors: what went wrong with which plugin, so a caller can report it and go on.

use crate::bindings::types as wit;
use crate::manifest::{ManifestError, PluginKind};

/// An error a plugin returned through the contract's `plugin-error`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GuestError {
    /// Bad configuration.
    #[error("bad configuration: {0}")]
    Config(String),
    /// Bad input, with the column and row where they apply.
    #[error("bad input{}{}: {message}", column.as_ref().map(|c| format!(" in column `{c}`")).unwrap_or_default(), row.map(|r| format!(" at row {r}")).unwrap_or_default())]
    Input {
        /// The column.
        column: Option<String>,
        /// The row.
        row: Option<u64>,
        /// What was wrong.
        message: String,
    },
    /// The plugin does not support the operation.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// Something failed inside the plugin.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<wit::PluginError> for GuestError {
    fn from(e: wit::PluginError) -> Self {
        match e {
            wit::PluginError::Config(m) => GuestError::Config(m),
            wit::PluginError::Input(i) => GuestError::Input {
                column: i.column,
                row: i.row.map(u64::from),
                message: i.message,
            },
            wit::PluginError::Unsupported(m) => GuestError::Unsupported(m),
            wit::PluginError::Internal(m) => GuestError::Internal(m),
        }
    }
}

/// What happened during a call into a plugin.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// The call ran past its deadline and was stopped.
    #[error("stopped after its deadline of {limit_ms} ms")]
    Timeout {
        /// The deadline.
        limit_ms: u32,
    },
    /// The plugin asked for more memory than its cap.
    #[error("stopped: it needed more memory than its cap of {limit_mib} MiB")]
    OutOfMemory {
        /// The cap.
        limit_mib: u32,
    },
    /// The plugin overflowed its stack.
    #[error("stopped: stack overflow")]
    StackOverflow,
    /// The plugin panicked.
    #[error("panicked: {message}")]
    Panic {
        /// The panic message the plugin printed.
        message: String,
    },
    /// The plugin trapped for another reason.
    #[error("trapped: {message}")]
    Trap {
        /// The trap.
        message: String,
    },
    /// The plugin reached for something it was not granted.
    #[error("refused: {}{}", attempts.join("; "), detail.as_ref().map(|d| format!(" (the plugin then said: {d})")).unwrap_or_default())]
    CapabilityDenied {
        /// Each refused attempt.
        attempts: Vec<String>,
        /// What the plugin reported afterwards, if anything.
        detail: Option<String>,
    },
    /// The plugin returned an error.
    #[error("{0}")]
    Guest(GuestError),
    /// The plugin returned something that breaks the contract.
    #[error("returned invalid output: {0}")]
    InvalidOutput(String),
    /// The plugin returned more rows than allowed.
    #[error("returned {rows} rows, more than the {limit} allowed")]
    OutputTooLarge {
        /// Rows returned.
        rows: u64,
        /// The limit.
        limit: u64,
    },
    /// The instance trapped earlier and was thrown away.
    #[error("this instance was discarded after an earlier failure; create a new one")]
    Discarded,
    /// The plugin is of another kind than the caller needs.
    #[error("this is a {found} plugin, not a {expected}")]
    NotKind {
        /// The kind needed.
        expected: PluginKind,
        /// The plugin's kind.
        found: PluginKind,
    },
    /// The host failed while serving the call.
    #[error("host error: {0}")]
    Host(String),
    /// A plugin that computes drew random bytes while computing a batch.
    #[error(
        "drew random bytes while computing a batch, so a row's result would depend on where it sits in the call and training and serving would disagree; a plugin that computes may draw only while it starts (its constructors, fitting, training) and must derive everything else from its configuration, its learned state or artifact, and the row"
    )]
    RandomDrawn,
    /// The plugin's output depends on more than its configuration, state and input: the
    /// purity check saw two different answers to the same question.
    #[error(
        "is not deterministic: {check} gave different output in column `{column}`, row {row}: {first}, then {second}; a plugin's output may depend only on its configuration, its learned state or artifact, and each row itself"
    )]
    Impure {
        /// Which comparison differed.
        check: String,
        /// The first column that differed.
        column: String,
        /// The first row (of the checked batch) that differed.
        row: u64,
        /// The value the first run gave.
        first: String,
        /// The value the second run gave.
        second: String,
    },
}

impl Failure {
    /// True when the plugin misbehaved (as opposed to reporting an error about its input).
    pub fn is_misbehaviour(&self) -> bool {
        !matches!(self, Failure::Guest(_) | Failure::NotKind { .. })
    }
}

/// A failed call into a plugin: which plugin, which call, what happened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("plugin `{plugin}` {version} ({kind}, `{operation}`): {failure}")]
pub struct PluginError {
    /// The plugin's name.
    pub plugin: String,
    /// Its version.
    pub version: String,
    /// Its kind.
    pub kind: PluginKind,
    /// The function called.
    pub operation: &'static str,
    /// What happened.
    pub failure: Box<Failure>,
}

/// Why a plugin could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Not WebAssembly at all.
    #[error("{source_name}: not a WebAssembly file (it does not start with the `\\0asm` magic)")]
    NotWasm {
        /// Where the bytes came from.
        source_name: String,
    },
    /// A core module that is not an Extism plugin either.
    #[error(
        "{source_name}: a core WebAssembly module, not a component, and not an Extism plugin (it exports no `ferry_manifest`; its exports: [{exports}]); build for `wasm32-wasip2`, wrap it with `wasm-tools component new`, or build it with `ferry-extism-pdk`"
    )]
    CoreModule {
        /// Where the bytes came from.
        source_name: String,
        /// What it exports.
        exports: String,
    },
    /// An Extism module Ferry cannot run as a plugin.
    #[error("{source_name}: not a Ferry Extism plugin: {message}")]
    Extism {
        /// Where the bytes came from.
        source_name: String,
        /// What is wrong.
        message: String,
    },
    /// A component wasmtime could not compile.
    #[error("{source_name}: not a valid component: {message}")]
    Invalid {
        /// Where the bytes came from.
        source_name: String,
        /// The compiler's message.
        message: String,
    },
    /// A component that exports no `ferry:plugin` world.
    #[error(
        "{source_name}: not a Ferry plugin: it exports none of the `ferry:plugin` kind interfaces (its exports: [{exports}])"
    )]
    NotAPlugin {
        /// Where the bytes came from.
        source_name: String,
        /// What it exports.
        exports: String,
    },
    /// A plugin built against an incompatible contract.
    #[error(
        "{source_name}: built against ferry:plugin@{found}, which this host (ferry:plugin@{host}) cannot run"
    )]
    IncompatibleContract {
        /// Where the bytes came from.
        source_name: String,
        /// The plugin's contract version.
        found: semver::Version,
        /// The host's.
        host: semver::Version,
    },
    /// The exports do not match the world of the kind.
    #[error("{source_name}: does not implement the `{world}` world: {message}")]
    WrongWorld {
        /// Where the bytes came from.
        source_name: String,
        /// The world expected.
        world: String,
        /// What did not match.
        message: String,
    },
    /// The plugin imports something the host does not give its kind.
    #[error("{source_name}: imports what a {kind} plugin is not given: {message}")]
    Imports {
        /// Where the bytes came from.
        source_name: String,
        /// Its kind.
        kind: PluginKind,
        /// wasmtime's message, naming the import.
        message: String,
    },
    /// The manifest is invalid.
    #[error("{source_name}: {error}")]
    Manifest {
        /// Where the bytes came from.
        source_name: String,
        /// What is wrong.
        error: ManifestError,
    },
    /// The manifest's kind disagrees with the exports.
    #[error(
        "{source_name}: its manifest says kind `{declared}` but it exports the `{exported}` interface"
    )]
    KindMismatch {
        /// Where the bytes came from.
        source_name: String,
        /// The manifest's kind.
        declared: PluginKind,
        /// The exported kind.
        exported: PluginKind,
    },
    /// The plugin is not the kind the caller needs.
    #[error("plugin `{name}` is a {found} plugin, not a {expected}")]
    NotKind {
        /// The plugin.
        name: String,
        /// The kind needed.
        expected: PluginKind,
        /// Its kind.
        found: PluginKind,
    },
    /// The plugin misbehaved while describing itself.
    #[error("{source_name}: failed while reporting its manifest: {error}")]
    Describe {
        /// Where the bytes came from.
        source_name: String,
        /// What happened.
        error: PluginError,
    },
    /// A granted directory could not be opened.
    #[error("cannot grant directory {guest_path} -> {host_path}: {message}")]
    Grant {
        /// The guest path.
        guest_path: String,
        /// The host path.
        host_path: String,
        /// Why.
        message: String,
    },
    /// Reading the file failed.
    #[error("{source_name}: {error}")]
    Io {
        /// The file.
        source_name: String,
        /// The I/O error.
        error: std::io::Error,
    },
    /// No plugin of that name.
    #[error("no plugin `{name}`; the built-in plugins are: {known}")]
    Unknown {
        /// The name asked for.
        name: String,
        /// The names there are.
        known: String,
    },
    /// A built-in plugin that this build of Ferry was compiled without.
    #[error(
        "the built-in plugin `{name}` is not in this build of ferry: it is left out of a plain \
         `cargo build`; build ferry with `--features {feature}` to carry it, or publish a \
         component of it to the registry"
    )]
    LeftOut {
        /// The name asked for.
        name: String,
        /// The Cargo feature that builds it in.
        feature: String,
    },
}
