//! Range and consistency checks on a deserialised profile.
//!
//! Everything is checked and every problem collected, each on its own key, so one run of
//! `check` lists all that needs fixing. File existence is left to `check`: a profile is
//! valid or not regardless of the machine it is read on.
use super::error::FieldError;
use super::schema::{CropMode, DataSource, OptimizerKind, Profile};
use super::sources::{did_you_mean, Sources};

/// Returns (errors, warnings).
pub(crate) fn validate(p: &Profile, sources: &Sources) -> (Vec<FieldError>, Vec<String>) {
    let mut c = Checker {
        sources,
        errors: Vec::new(),
        warnings: Vec::new(),
    };
    train(&mut c, p);
    data(&mut c, p);
    rifle(&mut c, p);
    let r = &p.regularization;
    c.at_least("regularization.l2sp_alpha", r.l2sp_alpha, 0.0);
    c.at_least("regularization.l2sp_beta", r.l2sp_beta, 0.0);
    c.unit("regularization.dropout", r.dropout);
    c.at_least(
        "metrics.log_every_steps",
        p.metrics.log_every_steps.into(),
        1.0,
    );
    c.at_least(
        "metrics.layer_update_every_steps",
        p.metrics.layer_update_every_steps.into(),
        1.0,
    );
    if let Some(w) = &p.model.weights {
        let ext = w.extension().map(|e| e.to_string_lossy().to_lowercase());
        if !matches!(ext.as_deref(), Some("safetensors" | "ot")) {
            c.error(
                "model.weights",
                format!("must be a .safetensors or .ot file (got `{}`)", w.display()),
            );
        }
    }
    (c.errors, c.warnings)
}

struct Checker<'s, 'o> {
    sources: &'s Sources<'o>,
    errors: Vec<FieldError>,
    warnings: Vec<String>,
}

impl Checker<'_, '_> {
    fn error(&mut self, key: &str, message: String) {
        self.errors.push(self.sources.key_error(key, message));
    }

    /// `v >= min`; NaN and infinities fail every check.
    fn at_least(&mut self, key: &str, v: f64, min: f64) {
        if !(v.is_finite() && v >= min) {
            self.error(key, format!("must be {min} or more (got {v})"));
        }
    }

    fn positive(&mut self, key: &str, v: f64) {
        if !(v.is_finite() && v > 0.0) {
            self.error(key, format!("must be greater than 0 (got {v})"));
        }
    }

    /// `[0, 1)`: probabilities and decay factors that must leave something.
    fn unit(&mut self, key: &str, v: f64) {
        if !(v.is_finite() && (0.0..1.0).contains(&v)) {
            self.error(key, format!("must be at least 0 and less than 1 (got {v})"));
        }
    }

    fn between(&mut self, key: &str, v: f64, min: f64, max: f64) {
        if !(v.is_finite() && (min..=max).contains(&v)) {
            self.error(key, format!("must be between {min} and {max} (got {v})"));
        }
    }

    /// `[0, epochs)`, for things measured in epochs of this run.
    fn within_run(&mut self, key: &str, v: f64, epochs: u32) {
        if !(v.is_finite() && v >= 0.0) {
            self.error(key, format!("must be 0 or more (got {v})"));
        } else if epochs >= 1 && v >= f64::from(epochs) {
            self.error(
                key,
                format!("must be less than the run's {epochs} epochs (train.epochs) (got {v})"),
            );
        }
    }
}

fn train(c: &mut Checker, p: &Profile) {
    let t = &p.train;
    c.at_least("train.epochs", t.epochs.into(), 1.0);
    c.at_least("train.batch_size", t.batch_size.into(), 1.0);
    let o = &t.optimizer;
    c.positive("train.optimizer.lr", o.lr);
    c.at_least("train.optimizer.weight_decay", o.weight_decay, 0.0);
    c.unit("train.optimizer.momentum", o.momentum);
    for (i, beta) in o.betas.iter().enumerate() {
        if !(beta.is_finite() && (0.0..1.0).contains(beta)) {
            c.error(
                "train.optimizer.betas",
                format!(
                    "item {}: must be at least 0 and less than 1 (got {beta})",
                    i + 1
                ),
            );
        }
    }
    c.positive("train.optimizer.eps", o.eps);
    if o.nesterov {
        if o.kind != OptimizerKind::Sgd {
            c.error(
                "train.optimizer.nesterov",
                "only used with kind: sgd (AdamW has no Nesterov variant here)".into(),
            );
        } else if o.momentum <= 0.0 {
            c.error(
                "train.optimizer.nesterov",
                format!("needs momentum greater than 0 (momentum is {})", o.momentum),
            );
        }
    }
    c.positive("train.head_lr_mult", t.head_lr_mult);
    c.unit("train.label_smoothing", t.label_smoothing);
    if !valid_device(&t.device) {
        let mut message = format!("unknown device `{}`", t.device);
        if let Some(s) = did_you_mean(&t.device, &["auto", "cpu", "cuda:0"]) {
            message.push_str(&format!("; did you mean `{s}`?"));
        }
        message.push_str(" (allowed: auto, cpu, cuda:N with N the GPU index, e.g. cuda:0)");
        c.error("train.device", message);
    }
    if t.threads > 1024 {
        c.error(
            "train.threads",
            format!(
                "must be 1024 or less (got {}); 0 leaves the choice to libtorch",
                t.threads
            ),
        );
    }
    let s = &t.schedule;
    c.within_run("train.schedule.warmup_epochs", s.warmup_epochs, t.epochs);
    c.positive("train.schedule.step_epochs", s.step_epochs);
    if !(s.gamma.is_finite() && s.gamma > 0.0 && s.gamma <= 1.0) {
        c.error(
            "train.schedule.gamma",
            format!("must be greater than 0 and at most 1 (got {})", s.gamma),
        );
    }
    c.between("train.schedule.min_lr_ratio", s.min_lr_ratio, 0.0, 1.0);
    c.positive("train.schedule.restart_epochs", s.restart_epochs);
    c.at_least("train.schedule.restart_mult", s.restart_mult, 1.0);
}

fn valid_device(device: &str) -> bool {
    match device {
        "auto" | "cpu" => true,
        _ => device
            .strip_prefix("cuda:")
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())),
    }
}

fn data(c: &mut Checker, p: &Profile) {
    let d = &p.data;
    c.between("data.image_size", d.image_size.into(), 8.0, 1024.0);
    c.positive("data.memory_budget_mb", d.memory_budget_mb);
    match d.source {
        DataSource::Synthetic => {
            if let Some(n) = d.classes {
                c.between("data.classes", n.into(), 2.0, 1000.0);
            }
            if let Some(n) = d.train_per_class {
                c.at_least("data.train_per_class", n.into(), 1.0);
            }
            if let Some(n) = d.val_per_class {
                c.at_least("data.val_per_class", n.into(), 1.0);
            }
            for (key, given) in [
                ("data.root", d.root.is_some()),
                ("data.resize", d.resize.is_some()),
                ("data.crop", d.crop.is_some()),
                ("data.min_crop_area", d.min_crop_area.is_some()),
                ("data.max_crop_aspect", d.max_crop_aspect.is_some()),
            ] {
                if given {
                    c.error(key, "only used with source: image_folder".into());
                }
            }
        }
        DataSource::ImageFolder => {
            if d.root.is_none() {
                c.error(
                    "data.root",
                    "required with source: image_folder (the folder holding train/ and val/)"
                        .into(),
                );
            }
            for (key, given) in [
                ("data.classes", d.classes.is_some()),
                ("data.train_per_class", d.train_per_class.is_some()),
                ("data.val_per_class", d.val_per_class.is_some()),
                ("data.seed", d.seed.is_some()),
            ] {
                if given {
                    c.error(
                        key,
                        "only used with source: synthetic (image_folder takes its classes and images from data.root)"
                            .into(),
                    );
                }
            }
            if let Some(area) = d.min_crop_area {
                if d.crop == Some(CropMode::Fixed) {
                    c.error(
                        "data.min_crop_area",
                        "only used with data.crop: resized (a fixed crop is always image_size pixels)"
                            .into(),
                    );
                } else if !(area.is_finite() && area > 0.0 && area <= 1.0) {
                    c.error(
                        "data.min_crop_area",
                        format!("must be greater than 0 and at most 1 (got {area})"),
                    );
                }
            }
            if !d.augment {
                for (key, given) in [
                    ("data.crop", d.crop.is_some()),
                    ("data.min_crop_area", d.min_crop_area.is_some()),
                    ("data.max_crop_aspect", d.max_crop_aspect.is_some()),
                ] {
                    if given {
                        c.warnings.push(format!(
                            "{key} has no effect with data.augment: false (training images \
                             are centre-cropped, as for validation)"
                        ));
                    }
                }
            }
            if let Some(aspect) = d.max_crop_aspect {
                if d.crop == Some(CropMode::Fixed) {
                    c.error(
                        "data.max_crop_aspect",
                        "only used with data.crop: resized (a fixed crop is always square)".into(),
                    );
                } else if !(aspect.is_finite() && (1.0..=10.0).contains(&aspect)) {
                    c.error(
                        "data.max_crop_aspect",
                        format!(
                            "must be from 1 (square crops only) to 10 (got {aspect}); \
                             torchvision's default is 4/3"
                        ),
                    );
                }
            }
            if let Some(resize) = d.resize {
                if resize < d.image_size {
                    c.error(
                        "data.resize",
                        format!(
                            "must be at least data.image_size, {} (got {resize}): images are cropped from it",
                            d.image_size
                        ),
                    );
                }
            }
        }
    }
}

fn rifle(c: &mut Checker, p: &Profile) {
    let r = &p.rifle;
    let epochs = p.train.epochs;
    if r.period_epochs.is_some() && r.cycles.is_some() {
        // Blame the one given last: that is the one the user just added.
        let (second, first) = if c.sources.given_order("rifle.cycles")
            >= c.sources.given_order("rifle.period_epochs")
        {
            ("rifle.cycles", "rifle.period_epochs")
        } else {
            ("rifle.period_epochs", "rifle.cycles")
        };
        c.error(
            second,
            format!(
                "cannot be used together with {first}: period_epochs is the period itself, \
                 cycles sets it to train.epochs / cycles; keep one"
            ),
        );
    }
    if let Some(period) = r.period_epochs {
        if !(period.is_finite() && period > 0.0) {
            c.error(
                "rifle.period_epochs",
                format!("must be greater than 0 (got {period})"),
            );
        } else if epochs >= 1 && period >= f64::from(epochs) {
            c.error(
                "rifle.period_epochs",
                format!(
                    "must be less than the run's {epochs} epochs (train.epochs) (got {period}): \
                     the final period is never re-initialised, so the head would never be"
                ),
            );
        }
    }
    if let Some(cycles) = r.cycles {
        let max = u64::from(epochs.max(1)) * 1000;
        if cycles == 0 || u64::from(cycles) > max {
            c.error(
                "rifle.cycles",
                format!("must be between 1 and {max} (1000 per epoch) (got {cycles})"),
            );
        } else if cycles == 1 && r.enabled {
            c.warnings.push(
                "rifle.cycles is 1: one period spans the whole run and the final period is never \
                 re-initialised, so RIFLE never re-initialises the head"
                    .into(),
            );
        }
    }
    c.within_run("rifle.quiet_final_epochs", r.quiet_final_epochs, epochs);
    c.positive("rifle.init_std", r.init_std);
}
