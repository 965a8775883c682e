//! The Monitor's state, folded from engine events: pure data, no terminal, so every figure
//! on screen is unit-testable. Each event costs O(1) amortised; histories are bounded.
use super::series::Series;
use crate::profile::Profile;
use crate::protocol::{Event, LayerInfo};
use std::collections::{HashMap, VecDeque};

/// Points kept per chart series (downsampled past this).
const SERIES_CAP: usize = 2000;
/// Update magnitudes kept per layer for its sparkline.
const LAYER_HISTORY: usize = 240;
const LOG_CAP: usize = 500;
/// Smoothing of the train loss: weight of the newest point.
const EMA_ALPHA: f64 = 0.1;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunPhase {
    Waiting,
    Running,
    Paused,
    Finished,
    Stopped,
    Failed,
}

impl RunPhase {
    pub fn label(self) -> &'static str {
        match self {
            RunPhase::Waiting => "starting (loading data and model)",
            RunPhase::Running => "running",
            RunPhase::Paused => "paused",
            RunPhase::Finished => "finished",
            RunPhase::Stopped => "stopped",
            RunPhase::Failed => "failed",
        }
    }
    pub fn is_over(self) -> bool {
        matches!(
            self,
            RunPhase::Finished | RunPhase::Stopped | RunPhase::Failed
        )
    }
}

#[derive(Debug, Clone)]
pub struct LayerRow {
    pub info: LayerInfo,
    pub changes: VecDeque<f64>,
    pub distance: Option<f64>,
}

impl LayerRow {
    fn new(info: LayerInfo) -> Self {
        Self {
            info,
            changes: VecDeque::new(),
            distance: None,
        }
    }
    fn push(&mut self, change: f64, distance: f64) {
        if self.changes.len() == LAYER_HISTORY {
            self.changes.pop_front();
        }
        self.changes.push_back(change);
        self.distance = Some(distance);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogKind {
    Info,
    Reinit,
    Warning,
    Error,
}

#[derive(Debug, Clone)]
pub struct LogLine {
    pub kind: LogKind,
    pub text: String,
}

#[derive(Debug, Clone)]
pub struct MonitorState {
    /// True for a run this process trains; false for a replay from disk.
    pub live: bool,
    pub run: String,
    pub device: String,
    pub phase: RunPhase,
    pub profile: Option<Profile>,
    pub profile_yaml: String,
    pub steps_per_epoch: u64,
    pub total_steps: u64,
    pub epochs_total: f64,
    pub batch_size: u64,
    pub step: u64,
    pub epoch_pos: f64,
    pub images_per_sec: f64,
    pub lr: f64,
    pub loss_raw: Series,
    pub loss_ema: Series,
    ema: Option<f64>,
    pub train_acc: Series,
    pub val_acc: Series,
    pub val_loss: Series,
    pub best_val_acc: Option<f64>,
    pub last_val_acc: Option<f64>,
    pub epochs_done: u32,
    /// Re-inits done: (position, index).
    pub reinits: Vec<(f64, u32)>,
    /// Re-inits still to come, as known now (planned, or projected from a period change).
    pub upcoming: Vec<f64>,
    pub period: Option<f64>,
    quiet_final: f64,
    pub layers: Vec<LayerRow>,
    pub head: Option<LayerRow>,
    index: HashMap<String, usize>,
    pub log: VecDeque<LogLine>,
    pub seconds: Option<f64>,
    /// A command sent and not yet answered, shown until the engine's event arrives.
    pub pending: Option<String>,
}

impl Default for MonitorState {
    fn default() -> Self {
        Self {
            live: false,
            run: String::new(),
            device: String::new(),
            phase: RunPhase::Waiting,
            profile: None,
            profile_yaml: String::new(),
            steps_per_epoch: 0,
            total_steps: 0,
            epochs_total: 0.0,
            batch_size: 0,
            step: 0,
            epoch_pos: 0.0,
            images_per_sec: 0.0,
            lr: 0.0,
            loss_raw: Series::new(SERIES_CAP),
            loss_ema: Series::new(SERIES_CAP),
            ema: None,
            train_acc: Series::new(SERIES_CAP),
            val_acc: Series::new(SERIES_CAP),
            val_loss: Series::new(SERIES_CAP),
            best_val_acc: None,
            last_val_acc: None,
            epochs_done: 0,
            reinits: Vec::new(),
            upcoming: Vec::new(),
            period: None,
            quiet_final: 0.0,
            layers: Vec::new(),
            head: None,
            index: HashMap::new(),
            log: VecDeque::new(),
            seconds: None,
            pending: None,
        }
    }
}

impl MonitorState {
    pub fn new(live: bool) -> Self {
        Self {
            live,
            ..Self::default()
        }
    }

    /// Replays a whole recorded run.
    pub fn replay(events: &[Event]) -> Self {
        let mut s = Self::new(false);
        for e in events {
            s.apply(e);
        }
        s
    }

    pub fn has_run(&self) -> bool {
        !self.run.is_empty()
    }

    /// Whether commands make sense: a live run that has not ended.
    pub fn controllable(&self) -> bool {
        self.live && self.has_run() && !self.phase.is_over()
    }

    pub fn next_reinit(&self) -> Option<f64> {
        self.upcoming.first().copied()
    }

    pub fn progress(&self) -> f64 {
        if self.total_steps == 0 {
            0.0
        } else {
            (self.step as f64 / self.total_steps as f64).clamp(0.0, 1.0)
        }
    }

    /// Seconds left at the current speed.
    pub fn eta_seconds(&self) -> Option<f64> {
        if self.phase.is_over() || self.images_per_sec <= 0.0 || self.batch_size == 0 {
            return None;
        }
        let left = self.total_steps.saturating_sub(self.step) as f64;
        Some(left * self.batch_size as f64 / self.images_per_sec)
    }

    fn log(&mut self, kind: LogKind, text: String) {
        if self.log.len() == LOG_CAP {
            self.log.pop_front();
        }
        let at = if self.has_run() {
            format!("[{:>6.2}] ", self.epoch_pos)
        } else {
            String::new()
        };
        self.log.push_back(LogLine {
            kind,
            text: format!("{at}{text}"),
        });
    }

    /// The future re-inits from `next` on at the current period, as the engine would
    /// schedule them (none in the quiet final stretch).
    fn project(&mut self, next: Option<f64>) {
        self.upcoming.clear();
        let Some(mut at) = next else { return };
        let limit = self.epochs_total - self.quiet_final - 1e-9;
        self.upcoming.push(at);
        if let Some(p) = self.period.filter(|p| *p > 0.0) {
            while self.upcoming.len() < 1000 {
                at += p;
                if at >= limit {
                    break;
                }
                self.upcoming.push(at);
            }
        }
    }

    pub fn apply(&mut self, event: &Event) {
        match event {
            Event::Started {
                run,
                profile_yaml,
                device,
                steps_per_epoch,
                total_steps,
                conv_layers,
                head,
                planned_reinits,
                period_epochs,
                train_images,
                val_images,
                ..
            } => {
                let live = self.live;
                *self = Self::new(live);
                self.run = run.clone();
                self.device = device.clone();
                self.phase = RunPhase::Running;
                self.profile_yaml = profile_yaml.clone();
                self.profile = serde_norway::from_str::<Profile>(profile_yaml).ok();
                if let Some(p) = &self.profile {
                    self.batch_size = p.train.batch_size as u64;
                    self.quiet_final = p.rifle.quiet_final_epochs;
                }
                self.steps_per_epoch = *steps_per_epoch;
                self.total_steps = *total_steps;
                self.epochs_total = if *steps_per_epoch > 0 {
                    *total_steps as f64 / *steps_per_epoch as f64
                } else {
                    0.0
                };
                self.layers = conv_layers.iter().cloned().map(LayerRow::new).collect();
                self.index = conv_layers
                    .iter()
                    .enumerate()
                    .map(|(i, l)| (l.name.clone(), i))
                    .collect();
                self.head = Some(LayerRow::new(head.clone()));
                self.period = *period_epochs;
                self.upcoming = planned_reinits.clone();
                let rifle = match period_epochs {
                    Some(p) => format!("RIFLE every {} epochs", fmt_epochs(*p)),
                    None => "RIFLE off".into(),
                };
                self.log(
                    LogKind::Info,
                    format!("started on {device}: {train_images} train / {val_images} val images, {rifle}"),
                );
            }
            Event::Step(m) => {
                self.step = m.step;
                self.epoch_pos = m.epoch;
                self.images_per_sec = m.images_per_sec;
                self.lr = m.lr;
                self.loss_raw.push(m.epoch, m.loss);
                let ema = match self.ema {
                    Some(prev) => prev + EMA_ALPHA * (m.loss - prev),
                    None => m.loss,
                };
                self.ema = Some(ema);
                self.loss_ema.push(m.epoch, ema);
            }
            Event::Epoch(m) => {
                let x = m.epoch as f64;
                self.epochs_done = m.epoch;
                self.epoch_pos = self.epoch_pos.max(x);
                self.train_acc.push(x, m.train_acc);
                self.val_acc.push(x, m.val_acc);
                self.val_loss.push(x, m.val_loss);
                self.last_val_acc = Some(m.val_acc);
                if self.best_val_acc.is_none_or(|b| m.val_acc > b) {
                    self.best_val_acc = Some(m.val_acc);
                }
            }
            Event::Reinit {
                epoch,
                index,
                period_epochs,
                head_change,
                ..
            } => {
                self.reinits.push((*epoch, *index));
                self.period = Some(*period_epochs);
                self.upcoming.retain(|x| *x > epoch + 1e-9);
                if self.upcoming.is_empty() {
                    let next = epoch + period_epochs;
                    if next < self.epochs_total - self.quiet_final - 1e-9 {
                        self.project(Some(next));
                    }
                }
                self.log(
                    LogKind::Reinit,
                    format!("re-init #{index} (head Δ {head_change:.2})"),
                );
            }
            Event::PeriodChanged {
                old_period_epochs,
                period_epochs,
                next_reinit,
                ..
            } => {
                self.period = Some(*period_epochs);
                self.pending = None;
                self.project(*next_reinit);
                let old = old_period_epochs.map_or("off".into(), fmt_epochs);
                let next = next_reinit.map_or("none".into(), fmt_epochs);
                self.log(
                    LogKind::Reinit,
                    format!(
                        "period {old}→{} ep, next @{next}",
                        fmt_epochs(*period_epochs)
                    ),
                );
            }
            Event::LayerUpdate { layers, head, .. } => {
                for l in layers {
                    let i = match self.index.get(&l.name) {
                        Some(i) => *i,
                        None => {
                            // A layer the Started event did not list: show it anyway.
                            self.layers.push(LayerRow::new(LayerInfo {
                                name: l.name.clone(),
                                stage: "?".into(),
                                params: 0,
                            }));
                            self.index.insert(l.name.clone(), self.layers.len() - 1);
                            self.layers.len() - 1
                        }
                    };
                    self.layers[i].push(l.rel_change, l.rel_distance);
                }
                if let Some(h) = &mut self.head {
                    h.push(head.rel_change, head.rel_distance);
                }
            }
            Event::RunResumed { from_epoch, .. } => {
                self.phase = RunPhase::Running;
                self.pending = None;
                self.log(
                    LogKind::Info,
                    format!("run resumed after epoch {from_epoch}"),
                );
            }
            Event::Paused { .. } => {
                self.phase = RunPhase::Paused;
                self.pending = None;
                self.log(LogKind::Info, "paused".into());
            }
            Event::Resumed { .. } => {
                self.phase = RunPhase::Running;
                self.pending = None;
                self.log(LogKind::Info, "resumed".into());
            }
            Event::Checkpoint { kind, .. } => {
                if self.pending.as_deref() == Some("checkpoint") && kind == "last" {
                    self.pending = None;
                }
                self.log(LogKind::Info, format!("checkpoint {kind}"));
            }
            Event::Warning { message } => self.log(LogKind::Warning, format!("warning: {message}")),
            Event::CommandRejected { command, reason } => {
                self.pending = None;
                self.log(LogKind::Error, format!("rejected {command}: {reason}"));
            }
            Event::Finished {
                best_val_acc,
                final_val_acc,
                seconds,
                ..
            } => {
                self.phase = RunPhase::Finished;
                self.seconds = Some(*seconds);
                self.upcoming.clear();
                self.pending = None;
                self.log(
                    LogKind::Info,
                    format!(
                        "finished in {}: best {:.1}%, final {:.1}%",
                        fmt_duration(*seconds),
                        best_val_acc * 100.0,
                        final_val_acc * 100.0
                    ),
                );
            }
            Event::Stopped {
                reason, seconds, ..
            } => {
                self.phase = RunPhase::Stopped;
                self.seconds = Some(*seconds);
                self.upcoming.clear();
                self.pending = None;
                self.log(LogKind::Warning, format!("stopped: {reason}"));
            }
            Event::Failed { reason, seconds } => {
                self.phase = RunPhase::Failed;
                self.seconds = Some(*seconds);
                self.upcoming.clear();
                self.pending = None;
                self.log(LogKind::Error, format!("failed: {reason}"));
            }
        }
    }

    /// A line in the log for something the UI did (a command sent, a file deleted).
    pub fn note(&mut self, text: String) {
        self.log(LogKind::Info, text);
    }
}

/// `2`, `1.5`, `1.33`: epochs without trailing zeros.
pub fn fmt_epochs(x: f64) -> String {
    let s = format!("{x:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

pub fn fmt_duration(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::StepMetrics;

    fn started() -> Event {
        Event::Started {
            run: "r".into(),
            profile_yaml: String::new(),
            device: "cpu".into(),
            classes: vec![],
            train_images: 1,
            val_images: 1,
            steps_per_epoch: 10,
            total_steps: 100,
            params_total: 1,
            params_trainable: 1,
            conv_layers: vec![],
            head: LayerInfo {
                name: "fc".into(),
                stage: "head".into(),
                params: 1,
            },
            planned_reinits: vec![3.0, 6.0, 9.0],
            period_epochs: Some(3.0),
        }
    }

    #[test]
    fn a_period_change_moves_the_coming_reinits() {
        let mut s = MonitorState::new(true);
        s.apply(&started());
        assert_eq!(s.next_reinit(), Some(3.0));
        s.apply(&Event::Reinit {
            epoch: 3.0,
            step: 30,
            index: 1,
            period_epochs: 3.0,
            head_change: 1.0,
        });
        assert_eq!(s.upcoming, vec![6.0, 9.0]);
        s.apply(&Event::PeriodChanged {
            epoch: 4.0,
            step: 40,
            old_period_epochs: Some(3.0),
            period_epochs: 2.0,
            next_reinit: Some(5.0),
        });
        assert_eq!(s.upcoming, vec![5.0, 7.0, 9.0]);
        assert_eq!(s.period, Some(2.0));
        assert_eq!(s.reinits, vec![(3.0, 1)]);
    }

    #[test]
    fn loss_is_smoothed_and_the_log_bounded() {
        let mut s = MonitorState::new(true);
        s.apply(&started());
        for (i, loss) in [1.0, 0.0, 0.0].iter().enumerate() {
            s.apply(&Event::Step(StepMetrics {
                step: i as u64 + 1,
                epoch: 0.1 * (i + 1) as f64,
                loss: *loss,
                lr: 0.1,
                images_per_sec: 10.0,
            }));
        }
        let ema = s.loss_ema.last().unwrap().1;
        assert!((ema - 0.81).abs() < 1e-9, "{ema}");
        assert_eq!(s.loss_raw.last().unwrap().1, 0.0);
        for _ in 0..2 * LOG_CAP {
            s.apply(&Event::Warning {
                message: "x".into(),
            });
        }
        assert_eq!(s.log.len(), LOG_CAP);
    }
}
