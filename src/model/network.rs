//! A built network: its variables, its forward pass, and what the monitor needs to know
//! about its convolutions and its head.
use super::layers::ConvRegistry;
use super::{efficientnet, resnet, small_cnn};
use crate::data::batches::Normalization;
use crate::profile::Arch;
use crate::protocol::LayerInfo;
use tch::nn::{self, ModuleT};
use tch::{Device, Tensor};

/// Variable path of the head of the ResNets and the small CNN (`fc.weight`, `fc.bias`),
/// as in torchvision; see [`head_name`] for every architecture.
pub const HEAD: &str = "fc";

/// Variable path of `arch`'s head: `fc` (torchvision), `_fc` (EfficientNet).
pub fn head_name(arch: Arch) -> &'static str {
    match arch {
        Arch::EfficientnetLite0 => efficientnet::HEAD,
        Arch::SmallCnn | Arch::Resnet18 | Arch::Resnet34 | Arch::Resnet50 => HEAD,
    }
}

/// The input normalisation `arch`'s pretrained weights expect.
pub fn normalization(arch: Arch) -> Normalization {
    match arch {
        // TensorFlow's EfficientNet-Lite: (pixel - 127) / 128 on 0..255.
        Arch::EfficientnetLite0 => Normalization {
            mean: [127.0 / 255.0; 3],
            std: [128.0 / 255.0; 3],
        },
        Arch::SmallCnn | Arch::Resnet18 | Arch::Resnet34 | Arch::Resnet50 => {
            Normalization::IMAGENET
        }
    }
}

pub struct Network {
    pub vs: nn::VarStore,
    backbone: nn::FuncT<'static>,
    pub head: nn::Linear,
    pub head_in: i64,
    pub classes: i64,
    /// Variable path of the head (`fc`, `_fc`).
    pub head_name: &'static str,
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
            name: self.head_name.to_string(),
            stage: "head".to_string(),
            params: (self.head_in * self.classes + self.classes) as u64,
        }
    }

    /// Whether a variable belongs to the head rather than the backbone.
    pub fn is_head(&self, name: &str) -> bool {
        name.strip_prefix(self.head_name)
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
        Arch::EfficientnetLite0 => (
            efficientnet::backbone(&root, &mut registry),
            efficientnet::FEATURES,
        ),
    };
    let head_name = head_name(arch);
    // PyTorch's nn.Linear default init, which RIFLE's re-init repeats.
    let bound = 1.0 / (head_in as f64).sqrt();
    let head = nn::linear(
        &root / head_name,
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
        head_name,
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
        let (_, trainable) = net.param_counts();
        assert_eq!(trainable, 11_181_642);
        assert!(total > trainable);
    }

    #[test]
    fn resnet50_is_bottleneck_v1_5() {
        let net = build(Arch::Resnet50, 1000, 0.0, Device::Cpu);
        let (_, trainable) = net.param_counts();
        // torchvision resnet50: 25,557,032 parameters.
        assert_eq!(trainable, 25_557_032);
        let vars = net.vs.variables();
        assert_eq!(vars["layer2.0.conv2.weight"].size(), vec![128, 128, 3, 3]);
        assert_eq!(net.convs.len(), 53);
    }

    #[test]
    fn efficientnet_lite0_matches_the_pypi_package() {
        let net = build(Arch::EfficientnetLite0, 1000, 0.0, Device::Cpu);
        let (_, trainable) = net.param_counts();
        // efficientnet_lite_pytorch's lite0: 4,652,008 parameters, 49 convolutions.
        assert_eq!(trainable, 4_652_008);
        assert_eq!(net.convs.len(), 49);
        let vars = net.vs.variables();
        for name in [
            "_conv_stem.weight",
            "_bn0.running_var",
            "_blocks.0._depthwise_conv.weight",
            "_blocks.1._expand_conv.weight",
            "_blocks.15._project_conv.weight",
            "_conv_head.weight",
            "_bn1.bias",
            "_fc.weight",
        ] {
            assert!(vars.contains_key(name), "missing {name}");
        }
        assert!(!vars.contains_key("_blocks.0._expand_conv.weight"));
        let order: Vec<(&str, &str)> = net
            .convs
            .iter()
            .take(5)
            .map(|(i, _)| (i.name.as_str(), i.stage.as_str()))
            .collect();
        assert_eq!(
            order,
            [
                ("_conv_stem", "stem"),
                ("_blocks.0._depthwise_conv", "stage1"),
                ("_blocks.0._project_conv", "stage1"),
                ("_blocks.1._expand_conv", "stage2"),
                ("_blocks.1._depthwise_conv", "stage2"),
            ]
        );
        assert_eq!(net.convs[48].0.stage, "head");
        assert_eq!(net.head_info().name, "_fc");
        assert!(net.is_head("_fc.bias") && !net.is_head("fc.bias"));
        let x = Tensor::zeros([2, 3, 224, 224], (tch::Kind::Float, Device::Cpu));
        assert_eq!(net.forward(&x, true).size(), vec![2, 1000]);
    }

    #[test]
    fn small_cnn_forward_shape() {
        let net = build(Arch::SmallCnn, 4, 0.5, Device::Cpu);
        let x = Tensor::zeros([2, 3, 32, 32], (tch::Kind::Float, Device::Cpu));
        assert_eq!(net.forward(&x, false).size(), vec![2, 4]);
        assert_eq!(net.convs.len(), 4);
        assert!(net.is_head("fc.weight"));
        assert!(!net.is_head("fc2.weight"));
    }
}
