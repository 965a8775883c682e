//! A run's curves as a TensorBoard log (`runs export --format tensorboard`): every step,
//! epoch, re-init, period change and per-layer update the run recorded, as scalars on
//! TensorBoard's step axis, so runs can be overlaid there or in any tracker that imports
//! event files (W&B, MLflow, Aim...).
use super::export::current_history;
use super::tfevents::{write_events, Scalar};
use crate::protocol::Event;
use std::path::{Path, PathBuf};

/// The scalars of a run's current history (see `current_history`). `start` is the run's
/// start in seconds since the Unix epoch; the events carry no clock, so each point's wall
/// time is the start plus the epoch times recorded up to its position.
pub fn scalars(events: &[Event], start: f64) -> Vec<Scalar> {
    let history = current_history(events);
    let clock = Clock::new(&history, start);
    let mut steps_per_epoch = 0u64;
    let mut out = Vec::new();
    let mut push = |tag: &str, step: u64, epoch: f64, value: f64| {
        out.push(Scalar {
            tag: tag.to_string(),
            step,
            wall_time: clock.at(epoch),
            value: value as f32,
        })
    };
    for e in history {
        match e {
            Event::Started {
                steps_per_epoch: s,
                period_epochs,
                ..
            } => {
                steps_per_epoch = *s;
                if let Some(p) = period_epochs {
                    push("rifle/period_epochs", 0, 0.0, *p);
                }
            }
            Event::RunResumed {
                epochs,
                total_steps,
                ..
            } if *epochs > 0 => steps_per_epoch = total_steps / u64::from(*epochs),
            Event::Step(m) => {
                push("train/loss", m.step, m.epoch, m.loss);
                push("train/lr", m.step, m.epoch, m.lr);
                push("train/images_per_sec", m.step, m.epoch, m.images_per_sec);
            }
            Event::Epoch(m) => {
                let at = f64::from(m.epoch);
                let step = u64::from(m.epoch) * steps_per_epoch;
                push("epoch/train_loss", step, at, m.train_loss);
                push("epoch/train_acc", step, at, m.train_acc);
                push("epoch/val_loss", step, at, m.val_loss);
                push("epoch/val_acc", step, at, m.val_acc);
            }
            Event::Reinit {
                epoch,
                step,
                index,
                period_epochs,
                head_change,
            } => {
                push("rifle/reinit", *step, *epoch, f64::from(*index));
                push("rifle/head_change", *step, *epoch, *head_change);
                push("rifle/period_epochs", *step, *epoch, *period_epochs);
            }
            Event::PeriodChanged {
                epoch,
                step,
                period_epochs,
                ..
            } => push("rifle/period_epochs", *step, *epoch, *period_epochs),
            Event::LayerUpdate {
                epoch,
                step,
                layers,
                head,
            } => {
                for l in layers.iter().chain(std::iter::once(head)) {
                    push(
                        &format!("layer_distance/{}", l.name),
                        *step,
                        *epoch,
                        l.rel_distance,
                    );
                    push(
                        &format!("layer_change/{}", l.name),
                        *step,
                        *epoch,
                        l.rel_change,
                    );
                }
            }
            _ => {}
        }
    }
    out
}

/// Writes `logdir/RUN/events.out.tfevents.START.rifle-tui` (replacing an earlier export of
/// the same run), so several runs exported to one `logdir` show side by side.
pub fn export(
    events: &[Event],
    run: &str,
    started_at: &str,
    logdir: &Path,
) -> Result<PathBuf, String> {
    write_log(events, started_at, &logdir.join(run))
}

/// Writes the run's event file into `dir` (made if needed); returns the file.
pub fn write_log(events: &[Event], started_at: &str, dir: &Path) -> Result<PathBuf, String> {
    let start = chrono::DateTime::parse_from_rfc3339(started_at)
        .map(|t| t.timestamp() as f64)
        .unwrap_or(0.0);
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let path = dir.join(format!("events.out.tfevents.{}.rifle-tui", start as i64));
    let mut bytes = Vec::new();
    write_events(&mut bytes, start, &scalars(events, start))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    super::atomic::write_atomically(&path, &bytes)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}

/// Seconds since the start at a position in epochs, from the recorded epoch times; a
/// position inside an epoch takes its share of that epoch's time (or of the last known).
struct Clock {
    start: f64,
    /// `ends[k]`: seconds at the end of epoch k (`ends[0]` = 0).
    ends: Vec<f64>,
}

impl Clock {
    fn new(history: &[&Event], start: f64) -> Self {
        let mut ends = vec![0.0];
        for e in history {
            let Event::Epoch(m) = e else { continue };
            // Epochs count from 1: an epoch 0 in a damaged log adds no time.
            let k = m.epoch as usize;
            if k == 0 {
                continue;
            }
            ends.truncate(k);
            while ends.len() < k {
                let last = *ends.last().unwrap_or(&0.0);
                ends.push(last);
            }
            let before = ends[k - 1];
            ends.push(before + m.seconds.max(0.0));
        }
        Self { start, ends }
    }

    fn at(&self, epoch: f64) -> f64 {
        let done = (epoch.max(0.0).floor() as usize).min(self.ends.len() - 1);
        let epoch_time = match (self.ends.get(done + 1), self.ends.len()) {
            (Some(next), _) => next - self.ends[done],
            (None, n) if n >= 2 => self.ends[n - 1] - self.ends[n - 2],
            _ => 0.0,
        };
        self.start + self.ends[done] + (epoch - done as f64).max(0.0) * epoch_time
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::EpochMetrics;
    use crate::runs::export::tests::resumed_after_epoch_1;

    fn epoch(n: u32, val_acc: f64, seconds: f64) -> Event {
        Event::Epoch(EpochMetrics {
            epoch: n,
            train_loss: 1.0,
            train_acc: 0.5,
            val_loss: 1.0,
            val_acc,
            lr: 0.1,
            seconds,
            best: false,
        })
    }

    #[test]
    fn a_resumed_run_exports_its_current_history_on_one_clock() {
        let events = [
            epoch(1, 0.5, 10.0),
            epoch(2, 0.1, 99.0),
            // Resumed from epoch 1's state: the first epoch 2 is superseded.
            resumed_after_epoch_1(),
            epoch(2, 0.7, 20.0),
            epoch(3, 0.8, 30.0),
        ];
        let val: Vec<(u64, f32, f64)> = scalars(&events, 1000.0)
            .into_iter()
            .filter(|s| s.tag == "epoch/val_acc")
            .map(|s| (s.step, s.value, s.wall_time))
            .collect();
        // Epoch 1 has no steps_per_epoch yet (no `started` in this history): step 0.
        assert_eq!(
            val,
            vec![(0, 0.5, 1010.0), (10, 0.7, 1030.0), (15, 0.8, 1060.0)]
        );
    }

    #[test]
    fn the_clock_interpolates_inside_an_epoch_and_extends_past_the_last() {
        let e = [epoch(1, 0.0, 10.0), epoch(2, 0.0, 20.0)];
        let history: Vec<&Event> = e.iter().collect();
        let c = Clock::new(&history, 100.0);
        assert_eq!(c.at(0.0), 100.0);
        assert_eq!(c.at(0.5), 105.0);
        assert_eq!(c.at(1.5), 120.0);
        assert_eq!(c.at(2.0), 130.0);
        // Past the recorded epochs, at the last epoch's pace.
        assert_eq!(c.at(2.5), 140.0);
        assert_eq!(Clock::new(&[], 7.0).at(3.0), 7.0);
        // A damaged log's epoch 0 is ignored, not a panic.
        let zero = epoch(0, 0.0, 5.0);
        assert_eq!(Clock::new(&[&zero], 1.0).at(1.0), 1.0);
    }
}
