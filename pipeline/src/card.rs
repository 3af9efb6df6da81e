//! The model card: a Markdown page generated from a version's lineage and the registry.

use std::fmt::Write;

use ferry_registry::{ModelVersion, RegisteredModel};

use ferry_core::lineage::Lineage;

/// Writes the model card of a version.
pub fn model_card(
    model: &RegisteredModel,
    version: &ModelVersion,
    lineage: Option<&Lineage>,
) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# {} (version {})\n", model.name, version.version);
    let _ = writeln!(s, "## Purpose\n");
    let purpose = [
        model.description.as_str(),
        lineage.map(|l| l.description.as_str()).unwrap_or(""),
    ]
    .into_iter()
    .find(|d| !d.trim().is_empty())
    .unwrap_or("_No description was written._");
    let _ = writeln!(s, "{purpose}\n");
    if !version.description.trim().is_empty() {
        let _ = writeln!(s, "This version: {}\n", version.description.trim());
    }
    let _ = writeln!(s, "- Stage: {}", version.stage);
    if !version.aliases.is_empty() {
        let _ = writeln!(s, "- Aliases: {}", version.aliases.join(", "));
    }
    let _ = writeln!(
        s,
        "- Registered by {} on {}",
        version.user_id,
        utc(version.created_at)
    );
    if let Some(run) = &version.run_id {
        let _ = writeln!(s, "- Run: `{run}`");
    }
    for (k, v) in &version.tags {
        let _ = writeln!(s, "- Tag `{k}`: {v}");
    }
    let Some(l) = lineage else {
        let _ = writeln!(
            s,
            "\n_This version was registered without a Ferry lineage._"
        );
        return s;
    };
    let _ = writeln!(s, "\n## Training data\n");
    match &l.data {
        Some(d) => {
            let _ = writeln!(s, "- File: `{}` ({})", d.path, d.digest);
            let _ = writeln!(
                s,
                "- Rows: {} ({} for training, {} held out; split seed {}, test fraction {})",
                d.rows, d.train_rows, d.test_rows, d.seed, d.test_fraction
            );
        }
        None => {
            let _ = writeln!(s, "_Not recorded._");
        }
    }
    let _ = writeln!(s, "- Label: `{}`", l.label);
    for v in &l.validation {
        let _ = writeln!(
            s,
            "- Validator `{}`: {} rows checked, {} violations",
            v.validator, v.rows_checked, v.violations
        );
    }
    let _ = writeln!(s, "\n## Features\n");
    let _ = writeln!(s, "Inputs a request provides:\n");
    let _ = writeln!(s, "| column | type | nullable |\n|---|---|---|");
    for f in &l.input_schema {
        let _ = writeln!(
            s,
            "| `{}` | {} | {} |",
            f.name,
            f.data_type,
            if f.nullable { "yes" } else { "no" }
        );
    }
    if let Some(m) = &l.model {
        let _ = writeln!(
            s,
            "\nThe model reads: {}",
            m.features
                .iter()
                .map(|f| format!("`{f}`"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let _ = writeln!(
            s,
            "\n- Task: {}\n- Outputs: {}",
            m.task,
            m.outputs.join(", ")
        );
    }
    let _ = writeln!(s, "\n## Metrics (held-out split)\n");
    if l.metrics.is_empty() {
        let _ = writeln!(s, "_None recorded._");
    } else {
        let _ = writeln!(s, "| metric | value |\n|---|---|");
        for (k, v) in &l.metrics {
            let _ = writeln!(s, "| {k} | {v:.6} |");
        }
    }
    let _ = writeln!(s, "\n## Limitations\n");
    let _ = writeln!(
        s,
        "{}\n",
        if l.limitations.trim().is_empty() {
            "_None were written; add `limitations = \"...\"` to the pipeline file._"
        } else {
            l.limitations.trim()
        }
    );
    let _ = writeln!(s, "## Lineage\n");
    let _ = writeln!(
        s,
        "Everything below is pinned by digest; serving refuses anything that does not match.\n"
    );
    let _ = writeln!(
        s,
        "| step | plugin | version | digest | state |\n|---|---|---|---|---|"
    );
    for v in &l.validators {
        let _ = writeln!(
            s,
            "| validator | {} | {} | `{}` | |",
            v.plugin.name, v.plugin.version, v.plugin.digest
        );
    }
    for t in &l.transforms {
        let _ = writeln!(
            s,
            "| transform | {} | {} | `{}` | `{}` |",
            t.plugin.name, t.plugin.version, t.plugin.digest, t.state_digest
        );
    }
    if let Some(m) = &l.model {
        let _ = writeln!(
            s,
            "| model | {} | {} | `{}` | `{}` |",
            m.plugin.name, m.plugin.version, m.plugin.digest, m.artifact_digest
        );
    }
    let _ = writeln!(s, "\nFerry {}.", l.ferry_version);
    s
}

/// A time in ms since the epoch as `YYYY-MM-DD HH:MM:SS UTC`.
pub fn utc(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn utc_dates() {
        assert_eq!(super::utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(super::utc(951_782_400_000), "2000-02-29 00:00:00 UTC");
        assert_eq!(super::utc(1_795_685_353_951), "2026-11-26 09:29:13 UTC");
    }
}
