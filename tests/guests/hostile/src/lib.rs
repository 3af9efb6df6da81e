//! A validator that misbehaves in the way its configuration names, to show that the host
//! stops and reports each misbehaviour and keeps working. `{"do": "..."}` picks it. A
//! validator computes, so it asks for nothing and is given nothing: no files, no variables,
//! no network, a clock that does not move and random bytes seeded from its digest.
//! `{"do": "ok", "prepare": "loop"}` misbehaves in `prepare` instead, where the host makes the
//! snapshot every later instance starts from.

use ferry_sdk::prelude::*;
use serde::Deserialize;

#[derive(Deserialize)]
struct Config {
    #[serde(rename = "do")]
    action: String,
    #[serde(default)]
    port: u16,
    /// How many times `spin` goes round its loop.
    #[serde(default)]
    iterations: u64,
    /// Misbehave only on batches where this text column holds this value; pass the others.
    #[serde(default)]
    when: Option<When>,
    /// Misbehave in `prepare` (contract 0.1.1), before any batch: `loop`, `alloc`, `panic`,
    /// or `keep-stream` (keep a host stream open past `prepare`).
    #[serde(default)]
    prepare: Option<String>,
}

#[derive(Deserialize)]
struct When {
    column: String,
    equals: String,
}

impl When {
    fn holds(&self, batch: &Batch) -> bool {
        batch
            .get(&self.column)
            .and_then(|c| c.texts().ok())
            .is_some_and(|t| t.contains(&self.equals))
    }
}

/// Deep recursion with small frames: overflows the Wasm stack.
#[allow(unconditional_recursion)]
fn recurse(n: u64) -> u64 {
    std::hint::black_box(recurse(std::hint::black_box(n + 1))) + 1
}

/// Deep recursion with large frames: overflows the stack Rust keeps in linear memory.
#[allow(unconditional_recursion)]
fn recurse_big(n: u64) -> u64 {
    let pad = [n; 256];
    std::hint::black_box(&pad);
    recurse_big(n + 1) + pad[3]
}

#[cfg(target_arch = "wasm32")]
fn connect(port: u16) -> Result<String> {
    use wasip2::sockets::network::{IpSocketAddress, Ipv4SocketAddress};
    use wasip2::sockets::{instance_network, tcp_create_socket};
    let network = instance_network::instance_network();
    let socket =
        tcp_create_socket::create_tcp_socket(wasip2::sockets::network::IpAddressFamily::Ipv4)
            .map_err(|e| internal_error(format!("create socket: {e:?}")))?;
    let addr = IpSocketAddress::Ipv4(Ipv4SocketAddress {
        port,
        address: (127, 0, 0, 1),
    });
    socket
        .start_connect(&network, addr)
        .map_err(|e| internal_error(format!("connect refused: {e:?}")))?;
    socket.subscribe().block();
    socket
        .finish_connect()
        .map(|_| "connected".to_string())
        .map_err(|e| internal_error(format!("connect failed: {e:?}")))
}

#[cfg(not(target_arch = "wasm32"))]
fn connect(_port: u16) -> Result<String> {
    Err(unsupported("wasm only"))
}

#[cfg(target_arch = "wasm32")]
fn random_u64() -> u64 {
    wasip2::random::random::get_random_u64()
}

#[cfg(not(target_arch = "wasm32"))]
fn random_u64() -> u64 {
    0
}

pub struct Hostile;

impl Plugin for Hostile {
    fn manifest() -> ManifestBuilder {
        ferry_sdk::manifest!("hostile")
            .timeout_ms(500)
            .memory_mib(64)
    }
}

impl Validator for Hostile {
    fn prepare(config: &str) -> Result<()> {
        let config: Config = parse_config(config)?;
        match config.prepare.as_deref() {
            None => Ok(()),
            Some("loop") => loop {
                std::hint::black_box(0u64);
            },
            Some("alloc") => {
                let mut v: Vec<u8> = Vec::new();
                v.resize(1 << 30, 1);
                std::hint::black_box(&v);
                Ok(())
            }
            Some("panic") => panic!("the hostile plugin panics in prepare on purpose"),
            Some("keep-stream") => {
                // A host resource that outlives `prepare`: no snapshot can carry it.
                std::mem::forget(wasip2::cli::stdout::get_stdout());
                Ok(())
            }
            Some(other) => Err(config_error(format!("unknown prepare action {other:?}"))),
        }
    }

    fn validate(config: &str, batch: &Batch) -> Result<Report> {
        let config: Config = parse_config(config)?;
        if config.when.as_ref().is_some_and(|w| !w.holds(batch)) {
            return Ok(ReportBuilder::new(batch.num_rows, 10).finish());
        }
        let said = match config.action.as_str() {
            "loop" => loop {
                std::hint::black_box(batch.num_rows);
            },
            "alloc" => {
                let mut v: Vec<u8> = Vec::new();
                v.resize(1 << 30, 1);
                format!("allocated {}", v.len())
            }
            "stack" => format!("{}", recurse(0)),
            "big-stack" => format!("{}", recurse_big(0)),
            "panic" => panic!("the hostile plugin panics on purpose"),
            "passwd" => match std::fs::read_to_string("/etc/passwd") {
                Ok(text) => format!("READ /etc/passwd: {}", &text[..text.len().min(40)]),
                Err(e) => return Err(internal_error(format!("cannot read /etc/passwd: {e}"))),
            },
            "env" => {
                let seen: Vec<String> = std::env::vars().map(|(k, _)| k).collect();
                if seen.is_empty() {
                    return Err(internal_error("no environment variables are visible"));
                }
                format!("SAW {}", seen.join(","))
            }
            "connect" => connect(config.port)?,
            "write" => {
                let mut errors = Vec::new();
                for path in [
                    "/out/escape.txt",
                    "/tmp/escape.txt",
                    "/escape.txt",
                    "escape.txt",
                ] {
                    match std::fs::write(path, b"escaped") {
                        Ok(()) => panic!("WROTE {path}"),
                        Err(e) => errors.push(format!("{path}: {e}")),
                    }
                }
                return Err(internal_error(errors.join("; ")));
            }
            "clock" => {
                let wall = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos())
                    .unwrap_or(u128::MAX);
                let start = std::time::Instant::now();
                std::hint::black_box((0..100_000u64).sum::<u64>());
                format!("wall {wall} elapsed {}", start.elapsed().as_nanos())
            }
            "random" => format!("random {:016x}", random_u64()),
            "spin" => {
                let mut x = 0u64;
                for i in 0..config.iterations {
                    x = std::hint::black_box(x.wrapping_add(i));
                }
                format!("spun to {x}")
            }
            "ok" => {
                ferry_sdk::log::info("the hostile plugin behaves this time");
                "fine".into()
            }
            "log-flood" => {
                for i in 0..20_000 {
                    ferry_sdk::log::log(
                        ferry_sdk::host::LogLevel::Debug,
                        "flood",
                        &[("i", &i.to_string())],
                    );
                }
                "logged".into()
            }
            other => return Err(config_error(format!("unknown action {other:?}"))),
        };
        let mut report = ReportBuilder::new(batch.num_rows, 10);
        report.add("said", None, None, said);
        Ok(report.finish())
    }
}

ferry_sdk::export_validator!(Hostile);
