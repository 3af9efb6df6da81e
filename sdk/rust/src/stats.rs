//! Streaming statistics for analysers.

use serde::{Deserialize, Serialize};

/// A mergeable quantile summary. It keeps every value exactly until it holds `capacity`
/// points; beyond that it merges neighbouring points into weighted centroids, so memory stays
/// bounded for data of any size and quantiles stay within about `1 / capacity` in rank.
/// Results depend only on the values and their order, never on chance.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QuantileSketch {
    capacity: usize,
    /// (value, weight), sorted by value after `compress`.
    points: Vec<(f64, u64)>,
    sorted: bool,
    count: u64,
}

impl Default for QuantileSketch {
    fn default() -> Self {
        Self::new(100_000)
    }
}

impl QuantileSketch {
    /// A sketch holding at most about `capacity` points.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(16),
            points: Vec::new(),
            sorted: true,
            count: 0,
        }
    }

    /// Values seen.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Adds a value (NaN is ignored).
    pub fn add(&mut self, x: f64) {
        if x.is_nan() {
            return;
        }
        self.points.push((x, 1));
        self.sorted = false;
        self.count += 1;
        if self.points.len() >= 2 * self.capacity {
            self.compress();
        }
    }

    fn sort(&mut self) {
        if !self.sorted {
            self.points.sort_by(|a, b| a.0.total_cmp(&b.0));
            // Equal values become one point.
            let mut merged: Vec<(f64, u64)> = Vec::with_capacity(self.points.len());
            for &(v, w) in &self.points {
                match merged.last_mut() {
                    Some(last) if last.0 == v => last.1 += w,
                    _ => merged.push((v, w)),
                }
            }
            self.points = merged;
            self.sorted = true;
        }
    }

    fn compress(&mut self) {
        self.sort();
        if self.points.len() <= self.capacity {
            return;
        }
        let target = (self.count as f64 / self.capacity as f64).ceil() as u64;
        let mut out: Vec<(f64, u64)> = Vec::with_capacity(self.capacity + 1);
        for &(v, w) in &self.points {
            match out.last_mut() {
                Some(last) if last.1 + w <= target => {
                    let total = last.1 + w;
                    last.0 = (last.0 * last.1 as f64 + v * w as f64) / total as f64;
                    last.1 = total;
                }
                _ => out.push((v, w)),
            }
        }
        self.points = out;
    }

    /// The `q`-quantile (0 ≤ q ≤ 1) with linear interpolation between ranks, as numpy's
    /// default; `None` when empty.
    pub fn quantile(&mut self, q: f64) -> Option<f64> {
        self.sort();
        if self.points.is_empty() {
            return None;
        }
        let q = q.clamp(0.0, 1.0);
        let rank = q * (self.count - 1) as f64;
        let lo = rank.floor() as u64;
        let frac = rank - lo as f64;
        let a = self.value_at_rank(lo);
        if frac == 0.0 {
            return Some(a);
        }
        let b = self.value_at_rank(lo + 1);
        Some(a + (b - a) * frac)
    }

    fn value_at_rank(&self, rank: u64) -> f64 {
        let mut seen = 0;
        for &(v, w) in &self.points {
            seen += w;
            if rank < seen {
                return v;
            }
        }
        self.points.last().map(|p| p.0).unwrap_or(f64::NAN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_when_small() {
        let mut s = QuantileSketch::default();
        for x in [5.0, 1.0, 3.0, 2.0, 4.0] {
            s.add(x);
        }
        assert_eq!(s.quantile(0.5), Some(3.0));
        assert_eq!(s.quantile(0.0), Some(1.0));
        assert_eq!(s.quantile(1.0), Some(5.0));
        assert_eq!(s.quantile(0.25), Some(2.0));
    }

    #[test]
    fn bounded_and_close_when_large() {
        let mut s = QuantileSketch::new(1000);
        for i in 0..200_000u64 {
            s.add(((i * 7919) % 200_000) as f64);
        }
        assert!(s.points.len() <= 2 * 1000);
        let median = s.quantile(0.5).unwrap();
        assert!((median - 100_000.0).abs() < 400.0, "{median}");
    }
}
