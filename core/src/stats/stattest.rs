//! The drift tests, each computed from two aligned samples exactly as Evidently (0.7) and
//! SciPy compute it from the raw values, and Evidently's default choice between them.

use serde::{Deserialize, Serialize};
use statrs::function::erf::erfc;
use statrs::function::gamma::checked_gamma_ur;

use super::ks;
use super::sample::{Aligned, ColumnKind};

/// A drift test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Two-sample Kolmogorov–Smirnov p-value (numerical).
    Ks,
    /// Pearson's chi-square p-value against the reference's proportions.
    Chisquare,
    /// Two-proportion Z-test p-value (two values).
    Z,
    /// Wasserstein distance divided by the reference's standard deviation (numerical).
    Wasserstein,
    /// Jensen–Shannon distance over Sturges bins or categories.
    Jensenshannon,
    /// Population stability index over Sturges bins or categories.
    Psi,
    /// Kullback–Leibler divergence of the reference from the current data.
    KlDiv,
}

impl Method {
    /// Every method, for messages.
    pub const ALL: [Method; 7] = [
        Method::Ks,
        Method::Chisquare,
        Method::Z,
        Method::Wasserstein,
        Method::Jensenshannon,
        Method::Psi,
        Method::KlDiv,
    ];

    /// Its name, as Evidently names it.
    pub fn name(self) -> &'static str {
        match self {
            Method::Ks => "ks",
            Method::Chisquare => "chisquare",
            Method::Z => "z",
            Method::Wasserstein => "wasserstein",
            Method::Jensenshannon => "jensenshannon",
            Method::Psi => "psi",
            Method::KlDiv => "kl_div",
        }
    }

    /// Parses a name.
    pub fn parse(name: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|m| m.name() == name)
            .ok_or_else(|| {
                format!(
                    "unknown drift method {name:?}; the methods are {}",
                    Self::ALL.map(Method::name).join(", ")
                )
            })
    }

    /// Evidently's default threshold.
    pub fn default_threshold(self) -> f64 {
        match self {
            Method::Ks | Method::Chisquare | Method::Z => 0.05,
            _ => 0.1,
        }
    }

    /// Whether the score is a p-value (drift below the threshold) rather than a distance
    /// (drift at or above it).
    pub fn is_p_value(self) -> bool {
        matches!(self, Method::Ks | Method::Chisquare | Method::Z)
    }

    /// Whether a score drifts at `threshold`, with Evidently's comparison for each test.
    pub fn drifted(self, score: f64, threshold: f64) -> bool {
        match self {
            Method::Ks => score <= threshold,
            Method::Chisquare | Method::Z => score < threshold,
            _ => score >= threshold,
        }
    }

    /// Evidently's default test for a column of `kind` whose reference has
    /// `reference_rows` present values and which has `distinct` values over both samples.
    pub fn default_for(kind: ColumnKind, reference_rows: u64, distinct: usize) -> Self {
        let small = reference_rows <= 1000;
        match (kind, small) {
            (ColumnKind::Numerical, true) if distinct > 5 => Method::Ks,
            (_, true) if distinct > 2 => Method::Chisquare,
            (_, true) => Method::Z,
            (ColumnKind::Numerical, false) if distinct > 5 => Method::Wasserstein,
            (_, false) => Method::Jensenshannon,
        }
    }

    /// Computes the score. `integer` says both columns hold integers (it changes NumPy's
    /// Sturges bins as it does Evidently's).
    pub fn score(self, data: &Aligned, integer: bool) -> Result<f64, String> {
        if data.n_reference == 0 || data.n_current == 0 {
            return Err("no values to compare (every value is missing)".into());
        }
        let numbers = || {
            data.values.as_deref().ok_or_else(|| {
                format!(
                    "{} compares numbers; the column is categorical",
                    self.name()
                )
            })
        };
        Ok(match self {
            Method::Ks => {
                numbers()?;
                let d = ks::statistic(
                    &data.reference,
                    &data.current,
                    data.n_reference,
                    data.n_current,
                );
                ks::p_value(d, data.n_reference, data.n_current)
            }
            Method::Wasserstein => wasserstein_normed(numbers()?, data),
            Method::Chisquare => chisquare(data),
            Method::Z => z_test(data),
            Method::Jensenshannon => {
                let (p, q) = binned(data, integer, false);
                jensenshannon(&p, &q)
            }
            Method::Psi => {
                let (p, q) = binned(data, integer, true);
                p.iter().zip(&q).map(|(r, c)| (r - c) * (r / c).ln()).sum()
            }
            Method::KlDiv => {
                let (p, q) = binned(data, integer, true);
                let (sp, sq): (f64, f64) = (p.iter().sum(), q.iter().sum());
                p.iter()
                    .zip(&q)
                    .map(|(r, c)| rel_entr(r / sp, c / sq))
                    .sum()
            }
        })
    }
}

fn chisquare(data: &Aligned) -> f64 {
    let k_norm = data.n_current as f64 / data.n_reference as f64;
    let stat: f64 = data
        .reference
        .iter()
        .zip(&data.current)
        .map(|(&r, &c)| {
            let expected = r as f64 * k_norm;
            let d = c as f64 - expected;
            d * d / expected
        })
        .sum();
    let dof = data.len() as f64 - 1.0;
    if stat.is_infinite() {
        return 0.0;
    }
    checked_gamma_ur(dof / 2.0, stat / 2.0).unwrap_or(1.0)
}

fn z_test(data: &Aligned) -> f64 {
    let one_each = data.reference.iter().filter(|&&c| c > 0).count() == 1
        && data.current.iter().filter(|&&c| c > 0).count() == 1;
    if one_each && data.len() == 1 {
        return 1.0;
    }
    let (n1, n2) = (data.n_reference as f64, data.n_current as f64);
    let p1 = (data.n_reference - data.reference[0]) as f64 / n1;
    let p2 = (data.n_current - data.current[0]) as f64 / n2;
    let pooled = (p1 * n1 + p2 * n2) / (n1 + n2);
    let z = (p1 - p2) / (pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2)).sqrt();
    let cdf = 0.5 * erfc(-z.abs() / std::f64::consts::SQRT_2);
    2.0 * (1.0 - cdf)
}

fn wasserstein_normed(values: &[f64], data: &Aligned) -> f64 {
    let (nr, nc) = (data.n_reference as f64, data.n_current as f64);
    let (mut cr, mut cc) = (0u64, 0u64);
    let mut distance = 0.0;
    for i in 0..values.len().saturating_sub(1) {
        cr += data.reference[i];
        cc += data.current[i];
        let gap = (cr as f64 / nr - cc as f64 / nc).abs();
        distance += gap * (values[i + 1] - values[i]);
    }
    let mean = values
        .iter()
        .zip(&data.reference)
        .map(|(v, &c)| v * c as f64)
        .sum::<f64>()
        / nr;
    let var = values
        .iter()
        .zip(&data.reference)
        .map(|(v, &c)| (v - mean) * (v - mean) * c as f64)
        .sum::<f64>()
        / nr;
    distance / var.sqrt().max(0.001)
}

fn rel_entr(x: f64, y: f64) -> f64 {
    if x > 0.0 && y > 0.0 {
        x * (x / y).ln()
    } else if x == 0.0 && y >= 0.0 {
        0.0
    } else {
        f64::INFINITY
    }
}

fn jensenshannon(p: &[f64], q: &[f64]) -> f64 {
    let (sp, sq): (f64, f64) = (p.iter().sum(), q.iter().sum());
    let (mut left, mut right) = (0.0, 0.0);
    for (a, b) in p.iter().zip(q) {
        let (a, b) = (a / sp, b / sq);
        let m = (a + b) / 2.0;
        left += rel_entr(a, m);
        right += rel_entr(b, m);
    }
    ((left + right) / 2.0).sqrt()
}

/// The shares of each sample per bin, as Evidently's `get_binned_data`: Sturges bins over
/// both samples for a numerical column with more than 20 distinct reference values, the
/// distinct values otherwise; zero shares replaced when `fill_zeroes` is set.
pub fn binned(data: &Aligned, integer: bool, fill_zeroes: bool) -> (Vec<f64>, Vec<f64>) {
    let (nr, nc) = (data.n_reference as f64, data.n_current as f64);
    let (mut p, mut q) = match &data.values {
        Some(values) if data.reference_distinct() > 20 => {
            let edges = sturges_edges(values, data.n_reference + data.n_current, integer);
            (
                histogram(values, &data.reference, &edges, nr),
                histogram(values, &data.current, &edges, nc),
            )
        }
        _ => (
            data.reference.iter().map(|&c| c as f64 / nr).collect(),
            data.current.iter().map(|&c| c as f64 / nc).collect(),
        ),
    };
    if fill_zeroes {
        fill(&mut p);
        fill(&mut q);
    }
    (p, q)
}

fn fill(shares: &mut [f64]) {
    let smallest = shares
        .iter()
        .copied()
        .filter(|&s| s != 0.0)
        .fold(f64::INFINITY, f64::min);
    let replacement = if smallest <= 0.0001 {
        smallest / 1e6
    } else {
        0.0001
    };
    for s in shares.iter_mut().filter(|s| **s == 0.0) {
        *s = replacement;
    }
}

/// NumPy's `histogram_bin_edges(values, bins="sturges")` over `n` values with these distinct
/// values: equal-width bins between the smallest and largest.
pub fn sturges_edges(values: &[f64], n: u64, integer: bool) -> Vec<f64> {
    let (mut first, mut last) = (values[0], values[values.len() - 1]);
    let bins = if n == 0 {
        1
    } else {
        let mut width = (last - first) / ((n as f64).log2() + 1.0);
        if integer && width < 1.0 && width != 0.0 {
            width = 1.0;
        }
        if width == 0.0 {
            1
        } else {
            ((last - first) / width).ceil() as usize
        }
    };
    if first == last {
        first -= 0.5;
        last += 0.5;
    }
    let step = (last - first) / bins as f64;
    let mut edges: Vec<f64> = (0..=bins).map(|i| i as f64 * step + first).collect();
    edges[bins] = last;
    edges
}

/// The share of a sample in each bin: `[e_i, e_i+1)`, the last bin closed.
fn histogram(values: &[f64], counts: &[u64], edges: &[f64], n: f64) -> Vec<f64> {
    let bins = edges.len() - 1;
    let mut out = vec![0u64; bins];
    let mut bin = 0;
    for (&v, &c) in values.iter().zip(counts) {
        if v < edges[0] || v > edges[bins] {
            continue;
        }
        while bin + 1 < bins && v >= edges[bin + 1] {
            bin += 1;
        }
        out[bin] += c;
    }
    out.into_iter().map(|c| c as f64 / n).collect()
}
