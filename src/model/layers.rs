//! Building blocks that remember every convolution they create, in network order.
//!
//! tch models are closures without forward hooks, so the per-layer monitor finds its
//! layers through this list rather than by sorting variable names (which would put an
//! EfficientNet block's `_depthwise_conv` before its `_expand_conv`).
use tch::nn;

/// The convolutions of a network in the order the forward pass meets them.
#[derive(Debug, Default, Clone)]
pub struct ConvRegistry {
    /// (variable path of the layer, stage it belongs to)
    pub layers: Vec<(String, String)>,
}

impl ConvRegistry {
    /// A bias-free 2-D convolution at `path`, recorded under `stage`.
    #[allow(clippy::too_many_arguments)]
    pub fn conv2d(
        &mut self,
        path: nn::Path,
        stage: &str,
        c_in: i64,
        c_out: i64,
        kernel: i64,
        stride: i64,
        padding: i64,
        groups: i64,
    ) -> nn::Conv2D {
        let name = path.components().collect::<Vec<_>>().join(".");
        self.layers.push((name, stage.to_string()));
        let config = nn::ConvConfig {
            stride,
            padding,
            groups,
            bias: false,
            ws_init: nn::Init::Kaiming {
                dist: nn::init::NormalOrUniform::Normal,
                fan: nn::init::FanInOut::FanOut,
                non_linearity: nn::init::NonLinearity::ReLU,
            },
            ..Default::default()
        };
        nn::conv2d(path, c_in, c_out, kernel, config)
    }
}

/// Batch norm with PyTorch's defaults (eps 1e-5, momentum 0.1), so imported running
/// statistics mean what they meant in PyTorch.
pub fn batch_norm(path: nn::Path, channels: i64) -> nn::BatchNorm {
    nn::batch_norm2d(path, channels, Default::default())
}
