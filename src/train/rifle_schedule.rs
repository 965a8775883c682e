//! When RIFLE re-initialises the head.
//!
//! Follows the authors' code: re-init at every period boundary, never in the final
//! stretch (a boundary at or past `epochs - quiet_final_epochs` is skipped), global LR
//! schedule untouched. Positions are in epochs (`2.0` = the end of epoch 2) and are
//! checked after every optimiser step, so fractional periods land on the first step
//! boundary at or past them.

/// Float slack so that `3 * (2.0 / 3.0)` counts as reaching `2.0`.
const EPS: f64 = 1e-9;

/// Serialisable so a resumed run continues the schedule where it was (period changes
/// made while training included).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RifleSchedule {
    total_epochs: f64,
    quiet_final_epochs: f64,
    period: Option<f64>,
    /// Position of the last re-init, or 0 at the start.
    last: f64,
    /// Position of the next re-init, if any remains.
    next: Option<f64>,
    count: u32,
}

impl RifleSchedule {
    /// `period: None` means RIFLE is off.
    pub fn new(total_epochs: f64, period: Option<f64>, quiet_final_epochs: f64) -> Self {
        let mut s = Self {
            total_epochs,
            quiet_final_epochs: quiet_final_epochs.max(0.0),
            period: period.filter(|p| *p > 0.0),
            last: 0.0,
            next: None,
            count: 0,
        };
        s.next = s.allowed(s.period);
        s
    }

    fn limit(&self) -> f64 {
        self.total_epochs - self.quiet_final_epochs
    }

    /// A candidate position survives only if it is before the quiet final stretch.
    fn allowed(&self, candidate: Option<f64>) -> Option<f64> {
        candidate.filter(|&x| x < self.limit() - EPS)
    }

    pub fn period(&self) -> Option<f64> {
        self.period
    }

    pub fn next_reinit(&self) -> Option<f64> {
        self.next
    }

    pub fn last_reinit(&self) -> f64 {
        self.last
    }

    /// How many re-inits have happened.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// Every re-init still to come if the period stays as it is.
    pub fn planned(&self) -> Vec<f64> {
        let mut out = Vec::new();
        let (Some(period), Some(mut x)) = (self.period, self.next) else {
            return out;
        };
        while x < self.limit() - EPS {
            out.push(x);
            x += period;
        }
        out
    }

    /// Called after each step with the position reached. Returns true when the head is
    /// to be re-initialised now. If several boundaries fit in one step (a period shorter
    /// than a step), the head is re-initialised once.
    pub fn due(&mut self, position: f64) -> bool {
        let (Some(period), Some(next)) = (self.period, self.next) else {
            return false;
        };
        if next > position + EPS {
            return false;
        }
        // A boundary that only a step at the very end reaches would leave the run with
        // a random head: the final stretch stays quiet.
        if position >= self.limit() - EPS {
            self.next = None;
            return false;
        }
        self.last = next;
        let mut following = next + period;
        while following <= position + EPS {
            self.last = following;
            following += period;
        }
        self.next = self.allowed(Some(following));
        self.count += 1;
        true
    }

    /// Changes the period while training. The next re-init moves to one new period after
    /// the last one; if that is already behind `position`, it happens at the next step.
    pub fn set_period(&mut self, period: f64, position: f64) {
        self.period = Some(period);
        let candidate = (self.last + period).max(position);
        self.next = self.allowed(Some(candidate));
    }

    /// Fraction of the current period gone by at `position`, in [0, 1]: drives the
    /// optional cosine cycle of the head's learning rate.
    pub fn cycle_fraction(&self, position: f64) -> f64 {
        match self.period {
            Some(p) => ((position - self.last) / p).clamp(0.0, 1.0),
            None => 0.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs a schedule step by step and returns where it fired.
    fn fire_positions(s: &mut RifleSchedule, epochs: u32, steps_per_epoch: u32) -> Vec<f64> {
        let mut fired = Vec::new();
        for e in 0..epochs {
            for k in 1..=steps_per_epoch {
                let pos = e as f64 + k as f64 / steps_per_epoch as f64;
                if s.due(pos) {
                    fired.push(pos);
                }
            }
        }
        fired
    }

    #[test]
    fn integral_period_skips_the_end() {
        let mut s = RifleSchedule::new(6.0, Some(2.0), 0.0);
        assert_eq!(s.planned(), vec![2.0, 4.0]);
        assert_eq!(fire_positions(&mut s, 6, 5), vec![2.0, 4.0]);
        assert_eq!(s.count(), 2);
        assert_eq!(s.next_reinit(), None);
    }

    #[test]
    fn cycles_give_k_minus_one_reinits() {
        // The paper's K = 3 over 40 epochs: period 40/3, re-inits at 13.33 and 26.67.
        let mut s = RifleSchedule::new(40.0, Some(40.0 / 3.0), 0.0);
        let fired = fire_positions(&mut s, 40, 3);
        assert_eq!(fired.len(), 2);
        assert!((fired[0] - 13.333_333).abs() < 0.01, "{fired:?}");
        assert!((fired[1] - 26.666_666).abs() < 0.01, "{fired:?}");
    }

    #[test]
    fn fractional_period_fires_mid_epoch() {
        let mut s = RifleSchedule::new(3.0, Some(0.5), 0.0);
        assert_eq!(s.planned(), vec![0.5, 1.0, 1.5, 2.0, 2.5]);
        let fired = fire_positions(&mut s, 3, 4);
        assert_eq!(fired, vec![0.5, 1.0, 1.5, 2.0, 2.5]);
    }

    #[test]
    fn fractional_period_between_steps_lands_on_next_step() {
        let mut s = RifleSchedule::new(2.0, Some(0.3), 0.0);
        // 4 steps an epoch: positions 0.25, 0.5, 0.75, ... ; 0.3 lands on 0.5, 0.6 on 0.75.
        // 1.8 would land on 2.0, the very end, so it is skipped.
        let fired = fire_positions(&mut s, 2, 4);
        assert_eq!(fired, vec![0.5, 0.75, 1.0, 1.25, 1.5]);
    }

    #[test]
    fn uneven_total_keeps_last_partial_stretch_quiet() {
        let mut s = RifleSchedule::new(7.0, Some(2.0), 0.0);
        assert_eq!(fire_positions(&mut s, 7, 2), vec![2.0, 4.0, 6.0]);
    }

    #[test]
    fn quiet_final_epochs_suppress_late_reinits() {
        let s = RifleSchedule::new(40.0, Some(10.0), 5.0);
        assert_eq!(s.planned(), vec![10.0, 20.0, 30.0]);
        let s = RifleSchedule::new(40.0, Some(10.0), 12.0);
        assert_eq!(s.planned(), vec![10.0, 20.0]);
    }

    #[test]
    fn disabled_never_fires() {
        let mut s = RifleSchedule::new(6.0, None, 0.0);
        assert!(s.planned().is_empty());
        assert!(fire_positions(&mut s, 6, 3).is_empty());
    }

    #[test]
    fn live_change_moves_the_next_reinit() {
        let mut s = RifleSchedule::new(10.0, Some(2.0), 0.0);
        assert!(s.due(2.0));
        // At 2.5 the user asks for a period of 3: next is 2 + 3 = 5, then 8.
        s.set_period(3.0, 2.5);
        assert_eq!(s.next_reinit(), Some(5.0));
        assert_eq!(s.planned(), vec![5.0, 8.0]);
        assert!(!s.due(4.9));
        assert!(s.due(5.0));
        assert_eq!(s.next_reinit(), Some(8.0));
    }

    #[test]
    fn live_change_to_a_boundary_already_passed_fires_at_next_step() {
        let mut s = RifleSchedule::new(10.0, Some(4.0), 0.0);
        s.set_period(1.0, 2.5);
        assert_eq!(s.next_reinit(), Some(2.5));
        assert!(s.due(2.75));
        assert_eq!(s.last_reinit(), 2.5);
        assert_eq!(s.next_reinit(), Some(3.5));
    }

    #[test]
    fn live_change_can_turn_rifle_on_and_respects_the_end() {
        let mut s = RifleSchedule::new(6.0, None, 0.0);
        s.set_period(2.0, 1.0);
        assert_eq!(s.planned(), vec![2.0, 4.0]);
        s.set_period(10.0, 1.0);
        assert_eq!(s.next_reinit(), None);
    }

    #[test]
    fn cycle_fraction_restarts_at_each_reinit() {
        let mut s = RifleSchedule::new(6.0, Some(2.0), 0.0);
        assert!((s.cycle_fraction(1.0) - 0.5).abs() < 1e-12);
        assert!(s.due(2.0));
        assert!((s.cycle_fraction(2.5) - 0.25).abs() < 1e-12);
    }
}
