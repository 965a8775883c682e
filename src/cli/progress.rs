//! Headless progress: a bar on a terminal, plain lines otherwise (logs, CI, schedulers).
use crate::protocol::Event;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;

/// `eprintln!` that never panics: once an SSH session drops (SIGHUP, which `train`
/// ignores), stderr may be a dead terminal, and the run must go on regardless.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

pub struct Progress {
    bar: Option<ProgressBar>,
    reinits: u32,
    last_val: Option<f64>,
    epochs: u32,
}

impl Progress {
    pub fn new() -> Self {
        Self {
            bar: None,
            reinits: 0,
            last_val: None,
            epochs: 0,
        }
    }

    fn line(&self, text: String) {
        match &self.bar {
            Some(bar) => bar.println(text),
            None => say!("{text}"),
        }
    }

    pub fn show(&mut self, event: &Event) {
        match event {
            Event::Started {
                run,
                device,
                classes,
                train_images,
                val_images,
                total_steps,
                params_total,
                conv_layers,
                planned_reinits,
                steps_per_epoch,
                ..
            } => {
                self.epochs = (total_steps / (*steps_per_epoch).max(1)) as u32;
                say!(
                    "run {run} on {device}: {} classes, {train_images} train / {val_images} val \
                     images, {:.2}M parameters, {} conv layers",
                    classes.len(),
                    *params_total as f64 / 1e6,
                    conv_layers.len()
                );
                say!(
                    "RIFLE re-inits planned at epochs: {}",
                    if planned_reinits.is_empty() {
                        "none".to_string()
                    } else {
                        planned_reinits
                            .iter()
                            .map(|e| format!("{e:.2}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                );
                if std::io::stderr().is_terminal() {
                    self.bar = Some(step_bar(*total_steps, 0));
                }
            }
            Event::Step(m) => {
                if let Some(bar) = &self.bar {
                    bar.set_position(m.step);
                    bar.set_message(format!(
                        "epoch {:.2} loss {:.4}{} reinits {}",
                        m.epoch,
                        m.loss,
                        self.last_val
                            .map(|v| format!(" val {:.1}%", 100.0 * v))
                            .unwrap_or_default(),
                        self.reinits
                    ));
                }
            }
            Event::Epoch(m) => {
                self.last_val = Some(m.val_acc);
                self.line(format!(
                    "epoch {:>3}/{}  train loss {:.4} acc {:5.1}%  val loss {:.4} acc {:5.1}%{}  lr {:.2e}  {:.1}s",
                    m.epoch,
                    self.epochs,
                    m.train_loss,
                    100.0 * m.train_acc,
                    m.val_loss,
                    100.0 * m.val_acc,
                    if m.best { " *" } else { "  " },
                    m.lr,
                    m.seconds
                ));
            }
            Event::Reinit { epoch, index, .. } => {
                self.reinits = *index;
                self.line(format!(
                    "RIFLE: head re-initialised at epoch {epoch:.2} (#{index})"
                ));
            }
            Event::PeriodChanged {
                period_epochs,
                next_reinit,
                ..
            } => self.line(format!(
                "RIFLE period set to {period_epochs} epochs; next re-init {}",
                next_reinit.map_or("none".into(), |n| format!("at epoch {n:.2}"))
            )),
            Event::Warning { message } => self.line(format!("warning: {message}")),
            Event::CommandRejected { command, reason } => {
                self.line(format!("command {command} refused: {reason}"))
            }
            Event::RunResumed {
                run,
                from_epoch,
                step,
                epochs,
                total_steps,
                device,
                ..
            } => {
                self.epochs = *epochs;
                say!("run {run} resumed on {device} after epoch {from_epoch} of {epochs}");
                if std::io::stderr().is_terminal() {
                    self.bar = Some(step_bar(*total_steps, *step));
                }
            }
            Event::Paused { epoch, .. } => self.line(format!("paused at epoch {epoch:.2}")),
            Event::Resumed { epoch, .. } => self.line(format!("resumed at epoch {epoch:.2}")),
            Event::Finished {
                best_val_acc,
                final_val_acc,
                seconds,
                ..
            } => {
                self.finish();
                say!(
                    "finished in {seconds:.1}s: best val acc {:.2}%, final {:.2}%",
                    100.0 * best_val_acc,
                    100.0 * final_val_acc
                );
            }
            Event::Stopped { reason, epochs, .. } => {
                self.finish();
                say!("stopped after {epochs} epochs: {reason}");
            }
            Event::Failed { reason, .. } => {
                self.finish();
                say!("error: run failed: {reason}");
            }
            Event::LayerUpdate { .. } | Event::Checkpoint { .. } => {}
        }
    }

    fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

/// The step bar of a run of `total` steps, starting at `position`.
fn step_bar(total: u64, position: u64) -> ProgressBar {
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(
            "{bar:30.cyan/blue} {pos}/{len} steps {per_sec:>9} eta {eta:>4} {msg}",
        )
        .expect("static template"),
    );
    bar.set_position(position);
    bar
}
