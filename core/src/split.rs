//! The seeded train/test split: the same seed and row count always give the same split.

/// SplitMix64, a small, well-mixed generator: the split must not depend on a crate's
/// generator changing between versions.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        // Lemire's multiply-shift; the bias for n far below 2^64 is negligible here.
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }
}

/// Splits `rows` row indices into (train, test), each in file order, with
/// `round(rows * test_fraction)` test rows (at least one of each when there are two rows or
/// more).
pub fn split(rows: usize, test_fraction: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut order: Vec<usize> = (0..rows).collect();
    let mut rng = SplitMix64(seed);
    for i in (1..rows).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        order.swap(i, j);
    }
    let mut test_n = (rows as f64 * test_fraction).round() as usize;
    if rows >= 2 {
        test_n = test_n.clamp(1, rows - 1);
    }
    let mut test: Vec<usize> = order[..test_n].to_vec();
    let mut train: Vec<usize> = order[test_n..].to_vec();
    test.sort_unstable();
    train.sort_unstable();
    (train, test)
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn same_seed_same_split_and_sizes_add_up() {
        let (a, b) = split(1000, 0.2, 7);
        assert_eq!((a.len(), b.len()), (800, 200));
        assert_eq!(split(1000, 0.2, 7), (a.clone(), b));
        assert_ne!(split(1000, 0.2, 8).0, a);
        assert_eq!(split(2, 0.01, 1).1.len(), 1);
    }
}
