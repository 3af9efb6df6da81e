//! Predict bodies, parsed: a JSON tree (`serde_json::Value`, what predict parsed into before
//! typing its rows) against `RequestRows` (the rows parsed straight into raw columns), on the
//! churn schema at 1, 100 and 10,000 rows. Reports parse time and the heap each holds at its
//! peak (a counting allocator), in the same run; typing the rows into a batch is shared and
//! reported once.
//!
//! Run with `cargo bench -p ferry-server --bench body`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ferry_core::data::RequestRows;
use ferry_runtime::bindings::types::{DataType, Field};
use serde_json::{Value, json};

struct Counting;

static NOW: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = NOW.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(now, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        NOW.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn schema() -> Vec<Field> {
    let field = |name: &str, data_type| Field {
        name: name.into(),
        data_type,
        nullable: false,
    };
    vec![
        field("customer_id", DataType::Text),
        field("tenure_months", DataType::Int64),
        field("monthly_charges", DataType::Float64),
        field("total_charges", DataType::Float64),
        field("contract", DataType::Text),
        field("support_calls", DataType::Int64),
        field("paperless_billing", DataType::Boolean),
    ]
}

fn body(rows: usize) -> Vec<u8> {
    let rows: Vec<Value> = (0..rows)
        .map(|i| {
            let contract = ["month-to-month", "one-year", "two-year"][i % 3];
            json!({
                "customer_id": format!("C{i:05}"), "tenure_months": 1 + i % 72,
                "monthly_charges": 20.0 + (i % 100) as f64 * 0.85, "total_charges": 47.14 * (i % 50) as f64,
                "contract": contract,
                "support_calls": i % 7, "paperless_billing": i % 2 == 0
            })
        })
        .collect();
    serde_json::to_vec(&json!({ "rows": rows })).expect("a body")
}

/// The median time of `f` and the most heap it held above what was held before it ran.
fn measure<T>(mut f: impl FnMut() -> T) -> (Duration, usize) {
    let mut times = Vec::with_capacity(10_000);
    let mut held = 0;
    let start = Instant::now();
    while times.len() < 5 || (start.elapsed() < Duration::from_secs(2) && times.len() < 10_000) {
        let before = NOW.load(Ordering::Relaxed);
        PEAK.store(before, Ordering::Relaxed);
        let t = Instant::now();
        let out = black_box(f());
        times.push(t.elapsed());
        held = held.max(PEAK.load(Ordering::Relaxed) - before);
        drop(out);
    }
    times.sort();
    (times[times.len() / 2], held)
}

fn main() {
    let schema = schema();
    println!(
        "| rows | body | JSON tree: parse | RequestRows: parse | tree / rows | JSON tree: heap | RequestRows: heap | tree / rows | typing to a batch |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for n in [1, 100, 10_000] {
        let bytes = body(n);
        let (tree_t, tree_heap) =
            measure(|| serde_json::from_slice::<Value>(&bytes).expect("JSON"));
        let (rows_t, rows_heap) = measure(|| RequestRows::parse(&bytes).expect("rows"));
        let rows = RequestRows::parse(&bytes).expect("rows");
        let tree = serde_json::from_slice::<Value>(&bytes).expect("JSON");
        let from_tree = RequestRows::from_value(&tree).expect("rows");
        assert_eq!(
            rows.to_batch(&schema, &[]).expect("a batch"),
            from_tree.to_batch(&schema, &[]).expect("a batch"),
            "both read the same rows"
        );
        let (type_t, _) = measure(|| rows.to_batch(&schema, &[]).expect("a batch"));
        println!(
            "| {n} | {} B | {:.1} µs | {:.1} µs | {:.2}× | {} B | {} B | {:.2}× | {:.1} µs |",
            bytes.len(),
            tree_t.as_secs_f64() * 1e6,
            rows_t.as_secs_f64() * 1e6,
            tree_t.as_secs_f64() / rows_t.as_secs_f64(),
            tree_heap,
            rows_heap,
            tree_heap as f64 / rows_heap as f64,
            type_t.as_secs_f64() * 1e6,
        );
    }
}
