//! Outgoing HTTP for components (`wasi:http`), let through only to the hosts a plugin's grants
//! name. The edge build, without the `net` feature, compiles `offline.rs` in its place.

use std::sync::Arc;

use wasmtime::component::{Linker, ResourceTable};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

use super::denials::Denials;
use super::grants::Grants;

/// One instance's outgoing HTTP: the `wasi:http` context and the gate its requests pass.
pub struct Net {
    http: WasiHttpCtx,
    hooks: HttpGate,
}

impl Net {
    /// Outgoing HTTP under `grants`, recording refusals in `denials`.
    pub(super) fn new(grants: Arc<Grants>, denials: Denials) -> Self {
        Self {
            http: WasiHttpCtx::new(),
            hooks: HttpGate { grants, denials },
        }
    }
}

impl Net {
    /// The view `wasi:http` takes of a store holding this and `table`.
    pub(super) fn view<'a>(&'a mut self, table: &'a mut ResourceTable) -> WasiHttpCtxView<'a> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table,
            hooks: &mut self.hooks,
        }
    }
}

/// Adds `wasi:http` to the linker of the kinds that may use the network.
pub(super) fn add_to_linker<T: WasiHttpView + 'static>(
    linker: &mut Linker<T>,
) -> wasmtime::Result<()> {
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(linker)
}

/// Lets through only HTTP requests to granted hosts, and records the others.
pub struct HttpGate {
    grants: Arc<Grants>,
    denials: Denials,
}

impl WasiHttpHooks for HttpGate {
    fn send_request(
        &mut self,
        request: http::Request<wasmtime_wasi_http::WasiBody>,
        options: Option<wasmtime_wasi_http::RequestOptions>,
        fut: Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
    ) -> Box<
        dyn Future<
                Output = wasmtime_wasi_http::Result<(
                    http::Response<wasmtime_wasi_http::WasiBody>,
                    Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
                )>,
            > + Send,
    > {
        let _ = fut;
        let host = request.uri().host().unwrap_or("").to_string();
        let port = request.uri().port_u16();
        if !self.grants.allows_http(&host, port) {
            let target = match port {
                Some(p) => format!("{host}:{p}"),
                None => host,
            };
            self.denials.push(format!(
                "HTTP request to {target} (not on the plugin's allow-list)"
            ));
            return Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) });
        }
        Box::new(async move {
            use http_body_util::BodyExt;
            let (res, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
            Ok((
                res.map(BodyExt::boxed_unsync),
                Box::new(io) as Box<dyn Future<Output = _> + Send>,
            ))
        })
    }
}
