//! `ferry validate`: checks a data file with a validator plugin.

use std::path::PathBuf;

use clap::Args;
use ferry_core::data::CsvReader;
use ferry_core::steps::ValidatorStep;
use ferry_runtime::Runtime;

use super::{Exit, SandboxArgs, exit, read_config};

/// Arguments of `ferry validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// A built-in validator's name or a `.wasm` file.
    #[arg(long)]
    pub plugin: String,
    /// The validator's configuration (JSON, or TOML with a `.toml` extension).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// The data (CSV with a header row).
    pub data: PathBuf,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Violations to print (the counts are always complete).
    #[arg(long, default_value_t = 20)]
    pub show: usize,
    #[command(flatten)]
    pub sandbox: SandboxArgs,
}

pub async fn run(runtime: &Runtime, args: ValidateArgs) -> Result<u8, Exit> {
    let step = ValidatorStep {
        plugin: super::load_plugin(runtime, &args.plugin, &args.sandbox).await?,
        config: read_config(args.config.as_ref())?,
        reads: None,
    };
    let batch = CsvReader::open(&args.data, 8192)?.read_all()?;
    let report = step.validate(&batch).await?;
    let plugin = &step.plugin;
    let total: u64 = report.counts.iter().map(|c| c.count).sum();
    if args.json {
        let value = serde_json::json!({
            "plugin": plugin.name(),
            "version": plugin.manifest().version.to_string(),
            "data": args.data.display().to_string(),
            "rows_checked": report.rows_checked,
            "passed": total == 0,
            "violation_count": total,
            "counts": report.counts.iter().map(|c| serde_json::json!({"rule": c.rule, "column": c.column, "count": c.count})).collect::<Vec<_>>(),
            "violations": report.violations.iter().map(|v| serde_json::json!({"rule": v.rule, "column": v.column, "row": v.row, "message": v.message})).collect::<Vec<_>>(),
            "truncated": report.truncated,
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        let m = plugin.manifest();
        if total == 0 {
            println!(
                "{}: passed {} {} ({} rows checked)",
                args.data.display(),
                m.name,
                m.version,
                report.rows_checked
            );
        } else {
            println!(
                "{}: {total} violations of {} {} ({} rows checked)",
                args.data.display(),
                m.name,
                m.version,
                report.rows_checked
            );
            for c in &report.counts {
                println!(
                    "  {:>8}  {} on {}",
                    c.count,
                    c.rule,
                    c.column.as_deref().unwrap_or("(table)")
                );
            }
            for v in report.violations.iter().take(args.show) {
                let row = v.row.map(|r| format!(" row {r}")).unwrap_or_default();
                println!(
                    "  - {} {}{row}: {}",
                    v.rule,
                    v.column.as_deref().unwrap_or(""),
                    v.message
                );
            }
            if report.violations.len() > args.show || report.truncated {
                println!("  ... (use --json or --show N for more)");
            }
        }
    }
    Ok(if total == 0 {
        exit::OK
    } else {
        exit::INVALID_DATA
    })
}
