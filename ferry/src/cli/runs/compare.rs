//! `ferry runs compare`: compares runs' parameters and metrics side by side.

use ferry_runtime::Runtime;

use super::metric_text;
use crate::cli::{Exit, RegistryArgs, exit};

/// Runs `ferry runs compare`.
pub async fn run(runtime: &Runtime, ids: Vec<String>, registry: RegistryArgs) -> Result<u8, Exit> {
    let r = registry.store(runtime).await?;
    let mut runs = Vec::new();
    for id in &ids {
        runs.push(r.run(id).await?);
    }
    let mut params: Vec<&String> = runs
        .iter()
        .flat_map(|x| x.params.iter().map(|p| &p.0))
        .collect();
    params.sort();
    params.dedup();
    let mut metrics: Vec<&String> = runs
        .iter()
        .flat_map(|x| x.metrics.iter().map(|m| &m.key))
        .collect();
    metrics.sort();
    metrics.dedup();
    print!("{:<24}", "");
    for x in &runs {
        print!(" {:>16}", &x.info.id[..x.info.id.len().min(12)]);
    }
    println!();
    for p in params {
        print!("{:<24}", format!("param {p}"));
        for x in &runs {
            let v = x
                .params
                .iter()
                .find(|q| &q.0 == p)
                .map(|q| q.1.as_str())
                .unwrap_or("-");
            print!(" {v:>16}");
        }
        println!();
    }
    for m in metrics {
        print!("{:<24}", format!("metric {m}"));
        for x in &runs {
            print!(" {:>16}", metric_text(x, m));
        }
        println!();
    }
    Ok(exit::OK)
}
