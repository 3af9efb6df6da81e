//! Extism plugins run in the same sandbox as components: the Rust example computes what the
//! built-in it mirrors computes, bit for bit, and a hostile Extism plugin is stopped with the
//! same typed errors while a healthy plugin on the same host keeps answering. A module built
//! for WASI preview 1 gets files through the operator's directory grants, and nothing else.

use std::path::Path;

use ferry_core::data::schema_of;
use ferry_kit::conformance::Outcome;
use ferry_runtime::PluginKind;
use ferry_runtime::bindings::types::{Batch, ColumnData};
use ferry_runtime::{
    CacheOutcome, ExtismPayload, Failure, GuestError, LoadError, LoadOptions, Plugin, PluginError,
    Runtime, RuntimeOptions, TransformInstance, ValidatorInstance,
};
use ferry_tests::{assert_healthy, builtin, customers, fit_apply, floats, guests, runtime};

async fn load(path: &str) -> Plugin {
    runtime()
        .load_file(Path::new(path), &LoadOptions::default())
        .await
        .unwrap_or_else(|e| panic!("load {path}: {e}"))
}

/// A float64 column's name, its values' bits and its nulls.
type Bits = (String, Vec<u64>, Option<Vec<bool>>);

fn bits(batch: &Batch) -> Vec<Bits> {
    batch
        .columns
        .iter()
        .map(|c| match &c.data {
            ColumnData::Float64(v) => (
                c.name.clone(),
                v.iter().map(|x| x.to_bits()).collect(),
                c.nulls.clone(),
            ),
            other => panic!("column {} is not float64: {other:?}", c.name),
        })
        .collect()
}

/// Asserts two batches hold the same columns and nulls, and floats at most `max_ulps` apart
/// (0: the same bits), naming the first value further apart. Returns how many values differ.
fn assert_within_ulps(ours: &Batch, theirs: &Batch, max_ulps: u64, what: &str) -> usize {
    let (a, b) = (bits(ours), bits(theirs));
    let names = |x: &[Bits]| -> Vec<String> { x.iter().map(|c| c.0.clone()).collect() };
    assert_eq!(names(&a), names(&b), "{what}: columns");
    let mut differing = 0;
    for ((name, x, xn), (_, y, yn)) in a.iter().zip(&b) {
        assert_eq!(xn, yn, "{what}: nulls of {name}");
        assert_eq!(x.len(), y.len(), "{what}: rows of {name}");
        for row in 0..x.len() {
            let ulps = (x[row] as i64).abs_diff(y[row] as i64);
            differing += usize::from(ulps != 0);
            assert!(
                ulps <= max_ulps,
                "{what}: {name} row {row}: {} ({:#x}) against {} ({:#x}), {ulps} ulps apart",
                f64::from_bits(x[row]),
                x[row],
                f64::from_bits(y[row]),
                y[row]
            );
        }
    }
    differing
}

#[tokio::test]
async fn the_extism_log_transform_is_a_transform_with_its_own_manifest() {
    let p = load(guests::EXTISM_LOG_TRANSFORM).await;
    assert!(p.is_extism());
    assert_eq!(p.kind(), PluginKind::Transform);
    assert_eq!(p.name(), "extism-log-transform");
    assert_eq!(p.manifest().version.to_string(), "0.1.0");
    assert!(p.exports().iter().any(|e| e == "transformer_apply"));
    assert!(
        p.imports()
            .iter()
            .all(|i| i.starts_with("extism:host/env::")),
        "{:?}",
        p.imports()
    );
}

#[tokio::test]
async fn the_extism_log_transform_matches_the_builtin_within_an_ulp() {
    let extism = load(guests::EXTISM_LOG_TRANSFORM).await;
    let native = builtin("log-transform").await;
    let data = customers();
    for config in [
        r#"{"columns":["tenure_months","monthly_charges","total_charges"]}"#,
        r#"{"base":"2","offset":3.5}"#,
        r#"{"base":"10","offset":0.25,"columns":["monthly_charges"]}"#,
    ] {
        let ours = fit_apply(&extism, config, &data, &data).await;
        let theirs = fit_apply(&native, config, &data, &data).await;
        assert!(!ours.columns.is_empty(), "{config}");
        assert_eq!(ours.num_rows, data.num_rows);
        // The arithmetic is the same, but `f64::ln`, `log2` and `log10` are not: on
        // wasm32-unknown-unknown Rust takes them from the `libm` crate, on wasm32-wasip2 from
        // wasi-libc. Both are within 1 ulp of the true value, so the two plugins may differ
        // by 1 ulp in a value; each plugin on its own is deterministic.
        let differing = assert_within_ulps(&ours, &theirs, 1, config);
        let total = ours.num_rows as usize * ours.columns.len();
        assert!(
            differing * 20 < total,
            "{config}: {differing} of {total} differ"
        );
    }
    let schema = schema_of(&data);
    let mut e = TransformInstance::new(&extism).await.unwrap();
    let mut n = TransformInstance::new(&native).await.unwrap();
    let config = r#"{"columns":["tenure_months"]}"#;
    assert_eq!(
        e.output_schema(config, &schema).await.unwrap(),
        n.output_schema(config, &schema).await.unwrap()
    );
}

/// A runtime whose Extism calls are all JSON.
fn json_runtime() -> Runtime {
    Runtime::new(RuntimeOptions {
        cache_dir: Some(ferry_tests::component_cache()),
        extism_payload: Some(ExtismPayload::Json),
        ..Default::default()
    })
    .unwrap()
}

#[tokio::test]
async fn messagepack_calls_compute_what_json_calls_compute_bit_for_bit() {
    // A plugin built with `ferry-extism-pdk` reads both; the host calls it in MessagePack
    // unless told otherwise, and a plugin that reads only JSON (the hostile one) in JSON.
    let packed = load(guests::EXTISM_LOG_TRANSFORM).await;
    assert_eq!(packed.extism_payload(), Some(ExtismPayload::MessagePack));
    let json = json_runtime()
        .load_file(
            Path::new(guests::EXTISM_LOG_TRANSFORM),
            &LoadOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(json.extism_payload(), Some(ExtismPayload::Json));
    assert_eq!(
        load(guests::EXTISM_HOSTILE).await.extism_payload(),
        Some(ExtismPayload::Json)
    );
    assert_eq!(builtin("log-transform").await.extism_payload(), None);

    // Infinities, a NaN under a null, subnormals and the learned state cross both encodings
    // unchanged.
    let mut data = customers();
    let awkward = Batch {
        num_rows: 4,
        columns: vec![ferry_runtime::bindings::types::Column {
            name: "monthly_charges".into(),
            data: ColumnData::Float64(vec![f64::INFINITY, f64::NAN, 1e-310, -0.0]),
            nulls: Some(vec![false, true, false, false]),
        }],
    };
    for config in [
        r#"{"columns":["tenure_months","monthly_charges","total_charges"]}"#,
        r#"{"base":"2","offset":3.5}"#,
    ] {
        let ours = fit_apply(&packed, config, &data, &data).await;
        let theirs = fit_apply(&json, config, &data, &data).await;
        assert_eq!(bits(&ours), bits(&theirs), "{config}");
    }
    let config = r#"{"columns":["monthly_charges"]}"#;
    let ours = fit_apply(&packed, config, &data, &awkward).await;
    let theirs = fit_apply(&json, config, &data, &awkward).await;
    assert_eq!(bits(&ours), bits(&theirs));
    assert_eq!(ours.columns[0].nulls, awkward.columns[0].nulls);
    data.columns.truncate(1);
    let mut p = TransformInstance::new(&packed).await.unwrap();
    let mut j = TransformInstance::new(&json).await.unwrap();
    let bad = r#"{"base":"3"}"#;
    assert_eq!(
        p.new_analyzer(bad, &schema_of(&data))
            .await
            .unwrap_err()
            .to_string(),
        j.new_analyzer(bad, &schema_of(&data))
            .await
            .unwrap_err()
            .to_string()
    );
}

#[tokio::test]
async fn an_answer_that_is_not_messagepack_is_invalid_output() {
    let manifest = r#"{"contract":"0.1.0","payloads":["msgpack"],"name":"garbled","version":"0.1.0","kind":"validator"}"#;
    let answer = [0xc1u8, 0xff, 0x00];
    let more = format!(
        r#"(data (i32.const 4096) "{}")
           (func (export "validate") (result i32)
             (call $say (i32.const 4096) (i32.const {}))
             i32.const 0)"#,
        wat_bytes(&answer),
        answer.len()
    );
    let bytes = wat::parse_str(manifest_module(manifest, &more)).unwrap();
    let p = json_runtime()
        .load("garbled.wasm", &bytes, &LoadOptions::default())
        .await
        .unwrap();
    // It reads MessagePack only, so even a runtime that prefers JSON calls it so.
    assert_eq!(p.extism_payload(), Some(ExtismPayload::MessagePack));
    let mut v = ValidatorInstance::new(&p).await.unwrap();
    let e = v
        .validate("{}", &floats(&[("x", vec![1.0])]))
        .await
        .unwrap_err();
    let Failure::InvalidOutput(m) = &*e.failure else {
        panic!("{e}")
    };
    assert!(
        m.contains("`validate` answered what is not {\"ok\": …} or {\"error\": …} MessagePack")
            && m.contains("its 3 bytes began"),
        "{m}"
    );
    assert!(!v.is_usable(), "the instance is discarded");
    assert_healthy().await;
}

#[tokio::test]
async fn a_manifest_naming_an_unknown_payload_is_refused() {
    let manifest = r#"{"contract":"0.1.0","payloads":["cbor"],"name":"cbor","version":"0.1.0","kind":"validator"}"#;
    let more = r#"(func (export "validate") (result i32) i32.const 0)"#;
    let e = load_wat("cbor.wasm", &manifest_module(manifest, more)).await;
    assert!(
        e.to_string()
            .contains(r#"`payloads` must list one or more of "json" and "msgpack", not ["cbor"]"#),
        "{e}"
    );
}

#[tokio::test]
async fn the_extism_log_transform_reports_errors_as_the_builtin_does() {
    let extism = load(guests::EXTISM_LOG_TRANSFORM).await;
    let native = builtin("log-transform").await;
    let data = floats(&[("x", vec![1.0, -5.0, 2.0])]);
    let schema = schema_of(&data);
    for config in [r#"{"colums":["x"]}"#, r#"{"columns":["y"]}"#] {
        let mut e = TransformInstance::new(&extism).await.unwrap();
        let mut n = TransformInstance::new(&native).await.unwrap();
        let ours = e.new_analyzer(config, &schema).await.unwrap_err();
        let theirs = n.new_analyzer(config, &schema).await.unwrap_err();
        assert_eq!(ours.failure, theirs.failure, "{config}");
        assert_eq!(ours.plugin, "extism-log-transform");
    }
    let mut e = TransformInstance::new(&extism).await.unwrap();
    let state = br#"{"columns":["x"],"offset":1.0,"base":"e"}"#;
    let t = e.new_transformer("{}", state).await.unwrap();
    let err = e.apply(t, &data).await.unwrap_err();
    assert_eq!(
        *err.failure,
        Failure::Guest(GuestError::Input {
            column: Some("x".into()),
            row: Some(1),
            message: "-5 + offset 1 is not positive, so it has no logarithm".into(),
        })
    );
    assert!(
        e.is_usable(),
        "an error the plugin reports leaves the instance usable"
    );
    let bad = e.new_transformer("{}", b"not json").await.unwrap_err();
    assert!(
        bad.to_string()
            .contains("the state is not a valid extism-log-transform state"),
        "{bad}"
    );
}

#[tokio::test]
async fn a_second_load_takes_the_compiled_module_from_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let rt = || {
        Runtime::new(RuntimeOptions {
            cache_dir: Some(dir.path().to_path_buf()),
            ..Default::default()
        })
        .unwrap()
    };
    let path = Path::new(guests::EXTISM_LOG_TRANSFORM);
    let first = rt().load_file(path, &LoadOptions::default()).await.unwrap();
    assert_eq!(first.cache_outcome(), CacheOutcome::Compiled);
    let second = rt().load_file(path, &LoadOptions::default()).await.unwrap();
    assert_eq!(second.cache_outcome(), CacheOutcome::Cached);
    let data = floats(&[("x", vec![0.5, 7.0])]);
    let differing = assert_within_ulps(
        &fit_apply(&second, "{}", &data, &data).await,
        &fit_apply(&first, "{}", &data, &data).await,
        0,
        "cached",
    );
    assert_eq!(differing, 0);
}

/// Applies the hostile Extism transform in `mode`; the instance must be unusable after a
/// misbehaviour.
async fn provoke(mode: &str) -> PluginError {
    let p = load(guests::EXTISM_HOSTILE).await;
    let data = floats(&[("x", vec![1.0, 2.0])]);
    let mut t = TransformInstance::new(&p).await.unwrap();
    let config = format!(r#"{{"mode":"{mode}"}}"#);
    let tr = t.new_transformer(&config, b"{}").await.unwrap();
    let e = t.apply(tr, &data).await.unwrap_err();
    assert_eq!(e.plugin, "extism-hostile", "{e}");
    assert_eq!(e.operation, "transformer.apply", "{e}");
    if e.failure.is_misbehaviour() {
        assert!(
            !t.is_usable(),
            "{mode}: a misbehaving instance is discarded"
        );
        let again = t.apply(tr, &data).await.unwrap_err();
        assert_eq!(*again.failure, Failure::Discarded);
    }
    assert_healthy().await;
    e
}

#[tokio::test]
async fn malformed_json_is_invalid_output() {
    let e = provoke("malformed").await;
    let Failure::InvalidOutput(m) = &*e.failure else {
        panic!("{e}")
    };
    assert!(
        m.contains("`transformer_apply` answered what is not"),
        "{m}"
    );
    assert!(
        m.contains("began: \"{\\\"ok\\\": {\\\"num-rows\\\": 1"),
        "{m}"
    );
}

#[tokio::test]
async fn json_of_the_wrong_shape_is_invalid_output() {
    let e = provoke("wrong-shape").await;
    assert!(
        matches!(&*e.failure, Failure::InvalidOutput(m) if m.contains("rows")),
        "{e}"
    );
}

#[tokio::test]
async fn too_few_rows_break_the_contract() {
    let e = provoke("fewer-rows").await;
    assert!(matches!(&*e.failure, Failure::InvalidOutput(_)), "{e}");
}

#[tokio::test]
async fn an_ungranted_http_request_is_refused_and_named() {
    let e = provoke("http").await;
    let Failure::CapabilityDenied { attempts, .. } = &*e.failure else {
        panic!("{e}")
    };
    assert_eq!(
        attempts,
        &["HTTP request to example.com (not on the plugin's allow-list)".to_string()]
    );
}

#[tokio::test]
async fn an_endless_loop_is_stopped_at_its_deadline() {
    let started = std::time::Instant::now();
    let e = provoke("loop").await;
    assert_eq!(*e.failure, Failure::Timeout { limit_ms: 2000 });
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

#[tokio::test]
async fn growing_linear_memory_stops_at_the_cap() {
    let e = provoke("hog").await;
    assert_eq!(*e.failure, Failure::OutOfMemory { limit_mib: 64 });
}

#[tokio::test]
async fn growing_extism_memory_stops_at_the_cap() {
    let e = provoke("extism-hog").await;
    assert_eq!(*e.failure, Failure::OutOfMemory { limit_mib: 64 });
}

#[tokio::test]
async fn linear_and_extism_memory_share_one_cap() {
    let e = provoke("both").await;
    assert_eq!(*e.failure, Failure::OutOfMemory { limit_mib: 64 });
}

#[tokio::test]
async fn reading_extism_memory_never_allocated_traps() {
    let e = provoke("wild-load").await;
    let Failure::Trap { message } = &*e.failure else {
        panic!("{e}")
    };
    assert!(
        message.contains("8 bytes at offset 1099511627776 lie outside every block"),
        "{message}"
    );
}

#[tokio::test]
async fn a_panic_traps() {
    let e = provoke("panic").await;
    assert!(matches!(&*e.failure, Failure::Trap { .. }), "{e}");
}

#[tokio::test]
async fn an_extism_error_is_the_plugins_internal_error() {
    let e = provoke("extism-error").await;
    assert_eq!(
        *e.failure,
        Failure::Guest(GuestError::Internal(
            "the hostile plugin's own Extism error".into()
        ))
    );
}

async fn load_wat(name: &str, wat: &str) -> LoadError {
    let bytes = wat::parse_str(wat).expect("valid text format");
    runtime()
        .load(name, &bytes, &LoadOptions::default())
        .await
        .expect_err("refused")
}

/// `bytes` as a text-format string: every byte escaped.
fn wat_bytes(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("\\{b:02x}")).collect()
}

/// A module whose `ferry_manifest` answers `manifest`, with `more` (further imports, data,
/// exports and functions) beside it. `(call $say (i32.const AT) (i32.const LEN))` sets the
/// output to `LEN` bytes of linear memory at `AT` (the manifest is at 0).
fn manifest_module(manifest: &str, more: &str) -> String {
    format!(
        r#"(module
            (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
            (import "extism:host/env" "store_u8" (func $store (param i64 i32)))
            (import "extism:host/env" "output_set" (func $out (param i64 i64)))
            {more}
            (memory 1)
            (data (i32.const 0) "{}")
            (func $say (param $at i32) (param $len i32)
              (local $o i64) (local $i i32)
              (local.set $o (call $alloc (i64.extend_i32_u (local.get $len))))
              (block $done (loop $next
                (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
                (call $store (i64.add (local.get $o) (i64.extend_i32_u (local.get $i)))
                             (i32.load8_u (i32.add (local.get $at) (local.get $i))))
                (local.set $i (i32.add (local.get $i) (i32.const 1)))
                (br $next)))
              (call $out (local.get $o) (i64.extend_i32_u (local.get $len))))
            (func (export "ferry_manifest") (result i32)
              (call $say (i32.const 0) (i32.const {len}))
              i32.const 0))"#,
        wat_bytes(manifest.as_bytes()),
        len = manifest.len()
    )
}

/// The four exports of a deployer, each answering nothing.
const DEPLOYER_EXPORTS: &str = r#"
    (func (export "plan") (result i32) i32.const 0)
    (func (export "apply") (result i32) i32.const 0)
    (func (export "status") (result i32) i32.const 0)
    (func (export "rollback") (result i32) i32.const 0)"#;

/// WASI preview 1's `fd_write`, as a module built for `wasm32-wasip1` imports it.
const WASI_IMPORT: &str =
    r#"(import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))"#;

/// A deployer's manifest asking for `/deploy`.
const DEPLOY_DIR_MANIFEST: &str = r#"{"contract":"0.1.0","name":"files","version":"0.1.0","kind":"deployer","capabilities":{"directories":[{"guest-path":"/deploy","writable":true}]}}"#;

#[tokio::test]
async fn a_module_that_imports_anything_but_extism_and_wasi_is_refused_by_name() {
    let e = load_wat(
        "component-wasi.wasm",
        r#"(module
            (import "wasi:cli/environment@0.2.0" "get-environment" (func (param i32)))
            (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
            (func (export "ferry_manifest") (result i32) i32.const 0))"#,
    )
    .await;
    let text = e.to_string();
    assert!(matches!(e, LoadError::Extism { .. }), "{text}");
    assert!(
        text.contains("it imports `wasi:cli/environment@0.2.0::get-environment`;")
            && !text.contains("fd_write"),
        "{text}"
    );
}

#[tokio::test]
async fn a_module_that_asks_for_a_directory_without_wasi_is_refused() {
    let e = load_wat(
        "no-wasi.wasm",
        &manifest_module(DEPLOY_DIR_MANIFEST, DEPLOYER_EXPORTS),
    )
    .await;
    let text = e.to_string();
    assert!(matches!(e, LoadError::Extism { .. }), "{text}");
    assert!(
        text.contains("it asks for the directory /deploy, but it does not import WASI")
            && text.contains("wasm32-wasip1"),
        "{text}"
    );
    // The same module importing WASI preview 1 loads.
    let bytes = wat::parse_str(manifest_module(
        DEPLOY_DIR_MANIFEST,
        &format!("{WASI_IMPORT}{DEPLOYER_EXPORTS}"),
    ))
    .unwrap();
    let p = runtime()
        .load("wasi.wasm", &bytes, &LoadOptions::default())
        .await
        .unwrap();
    assert_eq!(p.kind(), PluginKind::Deployer);
}

#[tokio::test]
async fn a_plugin_that_computes_may_not_ask_for_files_through_wasi_either() {
    let manifest = DEPLOY_DIR_MANIFEST.replace("deployer", "validator");
    let more = format!(r#"{WASI_IMPORT}(func (export "validate") (result i32) i32.const 0)"#);
    let e = load_wat("computes.wasm", &manifest_module(&manifest, &more)).await;
    let text = e.to_string();
    assert!(matches!(e, LoadError::Manifest { .. }), "{text}");
    assert!(
        text.contains("a validator plugin may not ask for directory /deploy"),
        "{text}"
    );
}

#[tokio::test]
async fn a_module_with_an_unknown_host_function_is_refused() {
    let e = load_wat(
        "unknown.wasm",
        r#"(module
            (import "extism:host/env" "launch_missiles" (func))
            (func (export "ferry_manifest") (result i32) i32.const 0))"#,
    )
    .await;
    assert!(e.to_string().contains("launch_missiles"), "{e}");
}

#[tokio::test]
async fn a_manifest_that_is_not_json_is_reported() {
    let e = load_wat(
        "silent.wasm",
        r#"(module (func (export "ferry_manifest") (result i32) i32.const 0))"#,
    )
    .await;
    let text = e.to_string();
    assert!(
        text.contains("`ferry_manifest` did not answer a manifest"),
        "{text}"
    );
}

#[tokio::test]
async fn a_transform_without_its_exports_is_refused_listing_them() {
    let manifest = r#"{"contract":"0.1.0","name":"half","version":"0.1.0","kind":"transform"}"#;
    let wat = manifest_module(
        manifest,
        r#"(func (export "analyzer_new") (result i32) i32.const 0)"#,
    );
    let e = load_wat("half.wasm", &wat).await;
    let text = e.to_string();
    assert!(
        text.contains("lacks the exports `analyzer_update`, `analyzer_finish`, `transformer_new`, `transformer_apply`, `output_schema`"),
        "{text}"
    );
}

#[tokio::test]
async fn an_extism_deployer_with_wasi_plans_applies_and_rolls_back_in_the_kit() {
    // The kit grants `/deploy` as a fresh folder: the plan must write nothing there, apply must
    // make its versions live, and rollback return to the one before, as for the built-in.
    let p = load(guests::EXTISM_DIRECTORY_DEPLOYER).await;
    assert_eq!(p.kind(), PluginKind::Deployer);
    assert_eq!(p.manifest().name, "extism-directory-deployer");
    let report = ferry_kit::conformance::run(&p).await;
    assert!(report.passed(), "{:#?}", report.failures());
    let (_, failed, skipped) = report.tally();
    assert_eq!((failed, skipped), (0, 0), "{report:#?}");
    let builtin = builtin("directory").await;
    let theirs = ferry_kit::conformance::run(&builtin).await;
    let how = |r: &ferry_kit::conformance::Report| {
        r.points
            .iter()
            .map(|p| match &p.outcome {
                Outcome::Passed(_) => format!("{} passed", p.check),
                Outcome::Failed(why) => format!("{} failed: {why}", p.check),
                Outcome::Skipped(_) => format!("{} skipped", p.check),
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(how(&report), how(&theirs));
}

#[tokio::test]
async fn an_extism_alert_sink_delivers_through_granted_http_and_passes_the_kit() {
    // The kit grants the sink its loopback listener, has it deliver there, then has it deliver
    // to a listener answering 503, which it must report as an error.
    let p = load(guests::EXTISM_WEBHOOK).await;
    assert_eq!(p.kind(), PluginKind::AlertSink);
    let report = ferry_kit::conformance::run(&p).await;
    assert!(report.passed(), "{:#?}", report.failures());
    let (passed, failed, skipped) = report.tally();
    assert_eq!((failed, skipped), (0, 0), "{report:#?}");
    assert!(passed >= 5, "{report:#?}");
}

#[tokio::test]
async fn an_extism_alert_sink_without_a_grant_is_refused_by_name() {
    let p = load(guests::EXTISM_WEBHOOK).await;
    let alert = ferry_runtime::bindings::types::Alert {
        severity: ferry_runtime::bindings::types::Severity::Critical,
        title: "drift".into(),
        text: "total_charges drifted".into(),
        labels: vec![],
        source: "test".into(),
        time_ms: 0,
    };
    let mut sink = ferry_runtime::AlertSinkInstance::new(&p).await.unwrap();
    let e = sink
        .deliver(r#"{"url":"http://127.0.0.1:9/hook"}"#, &alert)
        .await
        .unwrap_err();
    let Failure::CapabilityDenied { attempts, .. } = &*e.failure else {
        panic!("{e}")
    };
    assert_eq!(
        attempts,
        &["HTTP request to 127.0.0.1:9 (not on the plugin's allow-list)".to_string()]
    );
}
