//! SGD (momentum, Nesterov) and AdamW, written over tch tensors rather than taken from
//! libtorch's optimisers: RIFLE needs per-group learning rates, an optional reset of the
//! head's state at re-init, and L2-SP's pull toward the pretrained weights, none of which
//! `tch::nn::Optimizer` exposes. The update rules are PyTorch's, step for step.
use crate::profile::{OptimizerKind, OptimizerSection};
use tch::Tensor;

/// One trainable tensor and its optimiser state.
pub struct Param {
    pub name: String,
    pub tensor: Tensor,
    /// Momentum buffer (SGD) or first moment (AdamW).
    first: Option<Tensor>,
    /// Second moment (AdamW).
    second: Option<Tensor>,
    steps: i32,
    /// L2-SP anchor: the pretrained value this tensor is pulled toward.
    anchor: Option<Tensor>,
}

/// Which learning rate and extra penalty a tensor gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    Backbone,
    Head,
}

pub struct Optimizer {
    cfg: OptimizerSection,
    pub backbone: Vec<Param>,
    pub head: Vec<Param>,
    l2sp_alpha: f64,
    l2sp_beta: f64,
    /// A libtorch optimiser used only for its `zero_grad`, which drops the gradients
    /// (set to none) instead of zero-filling them: the next backward then writes fresh
    /// gradients rather than adding into zeros, two kernels a parameter saved a step.
    grad_dropper: Option<tch::COptimizer>,
}

impl Param {
    fn new(name: String, tensor: Tensor) -> Self {
        Self {
            name,
            tensor,
            first: None,
            second: None,
            steps: 0,
            anchor: None,
        }
    }

    fn reset(&mut self) {
        self.first = None;
        self.second = None;
        self.steps = 0;
    }
}

impl Optimizer {
    /// `params`: (name, tensor, group). With `l2sp_alpha > 0`, the backbone's current
    /// values become its anchors, so build this after loading the pretrained weights.
    pub fn new(
        cfg: &OptimizerSection,
        params: Vec<(String, Tensor, Group)>,
        l2sp_alpha: f64,
        l2sp_beta: f64,
    ) -> Self {
        let mut backbone = Vec::new();
        let mut head = Vec::new();
        for (name, tensor, group) in params {
            let mut p = Param::new(name, tensor);
            match group {
                Group::Backbone => {
                    if l2sp_alpha > 0.0 {
                        p.anchor = Some(p.tensor.detach().copy());
                    }
                    backbone.push(p)
                }
                Group::Head => head.push(p),
            }
        }
        let grad_dropper = tch::COptimizer::sgd(0.0, 0.0, 0.0, 0.0, false)
            .ok()
            .and_then(|mut o| {
                backbone
                    .iter()
                    .chain(head.iter())
                    .try_for_each(|p| o.add_parameters(&p.tensor, 0))
                    .ok()
                    .map(|()| o)
            });
        Self {
            cfg: cfg.clone(),
            backbone,
            head,
            l2sp_alpha,
            l2sp_beta,
            grad_dropper,
        }
    }

    pub fn zero_grad(&mut self) {
        if let Some(o) = &self.grad_dropper {
            if o.zero_grad().is_ok() {
                return;
            }
        }
        for p in self.backbone.iter_mut().chain(self.head.iter_mut()) {
            p.tensor.zero_grad();
        }
    }

    /// Forgets the head's momentum or moments (optional at a RIFLE re-init).
    pub fn reset_head_state(&mut self) {
        self.head.iter_mut().for_each(Param::reset);
    }

    /// Every buffer and step count, named `<param>.first`, `<param>.second`,
    /// `<param>.steps`, for `checkpoints/resume-N.optim.safetensors`.
    pub fn state(&self) -> Vec<(String, Tensor)> {
        let mut out = Vec::new();
        for p in self.backbone.iter().chain(self.head.iter()) {
            if let Some(t) = &p.first {
                out.push((format!("{}.first", p.name), t.shallow_clone()));
            }
            if let Some(t) = &p.second {
                out.push((format!("{}.second", p.name), t.shallow_clone()));
            }
            out.push((
                format!("{}.steps", p.name),
                Tensor::from_slice(&[i64::from(p.steps)]),
            ));
        }
        out
    }

    /// Restores what `state` saved. Every parameter must have its step count; a buffer
    /// of the wrong shape is an error naming it.
    pub fn load_state(&mut self, saved: Vec<(String, Tensor)>) -> Result<(), String> {
        let mut saved: std::collections::HashMap<String, Tensor> = saved.into_iter().collect();
        for p in self.backbone.iter_mut().chain(self.head.iter_mut()) {
            let steps = saved
                .remove(&format!("{}.steps", p.name))
                .ok_or_else(|| format!("the optimiser state has no entry for `{}`", p.name))?;
            p.steps = steps.int64_value(&[0]) as i32;
            let device = p.tensor.device();
            let mut take = |suffix: &str| -> Result<Option<Tensor>, String> {
                let key = format!("{}.{suffix}", p.name);
                match saved.remove(&key) {
                    None => Ok(None),
                    Some(t) if t.size() != p.tensor.size() => Err(format!(
                        "the optimiser state's `{key}` has shape {:?}, the model's `{}` {:?}",
                        t.size(),
                        p.name,
                        p.tensor.size()
                    )),
                    Some(t) => Ok(Some(t.to_device(device))),
                }
            };
            p.first = take("first")?;
            p.second = take("second")?;
        }
        Ok(())
    }

    /// One update with the given learning rates.
    pub fn step(&mut self, lr_backbone: f64, lr_head: f64) {
        let cfg = self.cfg.clone();
        let (alpha, beta) = (self.l2sp_alpha, self.l2sp_beta);
        tch::no_grad(|| {
            for p in &mut self.backbone {
                update(&cfg, p, lr_backbone, alpha);
            }
            for p in &mut self.head {
                update(&cfg, p, lr_head, beta);
            }
        });
    }
}

/// One parameter's update. `penalty` is L2-SP's strength for this group: toward the
/// anchor when there is one (backbone), toward zero otherwise (head).
fn update(cfg: &OptimizerSection, p: &mut Param, lr: f64, penalty: f64) {
    let grad = p.tensor.grad();
    if !grad.defined() {
        return;
    }
    let mut g = grad.detach();
    if penalty > 0.0 {
        let pull = match &p.anchor {
            Some(anchor) => (&p.tensor - anchor) * penalty,
            None => &p.tensor * penalty,
        };
        g += pull;
    }
    p.steps += 1;
    match cfg.kind {
        OptimizerKind::Sgd => {
            if cfg.weight_decay > 0.0 {
                g += &p.tensor * cfg.weight_decay;
            }
            if cfg.momentum > 0.0 {
                let buf = match p.first.take() {
                    None => g.copy(),
                    Some(mut buf) => {
                        let _ = buf.g_mul_scalar_(cfg.momentum).g_add_(&g);
                        buf
                    }
                };
                g = if cfg.nesterov {
                    g + &buf * cfg.momentum
                } else {
                    buf.shallow_clone()
                };
                p.first = Some(buf);
            }
            let _ = p.tensor.g_add_(&(g * -lr));
        }
        OptimizerKind::Adamw => {
            let [b1, b2] = cfg.betas;
            if cfg.weight_decay > 0.0 {
                let _ = p.tensor.g_mul_scalar_(1.0 - lr * cfg.weight_decay);
            }
            let m = p.first.get_or_insert_with(|| g.zeros_like());
            let _ = m.g_mul_scalar_(b1).g_add_(&(&g * (1.0 - b1)));
            let v = p.second.get_or_insert_with(|| g.zeros_like());
            let _ = v.g_mul_scalar_(b2).g_add_(&(&g * &g * (1.0 - b2)));
            let t = p.steps;
            let bias1 = 1.0 - b1.powi(t);
            let bias2 = 1.0 - b2.powi(t);
            let denom = (v.shallow_clone() / bias2).sqrt() + cfg.eps;
            let m = p.first.as_ref().expect("set above");
            let _ = p.tensor.g_add_(&(m / denom * (-lr / bias1)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Kind;

    fn param(values: &[f32]) -> Tensor {
        Tensor::from_slice(values).set_requires_grad(true)
    }

    /// Sets the gradient of `p` to `g` by back-propagating through a dot product.
    fn set_grad(p: &Tensor, g: &[f32]) {
        let mut p2 = p.shallow_clone();
        p2.zero_grad();
        (p * Tensor::from_slice(g)).sum(Kind::Float).backward();
    }

    fn values(t: &Tensor) -> Vec<f64> {
        Vec::<f64>::try_from(t.to_kind(Kind::Double)).unwrap()
    }

    #[test]
    fn zero_grad_drops_gradients_rather_than_zero_filling() {
        let cfg = OptimizerSection::default();
        let p = param(&[1.0, 2.0]);
        let mut opt = Optimizer::new(
            &cfg,
            vec![("p".into(), p.shallow_clone(), Group::Head)],
            0.0,
            0.0,
        );
        set_grad(&p, &[1.0, 1.0]);
        assert!(p.grad().defined());
        opt.zero_grad();
        assert!(
            !p.grad().defined(),
            "the gradient should be gone, not zeroed"
        );
        // The next backward writes a fresh gradient, not an accumulation.
        (&p * Tensor::from_slice(&[3.0f32, 4.0]))
            .sum(Kind::Float)
            .backward();
        assert_eq!(values(&p.grad()), vec![3.0, 4.0]);
    }

    #[test]
    fn sgd_momentum_matches_pytorch() {
        // torch.optim.SGD([p], lr=0.1, momentum=0.9, weight_decay=0.0) with grad 1 twice:
        // p: 1 -> 0.9 -> 0.71
        let cfg = OptimizerSection {
            weight_decay: 0.0,
            ..Default::default()
        };
        let p = param(&[1.0]);
        let mut opt = Optimizer::new(
            &cfg,
            vec![("p".into(), p.shallow_clone(), Group::Backbone)],
            0.0,
            0.0,
        );
        for _ in 0..2 {
            set_grad(&p, &[1.0]);
            opt.step(0.1, 0.1);
        }
        assert!((values(&p)[0] - 0.71).abs() < 1e-6, "{:?}", values(&p));
    }

    #[test]
    fn nesterov_and_head_lr() {
        let cfg = OptimizerSection {
            weight_decay: 0.0,
            nesterov: true,
            ..Default::default()
        };
        let b = param(&[1.0]);
        let h = param(&[1.0]);
        let mut opt = Optimizer::new(
            &cfg,
            vec![
                ("b".into(), b.shallow_clone(), Group::Backbone),
                ("h".into(), h.shallow_clone(), Group::Head),
            ],
            0.0,
            0.0,
        );
        set_grad(&b, &[1.0]);
        set_grad(&h, &[1.0]);
        opt.step(0.1, 1.0);
        // Nesterov first step: g + m*buf = 1 + 0.9 = 1.9.
        assert!((values(&b)[0] - (1.0 - 0.19)).abs() < 1e-6);
        assert!((values(&h)[0] - (1.0 - 1.9)).abs() < 1e-6);
    }

    #[test]
    fn adamw_first_step_is_lr_sized() {
        let cfg = OptimizerSection {
            kind: OptimizerKind::Adamw,
            weight_decay: 0.1,
            ..Default::default()
        };
        let p = param(&[2.0, -3.0]);
        let mut opt = Optimizer::new(
            &cfg,
            vec![("p".into(), p.shallow_clone(), Group::Backbone)],
            0.0,
            0.0,
        );
        set_grad(&p, &[0.5, -4.0]);
        opt.step(0.01, 0.01);
        // Decoupled decay then a step of ~lr against the gradient's sign.
        let v = values(&p);
        assert!((v[0] - (2.0 * 0.999 - 0.01)).abs() < 1e-5, "{v:?}");
        assert!((v[1] - (-3.0 * 0.999 + 0.01)).abs() < 1e-5, "{v:?}");
    }

    #[test]
    fn l2sp_pulls_toward_the_anchor_and_head_reset_forgets() {
        let cfg = OptimizerSection {
            weight_decay: 0.0,
            momentum: 0.0,
            ..Default::default()
        };
        let b = param(&[1.0]);
        let h = param(&[1.0]);
        let mut opt = Optimizer::new(
            &cfg,
            vec![
                ("b".into(), b.shallow_clone(), Group::Backbone),
                ("h".into(), h.shallow_clone(), Group::Head),
            ],
            1.0,
            0.5,
        );
        // Move b away from its anchor by hand, then a zero-gradient step pulls it back.
        tch::no_grad(|| {
            let _ = b.shallow_clone().g_add_scalar_(1.0);
        });
        set_grad(&b, &[0.0]);
        set_grad(&h, &[0.0]);
        opt.step(0.1, 0.1);
        assert!((values(&b)[0] - (2.0 - 0.1)).abs() < 1e-6);
        assert!((values(&h)[0] - (1.0 - 0.05)).abs() < 1e-6);
        opt.reset_head_state();
        assert!(opt.head.iter().all(|p| p.first.is_none() && p.steps == 0));
    }

    #[test]
    fn state_round_trips_and_continues_identically() {
        let cfg = OptimizerSection {
            kind: OptimizerKind::Adamw,
            ..Default::default()
        };
        let make = |v: f32| {
            let p = param(&[v, -v]);
            let opt = Optimizer::new(
                &cfg,
                vec![("p".into(), p.shallow_clone(), Group::Backbone)],
                0.0,
                0.0,
            );
            (p, opt)
        };
        let (a, mut opt_a) = make(1.0);
        for _ in 0..3 {
            set_grad(&a, &[0.5, 2.0]);
            opt_a.step(0.01, 0.01);
        }
        // A second optimiser given the first one's state and values steps the same way.
        let (b, mut opt_b) = make(1.0);
        tch::no_grad(|| b.shallow_clone().copy_(&a));
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("optim.safetensors");
        crate::train::resume::write_tensors(&opt_a.state(), &file).unwrap();
        opt_b
            .load_state(Tensor::read_safetensors(&file).unwrap())
            .unwrap();
        assert_eq!(opt_b.backbone[0].steps, 3);
        set_grad(&a, &[0.5, 2.0]);
        set_grad(&b, &[0.5, 2.0]);
        opt_a.step(0.01, 0.01);
        opt_b.step(0.01, 0.01);
        assert_eq!(values(&a), values(&b));
        let err = opt_b.load_state(Vec::new()).unwrap_err();
        assert!(err.contains("`p`"), "{err}");
    }
}
