//! Bundles round-trip, are reproducible, and refuse every kind of tampering by name.

#[path = "common/tamper.rs"]
mod tamper;

use ed25519_dalek::SigningKey;
use ferry_bundle::integrity::key_id;
use ferry_bundle::{
    BundleContents, BundleError, ModelPin, PluginPin, Trust, digest_of, read, write,
};
use serde_json::json;
use tamper::{Entries, entries, repack};

fn contents() -> BundleContents {
    let wasm = b"\0asm component bytes".repeat(100);
    BundleContents {
        deployment: "churn".into(),
        model: ModelPin {
            name: "churn".into(),
            version: "3".into(),
        },
        plugins: vec![PluginPin {
            name: "linear".into(),
            version: "0.1.0".into(),
            digest: digest_of(&wasm),
        }],
        input_schema: json!([{"name": "tenure", "data_type": "float64", "nullable": false}]),
        files: vec![
            ("lineage.json".into(), b"{\"format\":\"x\"}".to_vec()),
            ("plugins/linear-0.1.0.wasm".into(), wasm),
            ("model/model.bin".into(), vec![1, 2, 3, 4]),
        ],
    }
}

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn tampered(f: impl FnOnce(&mut Entries)) -> BundleError {
    let mut e = entries(&write(&contents(), Some(&key(1))).unwrap());
    f(&mut e);
    read(&repack(&e)).expect_err("a tampered bundle is refused")
}

#[test]
fn a_bundle_round_trips_and_is_reproducible() {
    let c = contents();
    let bytes = write(&c, Some(&key(1))).unwrap();
    assert_eq!(
        bytes,
        write(&c, Some(&key(1))).unwrap(),
        "same input, same bytes"
    );
    let b = read(&bytes).unwrap();
    assert_eq!(b.manifest.deployment, "churn");
    assert_eq!(b.manifest.files.len(), 3);
    assert_eq!(b.file("model/model.bin"), Some(&[1u8, 2, 3, 4][..]));
    assert_eq!(
        b.by_digest(&c.plugins[0].digest).map(<[u8]>::len),
        Some(c.files[1].1.len())
    );
    assert_eq!(
        b.signature.as_ref().unwrap().key,
        key_id(&key(1).verifying_key())
    );
    let unsigned = read(&write(&c, None).unwrap()).unwrap();
    assert!(unsigned.signature.is_none());
    assert_eq!(unsigned.manifest, b.manifest);
}

#[test]
fn the_trust_policy_decides_whose_bundles_serve() {
    let signed = read(&write(&contents(), Some(&key(1))).unwrap()).unwrap();
    let unsigned = read(&write(&contents(), None).unwrap()).unwrap();
    let publisher = Trust {
        keys: vec![key_id(&key(1).verifying_key())],
        allow_unsigned: false,
    };
    signed.check_trust(&publisher).unwrap();
    let other = Trust {
        keys: vec![key_id(&key(2).verifying_key())],
        allow_unsigned: false,
    };
    let e = signed.check_trust(&other).unwrap_err().to_string();
    assert!(e.contains("not among the trusted keys"), "{e}");
    let e = unsigned.check_trust(&publisher).unwrap_err().to_string();
    assert!(e.contains("unsigned"), "{e}");
    let open = Trust {
        keys: vec![],
        allow_unsigned: true,
    };
    unsigned.check_trust(&open).unwrap();
}

#[test]
fn a_changed_component_is_named() {
    let e = tampered(|e| e[3].1[10] ^= 1);
    assert!(
        matches!(&e, BundleError::Changed { path, .. } if path == "plugins/linear-0.1.0.wasm"),
        "{e}"
    );
}

#[test]
fn a_changed_state_or_model_is_named_even_at_the_same_size() {
    let e = tampered(|e| e[4].1 = vec![4, 3, 2, 1]);
    assert!(
        matches!(&e, BundleError::Changed { path, .. } if path == "model/model.bin"),
        "{e}"
    );
    let e = tampered(|e| e[4].1.push(5));
    assert!(e.to_string().contains("model/model.bin"), "{e}");
}

#[test]
fn a_manifest_rewritten_to_match_breaks_the_signature() {
    let e = tampered(|e| {
        e[4].1 = vec![9, 9, 9, 9];
        let mut m: serde_json::Value = serde_json::from_slice(&e[0].1).unwrap();
        m["files"][2]["digest"] = json!(digest_of(&[9, 9, 9, 9]));
        e[0].1 = serde_json::to_vec_pretty(&m).unwrap();
    });
    assert!(matches!(e, BundleError::Signature(_)), "{e}");
}

#[test]
fn a_wrong_signature_is_refused() {
    let forged = entries(&write(&contents(), Some(&key(2))).unwrap());
    let e = tampered(|e| {
        // Key 1's name on key 2's signature.
        let mut sig: serde_json::Value = serde_json::from_slice(&forged[1].1).unwrap();
        sig["key"] = json!(key_id(&key(1).verifying_key()));
        e[1].1 = serde_json::to_vec(&sig).unwrap();
    });
    assert!(e.to_string().contains("does not match"), "{e}");
    let e = tampered(|e| e[1].1 = b"not json".to_vec());
    assert!(matches!(e, BundleError::Signature(_)), "{e}");
}

#[test]
fn missing_extra_and_reordered_files_are_named() {
    let e = tampered(|e| {
        e.remove(2);
    });
    assert!(e.to_string().contains("lineage.json"), "{e}");
    assert!(matches!(e, BundleError::Missing(_)), "{e}");
    let e = tampered(|e| {
        e.pop();
    });
    assert!(
        matches!(&e, BundleError::Missing(p) if p == "model/model.bin"),
        "{e}"
    );
    let e = tampered(|e| e.push(("extra.sh".into(), b"rm -rf /".to_vec())));
    assert!(
        matches!(&e, BundleError::Unlisted(p) if p == "extra.sh"),
        "{e}"
    );
    let e = tampered(|e| e.swap(0, 2));
    assert!(matches!(e, BundleError::Manifest(_)), "{e}");
}

#[test]
fn truncated_and_foreign_files_are_damaged() {
    let bytes = write(&contents(), Some(&key(1))).unwrap();
    for cut in [0, 10, bytes.len() / 2, bytes.len() - 1] {
        let e = read(&bytes[..cut]).expect_err("a truncated bundle is refused");
        assert!(
            matches!(e, BundleError::Damaged(_) | BundleError::Manifest(_)),
            "cut at {cut}: {e}"
        );
    }
    let mut appended = bytes.clone();
    appended.extend_from_slice(b"#!/bin/sh");
    let e = read(&appended).expect_err("bytes after the bundle are refused");
    assert!(matches!(e, BundleError::Unlisted(_)), "{e}");
    let e = read(b"PK\x03\x04 a zip file").unwrap_err();
    assert!(matches!(e, BundleError::Damaged(_)), "{e}");
}

#[test]
fn the_writer_refuses_paths_that_could_escape() {
    for bad in ["../etc/passwd", "/abs", "a//b", "manifest.json", "a b"] {
        let mut c = contents();
        c.files.push((bad.into(), vec![]));
        let e = write(&c, None).expect_err(bad).to_string();
        assert!(e.contains("cannot write the bundle"), "{bad}: {e}");
    }
}
