//! A built network: its variables, its forward pass, and what the monitor needs to know
//! about its convolutions and its head.
use super::layers::ConvRegistry;
use super::{resnet, small_cnn};
use crate::profile::Arch;
use crate::protocol::LayerInfo;
use tch::nn::{self, ModuleT};
use tch::{Device, Tensor};

/// Variable path of the head (`fc.weight`, `fc.bias`), as in torchvision.
pub const HEAD: &str = "fc";

pub struct Network {
    pub vs: nn::VarStore,
    backbone: nn::FuncT<'static>,
    pub head: nn::Linear,
    pub head_in: i64,
    pub classes: i64,
    dropout: f64,
    /// Convolutions in network order, with their weight tensors (shared storage).
    pub convs: Vec<(LayerInfo, Tensor)>,
}

impl Network {
    pub fn forward(&self, xs: &Tensor, train: bool) -> Tensor {
        let features = self.backbone.forward_t(xs, train);
        let features = if self.dropout > 0.0 {
            features.dropout(self.dropout, train)
        } else {
            features
        };
        features.apply(&self.head)
    }

    pub fn head_info(&self) -> LayerInfo {
        LayerInfo {
            name: HEAD.to_string(),
            stage: "head".to_string(),
            params: (self.head_in * self.classes + self.classes) as u64,
        }
    }

    /// Whether a variable belongs to the head rather than the backbone.
    pub fn is_head(name: &str) -> bool {
        name.strip_prefix(HEAD)
            .is_some_and(|rest| rest.starts_with('.'))
    }

    pub fn param_counts(&self) -> (u64, u64) {
        let total = self.vs.variables().values().map(|t| t.numel() as u64).sum();
        let trainable = self
            .vs
            .trainable_variables()
            .iter()
            .map(|t| t.numel() as u64)
            .sum();
        (total, trainable)
    }
}

/// Builds `arch` with a `classes`-way head on `device`, randomly initialised.
pub fn build(arch: Arch, classes: i64, dropout: f64, device: Device) -> Network {
    let vs = nn::VarStore::new(device);
    let root = vs.root();
    let mut registry = ConvRegistry::default();
    let (backbone, head_in) = match arch {
        Arch::SmallCnn => (
            small_cnn::backbone(&root, &mut registry),
            small_cnn::FEATURES,
        ),
        Arch::Resnet18 | Arch::Resnet34 | Arch::Resnet50 => {
            let depth = match arch {
                Arch::Resnet18 => resnet::Depth::D18,
                Arch::Resnet34 => resnet::Depth::D34,
                _ => resnet::Depth::D50,
            };
            (
                resnet::backbone(&root, &mut registry, depth),
                depth.features(),
            )
        }
    };
    // PyTorch's nn.Linear default init, which RIFLE's re-init repeats.
    let bound = 1.0 / (head_in as f64).sqrt();
    let head = nn::linear(
        &root / HEAD,
        head_in,
        classes,
        nn::LinearConfig {
            ws_init: nn::Init::Uniform {
                lo: -bound,
                up: bound,
            },
            bs_init: Some(nn::Init::Uniform {
                lo: -bound,
                up: bound,
            }),
            bias: true,
        },
    );
    let variables = vs.variables();
    let convs = registry
        .layers
        .into_iter()
        .map(|(name, stage)| {
            let weight = variables[&format!("{name}.weight")].shallow_clone();
            let info = LayerInfo {
                name,
                stage,
                params: weight.numel() as u64,
            };
            (info, weight)
        })
        .collect();
    Network {
        vs,
        backbone,
        head,
        head_in,
        classes,
        dropout,
        convs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resnet_names_match_torchvision() {
        let net = build(Arch::Resnet18, 10, 0.0, Device::Cpu);
        let vars = net.vs.variables();
        for name in [
            "conv1.weight",
            "bn1.running_mean",
            "layer1.0.conv1.weight",
            "layer2.0.downsample.0.weight",
            "layer2.0.downsample.1.bias",
            "layer4.1.bn2.weight",
            "fc.weight",
            "fc.bias",
        ] {
            assert!(vars.contains_key(name), "missing {name}");
        }
        assert_eq!(vars["fc.weight"].size(), vec![10, 512]);
        assert_eq!(net.convs.len(), 20);
        assert_eq!(net.convs[0].0.name, "conv1");
        assert_eq!(net.convs[0].0.stage, "stem");
        assert_eq!(net.convs[1].0.name, "layer1.0.conv1");
        let (total, _) = net.param_counts();
        // torchvision's resnet18 with a 10-way head: 11,181,642 parameters + BN buffers.
        let trainable: u64 = net
            .vs
            .trainable_variables()
            .iter()
            .map(|t| t.numel() as u64)
            .sum();
        assert_eq!(trainable, 11_181_642);
        assert!(total > trainable);
    }

    #[test]
    fn resnet50_is_bottleneck_v1_5() {
        let net = build(Arch::Resnet50, 1000, 0.0, Device::Cpu);
        let trainable: u64 = net
            .vs
            .trainable_variables()
            .iter()
            .map(|t| t.numel() as u64)
            .sum();
        // torchvision resnet50: 25,557,032 parameters.
        assert_eq!(trainable, 25_557_032);
        let vars = net.vs.variables();
        assert_eq!(vars["layer2.0.conv2.weight"].size(), vec![128, 128, 3, 3]);
        assert_eq!(net.convs.len(), 53);
    }

    #[test]
    fn small_cnn_forward_shape() {
        let net = build(Arch::SmallCnn, 4, 0.5, Device::Cpu);
        let x = Tensor::zeros([2, 3, 32, 32], (tch::Kind::Float, Device::Cpu));
        assert_eq!(net.forward(&x, false).size(), vec![2, 4]);
        assert_eq!(net.convs.len(), 4);
        assert!(Network::is_head("fc.weight"));
        assert!(!Network::is_head("fc2.weight"));
    }
}
