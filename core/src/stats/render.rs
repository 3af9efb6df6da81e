//! A drift report as a terminal table and as a self-contained HTML page with one histogram
//! per column, reference against current.

use std::fmt::Write;

use super::drift::{ColumnDrift, DriftReport};

/// The report as a table.
pub fn table(report: &DriftReport) -> String {
    let mut out = String::new();
    let width = report
        .columns
        .iter()
        .map(|c| c.column.len())
        .chain(report.skipped.iter().map(|s| s.column.len()))
        .max()
        .unwrap_or(6)
        .max(6);
    let _ = writeln!(
        out,
        "{:<width$}  {:<8}  {:<13}  {:>12}  {:>9}  DRIFTED",
        "COLUMN", "ROLE", "METHOD", "SCORE", "THRESHOLD"
    );
    for c in &report.columns {
        let _ = writeln!(
            out,
            "{:<width$}  {:<8}  {:<13}  {:>12.6}  {:>9}  {}",
            c.column,
            c.role.name(),
            c.method.name(),
            c.score,
            c.threshold,
            if c.drifted { "yes" } else { "no" }
        );
    }
    for s in &report.skipped {
        let _ = writeln!(out, "{:<width$}  skipped: {}", s.column, s.reason);
    }
    let _ = writeln!(
        out,
        "\n{} of {} columns drifted ({:.1} %; the dataset drifts at {:.1} %): {}",
        report.drifted_columns,
        report.columns.len(),
        report.share * 100.0,
        report.drift_share * 100.0,
        if report.dataset_drift {
            "DATASET DRIFT"
        } else {
            "no dataset drift"
        }
    );
    out
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The report as one HTML page with inline SVG histograms and no outside resources.
pub fn html(report: &DriftReport) -> String {
    let mut out = String::new();
    let verdict = if report.dataset_drift {
        "Dataset drift"
    } else {
        "No dataset drift"
    };
    let _ = write!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Drift: {title}</title>\
<style>body{{font:14px system-ui,sans-serif;margin:2em;color:#222}}table{{border-collapse:collapse}}\
td,th{{padding:4px 10px;border-bottom:1px solid #ddd;text-align:left}}.yes{{color:#b00;font-weight:bold}}\
.col{{margin:1.5em 0}}.key span{{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px}}</style></head><body>\
<h1>Drift against {title}</h1><p><b>{verdict}</b>: {d} of {n} columns drifted ({share:.1} %; the dataset drifts at {ds:.1} %). \
{rows} current rows.</p><p class=\"key\"><span style=\"background:#4c78a8\"></span>reference<span style=\"background:#f58518\"></span>current</p>\
<table><tr><th>Column</th><th>Role</th><th>Method</th><th>Score</th><th>Threshold</th><th>Drifted</th></tr>",
        title = escape(&report.reference),
        d = report.drifted_columns,
        n = report.columns.len(),
        share = report.share * 100.0,
        ds = report.drift_share * 100.0,
        rows = report.current_rows,
    );
    for c in &report.columns {
        let _ = write!(
            out,
            "<tr><td><a href=\"#c-{id}\">{name}</a></td><td>{role}</td><td>{method}</td><td>{score:.6}</td><td>{t}</td><td class=\"{cls}\">{d}</td></tr>",
            id = escape(&c.column),
            name = escape(&c.column),
            role = c.role.name(),
            method = c.method.name(),
            score = c.score,
            t = c.threshold,
            cls = if c.drifted { "yes" } else { "no" },
            d = if c.drifted { "yes" } else { "no" },
        );
    }
    out.push_str("</table>");
    for s in &report.skipped {
        let _ = write!(
            out,
            "<p>{}: skipped ({})</p>",
            escape(&s.column),
            escape(&s.reason)
        );
    }
    for c in &report.columns {
        out.push_str(&column_svg(c));
    }
    out.push_str("</body></html>\n");
    out
}

fn column_svg(c: &ColumnDrift) -> String {
    let h = &c.histogram;
    let bins = h.reference.len().max(1);
    let (w, height, pad) = (720.0, 180.0, 30.0);
    let top = h
        .reference
        .iter()
        .chain(&h.current)
        .copied()
        .fold(0.0f64, f64::max)
        .max(1e-12);
    let slot = (w - 2.0 * pad) / bins as f64;
    let mut svg = format!(
        "<div class=\"col\" id=\"c-{id}\"><h3>{name}: {method} {score:.6}{flag}</h3>\
<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{hh}\" role=\"img\" aria-label=\"{name}\">",
        id = escape(&c.column),
        name = escape(&c.column),
        method = c.method.name(),
        score = c.score,
        flag = if c.drifted { " (drifted)" } else { "" },
        hh = height + 2.0 * pad,
    );
    for (i, (r, cu)) in h.reference.iter().zip(&h.current).enumerate() {
        let x = pad + i as f64 * slot;
        for (k, (share, colour)) in [(r, "#4c78a8"), (cu, "#f58518")].into_iter().enumerate() {
            let bh = share / top * height;
            let _ = write!(
                svg,
                "<rect x=\"{:.2}\" y=\"{:.2}\" width=\"{:.2}\" height=\"{:.2}\" fill=\"{colour}\"><title>{:.4}</title></rect>",
                x + k as f64 * slot / 2.0,
                pad + height - bh,
                (slot / 2.0 - 1.0).max(0.5),
                bh,
                share
            );
        }
    }
    let label = |i: usize| -> String {
        match (&h.edges, &h.labels) {
            (Some(e), _) => e.get(i).map(|x| format!("{x:.3}")).unwrap_or_default(),
            (_, Some(l)) => l.get(i).map(|s| escape(s)).unwrap_or_default(),
            _ => String::new(),
        }
    };
    let step = (bins / 8).max(1);
    for i in (0..bins).step_by(step) {
        let _ = write!(
            svg,
            "<text x=\"{:.2}\" y=\"{:.2}\" font-size=\"10\">{}</text>",
            pad + i as f64 * slot,
            pad + height + 14.0,
            label(i)
        );
    }
    svg.push_str("</svg></div>");
    svg
}
