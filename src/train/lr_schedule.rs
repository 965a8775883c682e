//! The global learning-rate schedule, as a multiplier of the base rate at a position.
//!
//! RIFLE never restarts it (the authors' choice); `cosine_restarts` is the cyclic
//! baseline the paper compares against.
use crate::profile::{ScheduleKind, ScheduleSection};
use std::f64::consts::PI;

/// Multiplier of the base learning rate at `position` (in epochs) of a `total`-epoch run.
pub fn lr_factor(s: &ScheduleSection, total: f64, position: f64) -> f64 {
    let warmup = if s.warmup_epochs > 0.0 && position < s.warmup_epochs {
        position / s.warmup_epochs
    } else {
        1.0
    };
    // After warm-up, the schedule runs over what is left of the run.
    let t = (position - s.warmup_epochs).max(0.0);
    let span = (total - s.warmup_epochs).max(f64::MIN_POSITIVE);
    let floor = s.min_lr_ratio;
    let shape = match s.kind {
        ScheduleKind::Constant => 1.0,
        ScheduleKind::Step => s.gamma.powf((t / s.step_epochs + 1e-9).floor()),
        ScheduleKind::Cosine => cosine(floor, (t / span).min(1.0)),
        ScheduleKind::CosineRestarts => {
            let (into, length) = cycle_position(t, s.restart_epochs, s.restart_mult);
            cosine(floor, into / length)
        }
    };
    warmup * shape
}

/// Half a cosine from 1 down to `floor` as `fraction` goes from 0 to 1.
pub fn cosine(floor: f64, fraction: f64) -> f64 {
    floor + (1.0 - floor) * 0.5 * (1.0 + (PI * fraction).cos())
}

/// Where `t` falls in SGDR cycles of length `first`, each `mult` times the previous:
/// (time into the current cycle, length of the current cycle).
fn cycle_position(t: f64, first: f64, mult: f64) -> (f64, f64) {
    let mut start = 0.0;
    let mut length = first;
    while t >= start + length - 1e-9 {
        start += length;
        length *= mult;
    }
    (t - start, length)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(kind: ScheduleKind) -> ScheduleSection {
        ScheduleSection {
            kind,
            ..Default::default()
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn constant_and_step() {
        let c = section(ScheduleKind::Constant);
        assert!(close(lr_factor(&c, 10.0, 7.3), 1.0));
        let mut s = section(ScheduleKind::Step);
        s.step_epochs = 3.0;
        s.gamma = 0.1;
        assert!(close(lr_factor(&s, 10.0, 2.9), 1.0));
        assert!(close(lr_factor(&s, 10.0, 3.0), 0.1));
        assert!(close(lr_factor(&s, 10.0, 6.5), 0.01));
    }

    #[test]
    fn cosine_runs_from_one_to_floor() {
        let mut s = section(ScheduleKind::Cosine);
        assert!(close(lr_factor(&s, 40.0, 0.0), 1.0));
        assert!(close(lr_factor(&s, 40.0, 20.0), 0.5));
        assert!(close(lr_factor(&s, 40.0, 40.0), 0.0));
        s.min_lr_ratio = 0.1;
        assert!(close(lr_factor(&s, 40.0, 40.0), 0.1));
    }

    #[test]
    fn warmup_ramps_then_hands_over() {
        let mut s = section(ScheduleKind::Cosine);
        s.warmup_epochs = 2.0;
        assert!(close(lr_factor(&s, 12.0, 1.0), 0.5));
        assert!(close(lr_factor(&s, 12.0, 2.0), 1.0));
        // Cosine over the remaining 10 epochs: half-way at 7.
        assert!(close(lr_factor(&s, 12.0, 7.0), 0.5));
    }

    #[test]
    fn restarts_go_back_to_the_top() {
        let mut s = section(ScheduleKind::CosineRestarts);
        s.restart_epochs = 4.0;
        s.restart_mult = 2.0;
        assert!(close(lr_factor(&s, 20.0, 2.0), 0.5));
        assert!(close(lr_factor(&s, 20.0, 4.0), 1.0));
        // Second cycle lasts 8 epochs: half-way at 8.
        assert!(close(lr_factor(&s, 20.0, 8.0), 0.5));
        assert!(close(lr_factor(&s, 20.0, 12.0), 1.0));
    }
}
