//! Calling an Extism instance: the call's JSON goes in as Extism input, the answer comes back
//! as Extism output, under the same deadline, memory cap and error typing as a component.

use serde::Serialize;
use serde::de::DeserializeOwned;
use wasmtime::{Instance, InstancePre};

use super::ExtismPre;
use super::convert::FromWire;
use crate::bindings::types as wit;
use crate::error::{Failure, PluginError};
use crate::session::{Outcome, Session, timed};
use crate::state::StoreState;
use ferry_extism_pdk::wire::{Answer, Payload};

/// Longest piece of a malformed answer quoted in the error.
const QUOTE: usize = 120;

/// One instance of an Extism plugin.
pub(crate) struct ExtismInstance {
    instance: Instance,
    payload: Payload,
}

impl ExtismInstance {
    /// Instantiates `pre` in `session`'s store (running `_initialize` when the module has one).
    pub(crate) async fn new(session: &mut Session, pre: &ExtismPre) -> Result<Self, PluginError> {
        Self::with_payload(session, &pre.pre, pre.payload).await
    }

    /// Instantiates `pre`, to be called in `payload`.
    pub(super) async fn with_payload(
        session: &mut Session,
        pre: &InstancePre<StoreState>,
        payload: Payload,
    ) -> Result<Self, PluginError> {
        let limit = session.arm("instantiate")?;
        let store = &mut session.store;
        let out = timed(limit, async {
            let instance = pre.instantiate_async(&mut *store).await?;
            if let Ok(init) = instance.get_typed_func::<(), ()>(&mut *store, "_initialize") {
                init.call_async(&mut *store, ()).await?;
            }
            Ok(instance)
        })
        .await;
        let instance = session.settle_plain("instantiate", out)?;
        Ok(Self { instance, payload })
    }

    /// Runs `export` with `input` as its raw input; returns its raw output.
    async fn invoke(
        &self,
        session: &mut Session,
        op: &'static str,
        export: &str,
        input: Vec<u8>,
    ) -> Result<Outcome<Result<Vec<u8>, wit::PluginError>>, PluginError> {
        let func = self
            .instance
            .get_typed_func::<(), i32>(&mut session.store, export)
            .map_err(|e| {
                session.plugin.error(
                    op,
                    Failure::Host(format!("the plugin's export `{export}`: {e:#}")),
                )
            })?;
        let state = session.store.data_mut();
        state.extism.begin(input);
        state.limiter.set_outside(state.extism.held());
        let limit = session.arm(op)?;
        let out = timed(limit, func.call_async(&mut session.store, ())).await;
        let result = session.store.data_mut().extism.finish();
        Ok(match out {
            Ok(Ok(0)) => Ok(Ok(Ok(result.output))),
            Ok(Ok(code)) => Ok(Ok(Err(wit::PluginError::Internal(
                result
                    .error
                    .unwrap_or_else(|| format!("`{export}` returned {code} without an error")),
            )))),
            Ok(Err(e)) => Ok(Err(e)),
            Err(elapsed) => Err(elapsed),
        })
    }

    /// Calls `export` with `input` in the instance's encoding and reads the `{"ok": …}` or
    /// `{"error": …}` answer.
    pub(crate) async fn call<I, O, T>(
        &self,
        session: &mut Session,
        op: &'static str,
        export: &str,
        input: &I,
    ) -> Result<T, PluginError>
    where
        I: Serialize,
        O: DeserializeOwned,
        T: FromWire<O>,
    {
        let payload = self.payload;
        let bytes = payload.encode(input).map_err(|e| {
            session
                .plugin
                .error(op, Failure::Host(format!("could not encode the call: {e}")))
        })?;
        let outcome = self.invoke(session, op, export, bytes).await?;
        let outcome = outcome.map(|r| {
            r.map(|r| {
                r.and_then(|output| match payload.decode::<Answer<O>>(&output) {
                    Ok(Answer::Ok(v)) => Ok(Ok(v)),
                    Ok(Answer::Error(e)) => Err(wit::PluginError::from_wire(e)),
                    Err(e) => Ok(Err(malformed(export, payload, &output, &e))),
                })
            })
        });
        match session.settle(op, outcome)? {
            Ok(v) => Ok(T::from_wire(v)),
            Err(message) => {
                session.discard();
                Err(session.plugin.error(op, Failure::InvalidOutput(message)))
            }
        }
    }

    /// Calls `export` without input and returns its output as it is.
    pub(crate) async fn call_raw(
        &self,
        session: &mut Session,
        op: &'static str,
        export: &str,
    ) -> Result<Vec<u8>, PluginError> {
        let outcome = self.invoke(session, op, export, Vec::new()).await?;
        session.settle(op, outcome)
    }
}

/// The start of what a plugin answered, for an error message.
pub(super) fn quote(output: &[u8]) -> String {
    let text = String::from_utf8_lossy(output);
    let mut quote: String = text.chars().take(QUOTE).collect();
    if text.chars().count() > QUOTE {
        quote.push('…');
    }
    quote
}

/// Says what was wrong with an answer that is not the wire format.
fn malformed(export: &str, payload: Payload, output: &[u8], e: &str) -> String {
    format!(
        "`{export}` answered what is not {{\"ok\": …}} or {{\"error\": …}} {} ({e}); its {} bytes began: {:?}",
        payload.label(),
        output.len(),
        quote(output)
    )
}
