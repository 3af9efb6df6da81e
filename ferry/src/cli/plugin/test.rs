//! `ferry plugin test`: the conformance kit, point by point.

use ferry_kit::conformance::{self, Outcome};
use ferry_runtime::Runtime;

use super::super::SandboxArgs;
use crate::cli::{Exit, exit};

pub async fn run(
    runtime: &Runtime,
    plugin: String,
    sandbox: &SandboxArgs,
    json: bool,
) -> Result<u8, Exit> {
    let p = runtime.resolve(&plugin, &sandbox.load_options()?).await?;
    let report = conformance::run(&p).await;
    let (passed, failed, skipped) = report.tally();
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "ferry plugin test: {} {} ({})",
            report.plugin, report.version, report.kind
        );
        for point in &report.points {
            let (mark, detail) = match &point.outcome {
                Outcome::Passed(d) => ("pass", d),
                Outcome::Failed(d) => ("FAIL", d),
                Outcome::Skipped(d) => ("skip", d),
            };
            println!("  {mark}  {:<15} {detail}", point.check);
            if matches!(point.outcome, Outcome::Failed(_)) {
                println!("        {:<15} (asks: {})", "", point.asks);
            }
        }
        println!("{passed} passed, {failed} failed, {skipped} skipped");
    }
    Ok(if report.passed() {
        exit::OK
    } else {
        exit::NOT_CONFORMING
    })
}
