//! The fine-tuning loop itself, run on the engine thread.
use super::engine::{Emitter, RunSpec};
use super::layer_monitor::LayerMonitor;
use super::lr_schedule::{cosine, lr_factor};
use super::metrics::{per_second, position};
use super::optimizer::{Group, Optimizer};
use super::precision;
use super::resume::{epoch_seed, load_model, write_tensors, ResumeState};
use super::rifle_schedule::RifleSchedule;
use crate::data::{load_dataset, Augment, DeviceData};
use crate::model::{self, Network};
use crate::profile::{Precision, Profile, ReinitScheme};
use crate::protocol::{Command, EpochMetrics, Event, StepMetrics};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, TryRecvError};
use std::time::Instant;
use tch::{Device, Kind, Reduction, Tensor};

/// Why the loop ended early.
enum Halt {
    Stop(String),
}

/// Everything a running fine-tuning job holds.
struct Trainer<'a> {
    profile: &'a Profile,
    net: Network,
    data: DeviceData,
    opt: Optimizer,
    rifle: RifleSchedule,
    monitor: LayerMonitor,
    checkpoints: Option<PathBuf>,
    device: Device,
    batch_size: i64,
    steps_per_epoch: u64,
    step: u64,
    epochs_done: u32,
    best_val_acc: f64,
    last_val_acc: f64,
}

fn some_finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

/// Trains `spec`; with `resume`, continues the run from that epoch-end state instead of
/// starting it.
pub fn run(
    spec: &RunSpec,
    out: &mut Emitter,
    commands: &Receiver<Command>,
    resume: Option<&ResumeState>,
) -> Result<(), String> {
    let p = &spec.profile;
    if p.train.threads > 0 {
        tch::set_num_threads(p.train.threads as i32);
    }
    tch::manual_seed(p.train.seed as i64);
    for message in &spec.warnings {
        out.emit(Event::Warning {
            message: message.clone(),
        })?;
    }
    let device = super::device::resolve(&p.train.device)?;
    if p.train.precision == Precision::Bf16 && !precision::bf16_supported(device) {
        out.emit(Event::Warning {
            message: "train.precision: bf16 autocast on the CPU is not available on this \
                      platform; training in fp32"
                .into(),
        })?;
    }

    let dataset = load_dataset(&p.data, p.train.seed).map_err(|e| e.to_string())?;
    for message in &dataset.warnings {
        out.emit(Event::Warning {
            message: message.clone(),
        })?;
    }
    if !dataset.skipped.is_empty() {
        out.emit(Event::Warning {
            message: format!("{} unreadable images skipped", dataset.skipped.len()),
        })?;
        for s in &dataset.skipped {
            out.emit(Event::Warning {
                message: format!("skipped {}: {}", s.path.display(), s.reason),
            })?;
        }
    }
    let classes = dataset.classes.len() as i64;
    let net = model::build(p.model.arch, classes, p.regularization.dropout, device);
    // Without weights the profile loader has already warned (see spec.warnings).
    if let Some(path) = &p.model.weights {
        let report = model::load_weights(&net, path).map_err(|e| e.to_string())?;
        for message in report.messages() {
            out.emit(Event::Warning { message })?;
        }
    }
    if p.train.channels_last {
        precision::channels_last_(&net.vs);
    }
    let data = DeviceData::new(
        &dataset,
        p.data.image_size,
        Augment::for_data(&p.data),
        model::network::normalization(p.model.arch),
        device,
    );
    let batch_size = p.train.batch_size as i64;
    let steps_per_epoch = data.steps_per_epoch(batch_size);
    if steps_per_epoch == 0 {
        return Err(format!(
            "the training set has {} images, too few for one batch (train.batch_size: {})",
            data.train_len(),
            batch_size
        ));
    }

    let mut named: Vec<(String, Tensor)> = net
        .vs
        .variables()
        .into_iter()
        .filter(|(_, t)| t.requires_grad())
        .collect();
    named.sort_by(|a, b| a.0.cmp(&b.0));
    let params = named
        .into_iter()
        .map(|(name, t)| {
            let group = if net.is_head(&name) {
                Group::Head
            } else {
                Group::Backbone
            };
            (name, t, group)
        })
        .collect();
    let mut opt = Optimizer::new(
        &p.train.optimizer,
        params,
        p.regularization.l2sp_alpha,
        p.regularization.l2sp_beta,
    );
    let mut rifle = RifleSchedule::new(
        p.train.epochs as f64,
        p.rifle_period_epochs(),
        p.rifle.quiet_final_epochs,
    );
    let monitor = LayerMonitor::new(&net.convs, (net.head_name, &net.head.ws));
    let (params_total, params_trainable) = net.param_counts();
    let mut done = (0u32, 0u64, f64::NAN, f64::NAN);
    if let Some(r) = resume {
        let dir = spec
            .checkpoint_dir
            .as_ref()
            .ok_or("a resumed run needs its checkpoints folder")?;
        // After the optimiser took its L2-SP anchors and the monitor its W0: both are the
        // run's starting weights, as in the uninterrupted run.
        load_model(&net.vs, &dir.join(&r.weights))?;
        let optim = dir.join(&r.optimizer);
        let state = tch::Tensor::read_safetensors(&optim)
            .map_err(|e| format!("{}: {e}", optim.display()))?;
        opt.load_state(state)
            .map_err(|e| format!("{}: {e}", optim.display()))?;
        rifle = r.rifle.clone();
        done = (
            r.epoch,
            r.step,
            r.best_val_acc.unwrap_or(f64::NAN),
            r.last_val_acc.unwrap_or(f64::NAN),
        );
        out.emit(Event::RunResumed {
            run: spec.run_name.clone(),
            from_epoch: r.epoch,
            step: r.step,
            epochs: p.train.epochs,
            total_steps: steps_per_epoch * p.train.epochs as u64,
            device: super::device::describe(device),
            period_epochs: rifle.period(),
            next_reinit: rifle.next_reinit(),
        })?;
    } else {
        out.emit(Event::Started {
            run: spec.run_name.clone(),
            profile_yaml: p.to_yaml(),
            device: super::device::describe(device),
            classes: dataset.classes.clone(),
            train_images: data.train_len() as u64,
            val_images: data.val_len() as u64,
            steps_per_epoch,
            total_steps: steps_per_epoch * p.train.epochs as u64,
            params_total,
            params_trainable,
            conv_layers: net.convs.iter().map(|(i, _)| i.clone()).collect(),
            head: net.head_info(),
            planned_reinits: rifle.planned(),
            period_epochs: rifle.period(),
        })?;
    }
    drop(dataset);

    let mut t = Trainer {
        profile: p,
        net,
        data,
        opt,
        rifle,
        monitor,
        checkpoints: spec.checkpoint_dir.clone(),
        device,
        batch_size,
        steps_per_epoch,
        step: done.1,
        epochs_done: done.0,
        best_val_acc: done.2,
        last_val_acc: done.3,
    };
    match t.train(out, commands)? {
        None => {
            let seconds = out.seconds();
            out.emit(Event::Finished {
                epochs: t.epochs_done,
                best_val_acc: t.best_val_acc,
                final_val_acc: t.last_val_acc,
                seconds,
            })
        }
        Some(Halt::Stop(reason)) => {
            t.save_checkpoint(out, "last", t.position())?;
            let seconds = out.seconds();
            out.emit(Event::Stopped {
                epochs: t.epochs_done,
                reason,
                seconds,
            })
        }
    }
}

impl Trainer<'_> {
    fn position(&self) -> f64 {
        // Steps are counted globally; this is exact at epoch ends.
        self.step as f64 / self.steps_per_epoch as f64
    }

    fn train(
        &mut self,
        out: &mut Emitter,
        commands: &Receiver<Command>,
    ) -> Result<Option<Halt>, String> {
        let p = self.profile;
        let epochs = p.train.epochs;
        let log_every = p.metrics.log_every_steps.max(1) as u64;
        let layer_every = p.metrics.layer_update_every_steps.max(1) as u64;
        let base_lr = p.train.optimizer.lr;

        for epoch in self.epochs_done + 1..=epochs {
            // Every epoch's draws (shuffle, crops, flips, dropout, a mid-epoch re-init)
            // depend only on the seed and the epoch, so a resumed run repeats them.
            tch::manual_seed(epoch_seed(p.train.seed, epoch));
            let epoch_start = Instant::now();
            let device = self.device;
            let zero = || Tensor::zeros([], (Kind::Float, device));
            let (mut epoch_loss, mut epoch_correct) = (zero(), zero());
            let mut window_loss = zero();
            let (mut window_steps, mut window_images, mut epoch_images) = (0u64, 0u64, 0u64);
            let mut window_start = Instant::now();
            let mut lr = base_lr;
            let mut reinit_after_epoch = false;

            // A streamed set's loader thread starts decoding the first batches here.
            let mut order = self.data.epoch_order(self.batch_size);
            for i in 0..order.len() {
                if let Some(halt) = self.poll_commands(out, commands)? {
                    return Ok(Some(halt));
                }
                let step_in_epoch = i as u64 + 1;
                let start = position(epoch, step_in_epoch - 1, self.steps_per_epoch);
                let end = position(epoch, step_in_epoch, self.steps_per_epoch);
                let mid = 0.5 * (start + end);
                lr = base_lr * lr_factor(&p.train.schedule, epochs as f64, mid);
                let mut head_lr = lr * p.train.head_lr_mult;
                if p.rifle.head_lr_cycle && self.rifle.period().is_some() {
                    head_lr *= cosine(0.0, self.rifle.cycle_fraction(mid));
                }

                let (x, y) = self.data.train_batch(&mut order);
                self.emit_data_warnings(out)?;
                let logits = self.forward(&x, true);
                let loss = logits.to_kind(Kind::Float).cross_entropy_loss::<Tensor>(
                    &y,
                    None,
                    Reduction::Mean,
                    -100,
                    p.train.label_smoothing,
                );
                self.opt.zero_grad();
                loss.backward();
                self.opt.step(lr, head_lr);
                self.step += 1;

                let detached = loss.detach();
                window_loss += &detached;
                epoch_loss += &detached * y.size()[0] as f64;
                epoch_correct += logits.argmax(-1, false).eq_tensor(&y).sum(Kind::Float);
                let n = y.size()[0] as u64;
                window_steps += 1;
                window_images += n;
                epoch_images += n;

                let last_of_epoch = step_in_epoch == self.steps_per_epoch;
                // At an epoch's end the head is re-drawn after the epoch is evaluated and
                // saved, as the authors do: the epoch's accuracy is the trained head's.
                if self.rifle.due(end) {
                    if last_of_epoch {
                        reinit_after_epoch = true;
                    } else {
                        self.reinit_head(out, end)?;
                    }
                }
                if self.step.is_multiple_of(log_every) || last_of_epoch {
                    // The one host sync of a logging window.
                    let mean = window_loss.double_value(&[]) / window_steps as f64;
                    if !mean.is_finite() {
                        return Err(format!(
                            "training diverged: the loss became {mean} at step {} (epoch {:.2}); \
                             try a lower train.optimizer.lr (now {base_lr})",
                            self.step, end
                        ));
                    }
                    out.emit(Event::Step(StepMetrics {
                        step: self.step,
                        epoch: end,
                        loss: mean,
                        lr,
                        images_per_sec: per_second(
                            window_images,
                            window_start.elapsed().as_secs_f64(),
                        ),
                    }))?;
                    window_loss = zero();
                    window_steps = 0;
                    window_images = 0;
                    window_start = Instant::now();
                }
                if self.step.is_multiple_of(layer_every) {
                    let (layers, head) = self.monitor.measure();
                    out.emit(Event::LayerUpdate {
                        epoch: end,
                        step: self.step,
                        layers,
                        head,
                    })?;
                }
            }

            let (val_loss, val_acc) = self.evaluate();
            self.emit_data_warnings(out)?;
            let images = epoch_images.max(1) as f64;
            let train_loss = epoch_loss.double_value(&[]) / images;
            let train_acc = epoch_correct.double_value(&[]) / images;
            let best = self.best_val_acc.is_nan() || val_acc > self.best_val_acc;
            if best {
                self.best_val_acc = val_acc;
            }
            self.last_val_acc = val_acc;
            self.epochs_done = epoch;
            out.emit(Event::Epoch(EpochMetrics {
                epoch,
                train_loss,
                train_acc,
                val_loss,
                val_acc,
                lr,
                seconds: epoch_start.elapsed().as_secs_f64(),
                best,
            }))?;
            self.save_checkpoint(out, "last", epoch as f64)?;
            if best {
                self.save_checkpoint(out, "best", epoch as f64)?;
            }
            if reinit_after_epoch {
                self.reinit_head(out, epoch as f64)?;
            }
            self.save_resume_state(epoch, reinit_after_epoch)?;
        }
        Ok(None)
    }

    /// The network's forward pass in the profile's precision and memory format. The
    /// logits may be bf16: callers take the loss in fp32.
    fn forward(&self, x: &Tensor, train: bool) -> Tensor {
        let t = &self.profile.train;
        let x = if t.channels_last {
            precision::to_channels_last(x)
        } else {
            x.shallow_clone()
        };
        if t.precision == Precision::Bf16 && precision::bf16_supported(self.device) {
            precision::autocast_bf16(self.device, || self.net.forward(&x, train))
        } else {
            self.net.forward(&x, train)
        }
    }

    /// Mean loss and top-1 accuracy on the validation set.
    fn evaluate(&self) -> (f64, f64) {
        tch::no_grad(|| {
            let mut loss = Tensor::zeros([], (Kind::Float, self.device));
            let mut correct = Tensor::zeros([], (Kind::Float, self.device));
            for (x, y) in self.data.val_batches(self.batch_size) {
                let logits = self.forward(&x, false).to_kind(Kind::Float);
                loss += logits.cross_entropy_loss::<Tensor>(&y, None, Reduction::Sum, -100, 0.0);
                correct += logits.argmax(-1, false).eq_tensor(&y).sum(Kind::Float);
            }
            let n = self.data.val_len().max(1) as f64;
            (loss.double_value(&[]) / n, correct.double_value(&[]) / n)
        })
    }

    /// RIFLE: draw the head afresh, in place, so the optimiser keeps its tensors.
    fn reinit_head(&mut self, out: &mut Emitter, at: f64) -> Result<(), String> {
        let r = &self.profile.rifle;
        let bound = 1.0 / (self.net.head_in as f64).sqrt();
        let before = self.net.head.ws.detach().copy();
        let head_change = tch::no_grad(|| {
            let mut ws = self.net.head.ws.shallow_clone();
            let mut bs = self.net.head.bs.as_ref().map(Tensor::shallow_clone);
            match r.init {
                ReinitScheme::PytorchDefault => {
                    let _ = ws.uniform_(-bound, bound);
                    if let Some(b) = bs.as_mut() {
                        let _ = b.uniform_(-bound, bound);
                    }
                }
                ReinitScheme::Normal => {
                    let _ = ws.normal_(0.0, r.init_std);
                    if let Some(b) = bs.as_mut() {
                        let _ = b.zero_();
                    }
                }
            }
            let moved = (&ws - &before).norm().double_value(&[]);
            super::metrics::relative(moved, before.norm().double_value(&[]))
        });
        if r.reset_optimizer_state {
            self.opt.reset_head_state();
        }
        out.emit(Event::Reinit {
            epoch: at,
            step: self.step,
            index: self.rifle.count(),
            period_epochs: self.rifle.period().unwrap_or(0.0),
            head_change,
        })
    }

    /// Applies every command waiting; blocks while paused.
    fn poll_commands(
        &mut self,
        out: &mut Emitter,
        commands: &Receiver<Command>,
    ) -> Result<Option<Halt>, String> {
        let mut paused = false;
        loop {
            let command = if paused {
                match commands.recv() {
                    Ok(c) => c,
                    // Every front end is gone while paused: nobody can resume it.
                    Err(_) => return Ok(Some(Halt::Stop("paused with no front end left".into()))),
                }
            } else {
                match commands.try_recv() {
                    Ok(c) => c,
                    Err(TryRecvError::Empty | TryRecvError::Disconnected) => return Ok(None),
                }
            };
            let (epoch, step) = (self.position(), self.step);
            match command {
                Command::Stop => return Ok(Some(Halt::Stop("stopped by request".into()))),
                Command::Pause if !paused => {
                    paused = true;
                    out.emit(Event::Paused { epoch, step })?;
                }
                Command::Resume if paused => {
                    paused = false;
                    out.emit(Event::Resumed { epoch, step })?;
                }
                Command::Pause | Command::Resume => out.emit(Event::CommandRejected {
                    command: format!("{command:?}").to_lowercase(),
                    reason: if paused {
                        "already paused"
                    } else {
                        "not paused"
                    }
                    .into(),
                })?,
                Command::SetRiflePeriod { period_epochs } => {
                    if !(period_epochs.is_finite() && period_epochs > 0.0) {
                        out.emit(Event::CommandRejected {
                            command: format!("set_rifle_period {period_epochs}"),
                            reason: "the period must be a number of epochs greater than 0".into(),
                        })?;
                        continue;
                    }
                    let old = self.rifle.period();
                    self.rifle.set_period(period_epochs, epoch);
                    out.emit(Event::PeriodChanged {
                        epoch,
                        step,
                        old_period_epochs: old,
                        period_epochs,
                        next_reinit: self.rifle.next_reinit(),
                    })?;
                }
                Command::Checkpoint => self.save_checkpoint(out, "last", epoch)?,
            }
        }
    }

    /// Writes `kind`.safetensors atomically: a crash mid-write leaves the old file.
    fn save_checkpoint(&self, out: &mut Emitter, kind: &str, epoch: f64) -> Result<(), String> {
        let Some(dir) = &self.checkpoints else {
            return Ok(());
        };
        let path = dir.join(format!("{kind}.safetensors"));
        save_atomically(&self.net, dir, &path)
            .map_err(|e| format!("cannot write the checkpoint {}: {e}", path.display()))?;
        out.emit(Event::Checkpoint {
            kind: kind.into(),
            epoch,
            path: path.display().to_string(),
        })
    }
}

impl Trainer<'_> {
    /// The epoch-end state `rifle-tui resume` continues from (see `resume.rs`). The
    /// weights are `last.safetensors` hard-linked when no re-init followed the epoch.
    fn save_resume_state(&self, epoch: u32, reinited: bool) -> Result<(), String> {
        let Some(dir) = &self.checkpoints else {
            return Ok(());
        };
        let weights = format!("resume-{epoch}.safetensors");
        let optimizer = format!("resume-{epoch}.optim.safetensors");
        let w = dir.join(&weights);
        let _ = std::fs::remove_file(&w);
        if reinited || std::fs::hard_link(dir.join("last.safetensors"), &w).is_err() {
            save_atomically(&self.net, dir, &w)
                .map_err(|e| format!("cannot write the checkpoint {}: {e}", w.display()))?;
        }
        write_tensors(&self.opt.state(), &dir.join(&optimizer))?;
        ResumeState {
            epoch,
            step: self.step,
            best_val_acc: some_finite(self.best_val_acc),
            last_val_acc: some_finite(self.last_val_acc),
            rifle: self.rifle.clone(),
            weights,
            optimizer,
        }
        .write(dir)?;
        // The previous epoch's set is no longer named by resume.json.
        if epoch > 1 {
            for f in [
                format!("resume-{}.safetensors", epoch - 1),
                format!("resume-{}.optim.safetensors", epoch - 1),
            ] {
                let _ = std::fs::remove_file(dir.join(f));
            }
        }
        Ok(())
    }
}

impl Trainer<'_> {
    /// Reports streamed files that could not be read; ends the run when none could.
    fn emit_data_warnings(&self, out: &mut Emitter) -> Result<(), String> {
        for message in self.data.take_warnings() {
            out.emit(Event::Warning { message })?;
        }
        match self.data.take_unreadable() {
            Some(reason) => Err(reason),
            None => Ok(()),
        }
    }
}

fn save_atomically(net: &Network, dir: &Path, path: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let tmp = dir.join(format!(".partial-{}.safetensors", std::process::id()));
    // Channels-last variables are written row-major (safetensors' order).
    let named: Vec<(String, Tensor)> = net.vs.variables().into_iter().collect();
    Tensor::write_safetensors(&precision::contiguous_named(&named), &tmp)
        .map_err(|e| e.to_string())?;
    std::fs::rename(&tmp, path).map_err(|e| e.to_string())
}
