//! Small pieces of arithmetic the engine and its readers share.

/// `num / den`, or 0 when the denominator is 0 (a layer initialised to zeros).
pub fn relative(num: f64, den: f64) -> f64 {
    if den > 0.0 {
        num / den
    } else {
        0.0
    }
}

/// Throughput over a span of wall time.
pub fn per_second(count: u64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        count as f64 / seconds
    } else {
        0.0
    }
}

/// Position in epochs after `step_in_epoch` of `steps_per_epoch` steps of `epoch` (from 1).
pub fn position(epoch: u32, step_in_epoch: u64, steps_per_epoch: u64) -> f64 {
    (epoch - 1) as f64 + step_in_epoch as f64 / steps_per_epoch.max(1) as f64
}

/// Exponential moving average with bias correction, as TensorBoard's smoothing slider.
pub fn smooth(values: &[f64], weight: f64) -> Vec<f64> {
    let mut out = Vec::with_capacity(values.len());
    let mut acc = 0.0;
    for (i, v) in values.iter().enumerate() {
        acc = acc * weight + (1.0 - weight) * v;
        out.push(acc / (1.0 - weight.powi(i as i32 + 1)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_guards_zero() {
        assert_eq!(relative(1.0, 4.0), 0.25);
        assert_eq!(relative(1.0, 0.0), 0.0);
        assert_eq!(per_second(100, 0.5), 200.0);
        assert_eq!(per_second(100, 0.0), 0.0);
    }

    #[test]
    fn positions() {
        assert_eq!(position(1, 5, 10), 0.5);
        assert_eq!(position(2, 10, 10), 2.0);
        assert_eq!(position(3, 0, 10), 2.0);
    }

    #[test]
    fn smoothing_is_bias_corrected() {
        let s = smooth(&[1.0, 1.0, 1.0], 0.9);
        assert!(s.iter().all(|v| (v - 1.0).abs() < 1e-12));
        let s = smooth(&[0.0, 10.0], 0.5);
        // acc: 0, then 5; corrected: 0/(0.5) = 0, 5/(0.75) = 6.67
        assert!((s[1] - 20.0 / 3.0).abs() < 1e-9);
        assert_eq!(smooth(&[], 0.6), Vec::<f64>::new());
    }
}
