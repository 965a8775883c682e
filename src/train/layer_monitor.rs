//! Per-layer update figures: how far each convolution (and the head) has moved from the
//! weights the run started with, and how much since the last measurement.
//!
//! Everything is computed on the training device and brought back in one transfer, so a
//! measurement costs one host sync whatever the depth of the network.
use crate::protocol::{LayerInfo, LayerUpdate};
use crate::train::metrics::relative;
use tch::{Kind, Tensor};

struct Tracked {
    name: String,
    weight: Tensor,
    /// Weights at the start of the run.
    initial: Tensor,
    initial_norm: f64,
    /// Weights at the previous measurement.
    previous: Tensor,
    previous_norm: f64,
}

pub struct LayerMonitor {
    layers: Vec<Tracked>,
    head: Tracked,
}

impl Tracked {
    fn new(name: &str, weight: &Tensor) -> Self {
        let initial = weight.detach().copy();
        let norm = norm_of(&initial);
        Self {
            name: name.to_string(),
            weight: weight.shallow_clone(),
            previous: initial.copy(),
            initial,
            initial_norm: norm,
            previous_norm: norm,
        }
    }
}

fn norm_of(t: &Tensor) -> f64 {
    t.to_kind(Kind::Float).norm().double_value(&[])
}

impl LayerMonitor {
    /// Snapshots the starting weights of `convs` and of the head's weight.
    pub fn new(convs: &[(LayerInfo, Tensor)], head: (&str, &Tensor)) -> Self {
        tch::no_grad(|| Self {
            layers: convs
                .iter()
                .map(|(info, w)| Tracked::new(&info.name, w))
                .collect(),
            head: Tracked::new(head.0, head.1),
        })
    }

    /// Measures every layer, then makes the current weights the new "previous".
    pub fn measure(&mut self) -> (Vec<LayerUpdate>, LayerUpdate) {
        tch::no_grad(|| {
            let all: Vec<&mut Tracked> = self
                .layers
                .iter_mut()
                .chain(std::iter::once(&mut self.head))
                .collect();
            // Three norms a layer, stacked so the host waits once.
            let mut norms = Vec::with_capacity(all.len() * 3);
            for t in &all {
                let w = t.weight.to_kind(Kind::Float);
                norms.push((&w - &t.initial.to_kind(Kind::Float)).norm());
                norms.push((&w - &t.previous.to_kind(Kind::Float)).norm());
                norms.push(w.norm());
            }
            let values = Vec::<f64>::try_from(Tensor::stack(&norms, 0).to_kind(Kind::Double))
                .unwrap_or_default();
            let mut out = Vec::with_capacity(all.len());
            for (i, t) in all.into_iter().enumerate() {
                let (from_start, from_prev, now) =
                    (values[3 * i], values[3 * i + 1], values[3 * i + 2]);
                out.push(LayerUpdate {
                    name: t.name.clone(),
                    rel_distance: relative(from_start, t.initial_norm),
                    rel_change: relative(from_prev, t.previous_norm),
                });
                t.previous.copy_(&t.weight);
                t.previous_norm = now;
            }
            let head = out.pop().expect("the head is always tracked");
            (out, head)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_distance_and_change() {
        let w = Tensor::from_slice(&[3.0f32, 4.0]);
        let h = Tensor::from_slice(&[1.0f32, 0.0]);
        let info = LayerInfo {
            name: "conv1".into(),
            stage: "stem".into(),
            params: 2,
        };
        let mut m = LayerMonitor::new(&[(info, w.shallow_clone())], ("fc", &h));
        // Move w by (0.3, 0.4): 10% of its norm 5.
        tch::no_grad(|| {
            let _ = w
                .shallow_clone()
                .g_add_(&Tensor::from_slice(&[0.3f32, 0.4]));
        });
        let (layers, head) = m.measure();
        assert!((layers[0].rel_distance - 0.1).abs() < 1e-6);
        assert!((layers[0].rel_change - 0.1).abs() < 1e-6);
        assert_eq!(head.rel_distance, 0.0);
        // Again by the same amount: 20% from the start, and 0.5/5.5 since last time.
        tch::no_grad(|| {
            let _ = w
                .shallow_clone()
                .g_add_(&Tensor::from_slice(&[0.3f32, 0.4]));
        });
        let (layers, _) = m.measure();
        assert!((layers[0].rel_distance - 0.2).abs() < 1e-6);
        assert!((layers[0].rel_change - 0.5 / 5.5).abs() < 1e-6);
    }
}
