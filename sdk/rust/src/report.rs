//! Building a validator's report: complete counts, and at most a set number of examples.

use crate::{Report, Violation, ViolationCount};

/// Collects violations for a [`Report`].
#[derive(Debug)]
pub struct ReportBuilder {
    report: Report,
    max_listed: usize,
}

impl ReportBuilder {
    /// A report over `rows` rows that lists at most `max_listed` violations (counts stay
    /// complete).
    pub fn new(rows: u32, max_listed: usize) -> Self {
        Self {
            report: Report {
                rows_checked: rows,
                violations: Vec::new(),
                counts: Vec::new(),
                truncated: false,
            },
            max_listed,
        }
    }

    /// Records one violation of `rule` on `column`, at `row` where it applies.
    pub fn add(&mut self, rule: &str, column: Option<&str>, row: Option<u32>, message: String) {
        let column = column.map(str::to_string);
        match self
            .report
            .counts
            .iter_mut()
            .find(|c| c.rule == rule && c.column == column)
        {
            Some(c) => c.count += 1,
            None => self.report.counts.push(ViolationCount {
                rule: rule.into(),
                column: column.clone(),
                count: 1,
            }),
        }
        if self.report.violations.len() < self.max_listed {
            self.report.violations.push(Violation {
                rule: rule.into(),
                column,
                row,
                message,
            });
        } else {
            self.report.truncated = true;
        }
    }

    /// The report.
    pub fn finish(self) -> Report {
        self.report
    }
}

impl crate::Alert {
    /// The alert as the JSON object Ferry's sinks send: severity, title, text, labels (as an
    /// object), source and `time_ms`.
    pub fn to_json(&self) -> serde_json::Value {
        let severity = match self.severity {
            crate::Severity::Info => "info",
            crate::Severity::Warning => "warning",
            crate::Severity::Critical => "critical",
        };
        serde_json::json!({
            "severity": severity,
            "title": self.title,
            "text": self.text,
            "labels": self.labels.iter().cloned().collect::<std::collections::BTreeMap<_, _>>(),
            "source": self.source,
            "time_ms": self.time_ms,
        })
    }
}
