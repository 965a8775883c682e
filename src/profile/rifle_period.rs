//! The RIFLE period the trainer uses, derived in one place from the two ways to give it.
use super::schema::Profile;

/// The paper's default K: three re-inits spread over the run.
pub const DEFAULT_CYCLES: u32 = 3;

impl Profile {
    /// Epochs between head re-initialisations; `None` when RIFLE is off.
    /// `rifle.period_epochs` wins; otherwise `train.epochs / rifle.cycles` (K = 3 by default).
    pub fn rifle_period_epochs(&self) -> Option<f64> {
        if !self.rifle.enabled {
            return None;
        }
        if let Some(period) = self.rifle.period_epochs {
            return Some(period);
        }
        let cycles = self.rifle.cycles.unwrap_or(DEFAULT_CYCLES).max(1);
        Some(f64::from(self.train.epochs) / f64::from(cycles))
    }
}

#[cfg(test)]
mod tests {
    use crate::profile::parse_profile;
    use std::path::Path;

    fn period(rifle: &str) -> Option<f64> {
        let text = format!(
            "model: {{arch: small_cnn}}\ndata: {{source: synthetic}}\n\
             train: {{epochs: 12, batch_size: 8}}\nrifle:\n{rifle}"
        );
        parse_profile(&text, Path::new("p.yaml"), &[])
            .unwrap()
            .profile
            .rifle_period_epochs()
    }

    #[test]
    fn period_from_either_key() {
        assert_eq!(period("  enabled: true\n"), Some(4.0));
        assert_eq!(period("  cycles: 5\n"), Some(2.4));
        assert_eq!(period("  period_epochs: 2.5\n"), Some(2.5));
        assert_eq!(period("  enabled: false\n  period_epochs: 2\n"), None);
    }
}
