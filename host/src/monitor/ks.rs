//! The two-sample Kolmogorov–Smirnov test's two-sided p-value, computed the way SciPy's
//! `ks_2samp(method="auto")` computes it, so that Ferry's scores equal Evidently's: the exact
//! lattice-path probability when neither sample has more than 10,000 values, otherwise the
//! one-sample distribution of the statistic at the effective size `n·m/(n+m)`.

use statrs::function::gamma::ln_gamma;

/// Largest sample size for which the exact probability is computed, as SciPy's `MAX_AUTO_N`.
const MAX_EXACT: u64 = 10_000;

/// The KS statistic of two aligned counts over sorted keys: the largest gap between the two
/// empirical distribution functions.
pub fn statistic(reference: &[u64], current: &[u64], n_reference: u64, n_current: u64) -> f64 {
    let (mut cr, mut cc) = (0u64, 0u64);
    let (mut max_gap, mut min_gap) = (f64::NEG_INFINITY, f64::INFINITY);
    for (r, c) in reference.iter().zip(current) {
        cr += r;
        cc += c;
        let gap = cr as f64 / n_reference as f64 - cc as f64 / n_current as f64;
        max_gap = max_gap.max(gap);
        min_gap = min_gap.min(gap);
    }
    let below = (-min_gap).clamp(0.0, 1.0);
    if below > max_gap { below } else { max_gap }
}

/// The two-sided p-value of statistic `d` for samples of `n1` and `n2` values.
pub fn p_value(d: f64, n1: u64, n2: u64) -> f64 {
    if n1.max(n2) <= MAX_EXACT
        && let Some(p) = exact(d, n1, n2)
    {
        return p.clamp(0.0, 1.0);
    }
    let (m, n) = (n1.max(n2) as f64, n1.min(n2) as f64);
    let en = (m * n / (m + n)).round_ties_even();
    one_sample_sf(en, d).clamp(0.0, 1.0)
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

fn exact(d: f64, n1: u64, n2: u64) -> Option<f64> {
    let g = gcd(n1, n2);
    let lcm = (n1 / g) * n2;
    let h = (d * lcm as f64).round_ties_even() as i64;
    if h == 0 {
        return Some(1.0);
    }
    let p = if n1 == n2 {
        outside_square(n1 as i64, h)
    } else {
        outside_inside(n1 as i64, n2 as i64, g as i64, h)?
    };
    (p.is_finite() && (0.0..=1.0).contains(&p)).then_some(p)
}

/// The share of lattice paths that leave the band `|x − y| < h` for equal sample sizes,
/// summed as a nested product to avoid cancellation.
fn outside_square(n: i64, h: i64) -> f64 {
    let mut p = 0.0;
    let mut k = n / h;
    while k >= 0 {
        let mut p1 = 1.0;
        for j in 0..h {
            p1 = (n - k * h - j) as f64 * p1 / (n + k * h + j + 1) as f64;
        }
        p = p1 * (1.0 - p);
        k -= 1;
    }
    2.0 * p
}

/// The share of lattice paths from (0, 0) to (m, n) that do not stay strictly inside the band
/// `|x/m − y/n| < h/lcm(m, n)`, by the recursion that carries one minus the probability along
/// a sliding window of one column (Viehmann, arXiv:2102.08037).
fn outside_inside(m: i64, n: i64, g: i64, h: i64) -> Option<f64> {
    let (m, n) = if m < n { (n, m) } else { (m, n) };
    let (mg, ng) = ((m / g) as f64, (n / g) as f64);
    let hf = h as f64;
    let mut minj: i64 = 0;
    let mut maxj: i64 = ((hf / mg).ceil() as i64).min(n + 1);
    let mut curlen = maxj - minj;
    let len = (2 * maxj + 2).min(n + 1) as usize;
    let mut a = vec![1.0f64; len];
    for x in a.iter_mut().take(maxj as usize) {
        *x = 0.0;
    }
    for i in 1..=m {
        let (lastminj, lastlen) = (minj, curlen);
        let fi = i as f64;
        minj = ((((ng * fi - hf) / mg).floor() as i64) + 1).max(0).min(n);
        maxj = (((ng * fi + hf) / mg).ceil() as i64).min(n + 1);
        if maxj <= minj {
            return Some(1.0);
        }
        let mut val = if minj == 0 { 0.0 } else { 1.0 };
        for jj in 0..(maxj - minj) {
            let j = (jj + minj) as f64;
            let from = *a.get((jj + minj - lastminj) as usize)?;
            val = (from * fi + val * j) / (fi + j);
            *a.get_mut(jj as usize)? = val;
        }
        curlen = maxj - minj;
        if lastlen > curlen {
            let start = (maxj - minj) as usize;
            let end = (start + (lastlen - curlen) as usize).min(a.len());
            for x in a.iter_mut().take(end).skip(start) {
                *x = 1.0;
            }
        }
    }
    a.get((maxj - minj - 1) as usize).copied()
}

/// The survival function of the one-sample two-sided statistic `D_n` at `x`, following the
/// branches of SciPy's `kstwo.sf` (Simard and L'Ecuyer). Where SciPy switches to the
/// Durbin-matrix or Pomeranz recursions (p-values above about 0.2, never a drift at the
/// default threshold), the Kolmogorov limit with Stephens' size correction is used instead.
fn one_sample_sf(n: f64, x: f64) -> f64 {
    if x >= 1.0 {
        return 0.0;
    }
    if x <= 0.0 {
        return 1.0;
    }
    let t = n * x;
    if t <= 1.0 {
        if t <= 0.5 {
            return 1.0;
        }
        let log_cdf = ln_gamma(n + 1.0) - n * n.ln() + n * (2.0 * t - 1.0).ln();
        return 1.0 - log_cdf.exp();
    }
    if t >= n - 1.0 {
        return 2.0 * (1.0 - x).powf(n);
    }
    if x >= 0.5 {
        return 2.0 * smirnov(n, x);
    }
    let nx2 = t * x;
    if n <= 140.0 {
        if nx2 > 4.0 {
            return 2.0 * smirnov(n, x);
        }
    } else {
        if nx2 >= 370.0 {
            return 0.0;
        }
        if nx2 >= 2.2 {
            return 2.0 * smirnov(n, x);
        }
    }
    kolmogorov_sf((n.sqrt() + 0.12 + 0.11 / n.sqrt()) * x)
}

/// The one-sided exact tail `P(D⁺_n ≥ x)` (Birnbaum and Tingey), summed in log space.
fn smirnov(n: f64, x: f64) -> f64 {
    let last = (n * (1.0 - x)).floor() as i64;
    let ln_n_fact = ln_gamma(n + 1.0);
    let mut sum = 0.0;
    for j in 0..=last {
        let jf = j as f64;
        let a = 1.0 - x - jf / n;
        let b = x + jf / n;
        if a <= 0.0 {
            continue;
        }
        let ln_term = ln_n_fact - ln_gamma(jf + 1.0) - ln_gamma(n - jf + 1.0)
            + (n - jf) * a.ln()
            + (jf - 1.0) * b.ln();
        sum += ln_term.exp();
    }
    (x * sum).clamp(0.0, 1.0)
}

/// The survival function of Kolmogorov's limiting distribution.
fn kolmogorov_sf(z: f64) -> f64 {
    if z < 0.27 {
        return 1.0;
    }
    let mut sum = 0.0;
    for k in 1..=100 {
        let kf = k as f64;
        let term = (-2.0 * kf * kf * z * z).exp();
        sum += if k % 2 == 1 { term } else { -term };
        if term < 1e-17 {
            break;
        }
    }
    (2.0 * sum).clamp(0.0, 1.0)
}
