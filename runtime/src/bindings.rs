//! Host bindings for the `ferry:plugin` worlds, generated from `wit/`.
//!
//! The shared types and the host interface are generated once (from `plugin-base`); each
//! kind's world reuses them, so a `Batch` is one type across every kind.

#![allow(missing_docs, clippy::all)]

/// Shared types and the `host` and `smtp` imports.
pub mod base {
    wasmtime::component::bindgen!({
        world: "plugin-base",
        path: "../wit",
        additional_derives: [PartialEq],
        imports: { "ferry:plugin/smtp.send": async },
    });
}

macro_rules! world {
    ($module:ident, $world:literal $(, $($with:tt)*)?) => {
        /// Bindings for one plugin world.
        pub mod $module {
            wasmtime::component::bindgen!({
                world: $world,
                path: "../wit",
                exports: { default: async },
                with: {
                    "ferry:plugin/types": super::base::ferry::plugin::types,
                    "ferry:plugin/host": super::base::ferry::plugin::host,
                    $($($with)*)?
                },
            });
        }
    };
}

world!(validator, "validator-plugin");
world!(transform, "transform-plugin");
world!(model, "model-plugin");
world!(deployer, "deployer-plugin");
world!(alert_sink, "alert-sink-plugin", "ferry:plugin/smtp": super::base::ferry::plugin::smtp,);

pub use base::ferry::plugin::types;
