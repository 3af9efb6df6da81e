//! The glue behind the `export_*!` macros: read the call (JSON or MessagePack), run the
//! plugin, answer `{"ok": …}` or `{"error": …}` in the call's encoding, and keep the
//! instance's analyzers, transformers and predictors in tables keyed by handle.

use std::cell::RefCell;
use std::collections::BTreeMap;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::wire::{Answer, Handle, Payload};
use crate::{Result, internal_error};

/// Objects of one type that live in the instance, by handle.
pub struct Table<T> {
    next: Handle,
    items: BTreeMap<Handle, T>,
}

impl<T> Table<T> {
    /// An empty table.
    pub const fn new() -> Self {
        Self {
            next: 1,
            items: BTreeMap::new(),
        }
    }

    /// Keeps `item` and returns its handle.
    pub fn insert(&mut self, item: T) -> Handle {
        let h = self.next;
        self.next = self.next.wrapping_add(1).max(1);
        self.items.insert(h, item);
        h
    }

    /// The item with handle `h`.
    pub fn get_mut(&mut self, h: Handle, what: &str) -> Result<&mut T> {
        self.items
            .get_mut(&h)
            .ok_or_else(|| internal_error(format!("no {what} with handle {h} in this instance")))
    }
}

impl<T> Default for Table<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// A per-instance table (Wasm instances are single-threaded).
pub type Slot<T> = std::thread::LocalKey<RefCell<Table<T>>>;

/// The encodings a plugin built with this crate reads.
pub const PAYLOADS: [Payload; 2] = [Payload::Json, Payload::MessagePack];

/// Runs one export: parses the input as `I`, calls `f`, writes the answer in the call's
/// encoding. Returns the Extism return code (0: an answer was written).
pub fn run<I: DeserializeOwned, O: Serialize>(f: impl FnOnce(I) -> Result<O>) -> i32 {
    let input = input();
    let payload = Payload::of_call(&input);
    let answer: Answer<O> = match payload.decode::<I>(&input) {
        Ok(call) => f(call).into(),
        Err(e) => Answer::Error(internal_error(format!(
            "the host sent a call this plugin cannot read ({}): {e}",
            payload.label()
        ))),
    };
    match payload.encode(&answer) {
        Ok(bytes) => {
            output(&bytes);
            0
        }
        Err(e) => {
            fail(&format!("could not encode the answer: {e}"));
            1
        }
    }
}

/// Writes the manifest.
pub fn manifest(m: crate::wire::Manifest) -> i32 {
    match crate::wire::encode_manifest(&m, &PAYLOADS) {
        Ok(bytes) => {
            output(&bytes);
            0
        }
        Err(e) => {
            fail(&format!("could not encode the manifest: {e}"));
            1
        }
    }
}

#[cfg(target_arch = "wasm32")]
fn input() -> Vec<u8> {
    extism_pdk::input_bytes()
}

#[cfg(target_arch = "wasm32")]
fn output(bytes: &[u8]) {
    if let Ok(m) = extism_pdk::Memory::from_bytes(bytes) {
        m.set_output();
    }
}

#[cfg(target_arch = "wasm32")]
fn fail(message: &str) {
    if let Ok(m) = extism_pdk::Memory::from_bytes(message) {
        // SAFETY: `m` is a live block of Extism memory holding the message.
        unsafe { extism_pdk::extism::error_set(m.offset()) };
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn input() -> Vec<u8> {
    Vec::new()
}

#[cfg(not(target_arch = "wasm32"))]
fn output(_bytes: &[u8]) {}

#[cfg(not(target_arch = "wasm32"))]
fn fail(_message: &str) {}

#[doc(hidden)]
#[macro_export]
macro_rules! __export {
    ($name:ident, $body:expr) => {
        #[cfg(target_arch = "wasm32")]
        #[unsafe(no_mangle)]
        pub extern "C" fn $name() -> i32 {
            $body
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __export_manifest {
    ($ty:ty, $kind:ident) => {
        $crate::__export!(
            ferry_manifest,
            $crate::__private::manifest(
                <$ty as $crate::Plugin>::manifest().build($crate::PluginKind::$kind)
            )
        );
    };
}

/// Exports a [`Validator`](crate::Validator).
#[macro_export]
macro_rules! export_validator {
    ($ty:ty) => {
        $crate::__export_manifest!($ty, Validator);
        $crate::__export!(
            validate,
            $crate::__private::run(|c: $crate::wire::ValidateCall| {
                <$ty as $crate::Validator>::validate(&c.config, &c.data)
            })
        );
    };
}

/// Exports a [`Transform`](crate::Transform).
#[macro_export]
macro_rules! export_transform {
    ($ty:ty) => {
        const _: () = {
            use $crate::__private::{Slot, Table, run};
            use $crate::wire;
            use $crate::{Analyzer as _, Transform, Transformer as _};
            type A = <$ty as Transform>::Analyzer;
            type T = <$ty as Transform>::Transformer;
            ::std::thread_local! {
                static ANALYZERS: ::std::cell::RefCell<Table<A>> = const { ::std::cell::RefCell::new(Table::new()) };
                static TRANSFORMERS: ::std::cell::RefCell<Table<T>> = const { ::std::cell::RefCell::new(Table::new()) };
            }
            fn with<X, R>(slot: &'static Slot<X>, f: impl FnOnce(&mut Table<X>) -> R) -> R {
                slot.with(|t| f(&mut t.borrow_mut()))
            }
            $crate::__export_manifest!($ty, Transform);
            $crate::__export!(analyzer_new, run(|c: wire::SchemaCall| {
                let a = <$ty as Transform>::new_analyzer(&c.config, c.input)?;
                Ok(with(&ANALYZERS, |t| t.insert(a)))
            }));
            $crate::__export!(analyzer_update, run(|c: wire::UpdateCall| {
                with(&ANALYZERS, |t| t.get_mut(c.analyzer, "analyzer")?.update(&c.data))
            }));
            $crate::__export!(analyzer_finish, run(|c: wire::FinishCall| {
                let state = with(&ANALYZERS, |t| t.get_mut(c.analyzer, "analyzer")?.finish())?;
                Ok($crate::__private::Bytes(state))
            }));
            $crate::__export!(transformer_new, run(|c: wire::TransformerCall| {
                let x = <$ty as Transform>::new_transformer(&c.config, &c.state)?;
                Ok(with(&TRANSFORMERS, |t| t.insert(x)))
            }));
            $crate::__export!(transformer_apply, run(|c: wire::ApplyCall| {
                with(&TRANSFORMERS, |t| t.get_mut(c.transformer, "transformer")?.apply(&c.data))
            }));
            $crate::__export!(output_schema, run(|c: wire::SchemaCall| {
                <$ty as Transform>::output_schema(&c.config, &c.input)
            }));
        };
    };
}

/// Exports a [`Model`](crate::Model).
#[macro_export]
macro_rules! export_model {
    ($ty:ty) => {
        const _: () = {
            use $crate::__private::{Table, run};
            use $crate::wire;
            use $crate::{Model, Predictor as _};
            type P = <$ty as Model>::Predictor;
            ::std::thread_local! {
                static PREDICTORS: ::std::cell::RefCell<Table<P>> = const { ::std::cell::RefCell::new(Table::new()) };
            }
            $crate::__export_manifest!($ty, Model);
            $crate::__export!(train, run(|c: wire::TrainCall| {
                <$ty as Model>::train(&c.features, &c.labels, &c.config).map($crate::__private::Bytes)
            }));
            $crate::__export!(load, run(|c: wire::LoadCall| {
                let p = <$ty as Model>::load(&c.artifact, &c.config)?;
                Ok(PREDICTORS.with(|t| t.borrow_mut().insert(p)))
            }));
            $crate::__export!(predictor_describe, run(|c: wire::DescribeCall| {
                PREDICTORS.with(|t| Ok(t.borrow_mut().get_mut(c.predictor, "predictor")?.describe()))
            }));
            $crate::__export!(predictor_predict, run(|c: wire::PredictCall| {
                PREDICTORS.with(|t| t.borrow_mut().get_mut(c.predictor, "predictor")?.predict(&c.features))
            }));
        };
    };
}

/// Exports a [`Deployer`](crate::Deployer).
#[macro_export]
macro_rules! export_deployer {
    ($ty:ty) => {
        $crate::__export_manifest!($ty, Deployer);
        $crate::__export!(
            plan,
            $crate::__private::run(|c: $crate::wire::TargetCall| {
                <$ty as $crate::Deployer>::plan(&c.target)
            })
        );
        $crate::__export!(
            apply,
            $crate::__private::run(|c: $crate::wire::TargetCall| {
                <$ty as $crate::Deployer>::apply(&c.target)
            })
        );
        $crate::__export!(
            status,
            $crate::__private::run(|c: $crate::wire::NamedCall| {
                <$ty as $crate::Deployer>::status(&c.name, &c.settings)
            })
        );
        $crate::__export!(
            rollback,
            $crate::__private::run(|c: $crate::wire::NamedCall| {
                <$ty as $crate::Deployer>::rollback(&c.name, &c.settings)
            })
        );
    };
}

/// Exports an [`AlertSink`](crate::AlertSink).
#[macro_export]
macro_rules! export_alert_sink {
    ($ty:ty) => {
        $crate::__export_manifest!($ty, AlertSink);
        $crate::__export!(
            deliver,
            $crate::__private::run(|c: $crate::wire::DeliverCall| {
                <$ty as $crate::AlertSink>::deliver(&c.config, &c.alert)
            })
        );
    };
}

/// Bytes that serialize as base64 (a state or an artifact).
pub struct Bytes(pub Vec<u8>);

impl Serialize for Bytes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        crate::wire::bytes::serialize(&self.0, s)
    }
}
