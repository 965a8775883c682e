//! ResNet-18/34/50 with torchvision's variable names (`conv1`, `bn1`, `layer2.0.conv1`,
//! `layer2.0.downsample.0`, `fc`), so converted torchvision or timm weights load as they are.
//! ResNet-50 is v1.5: the stride sits on the 3x3 convolution of the bottleneck.
use super::layers::{batch_norm, ConvRegistry};
use tch::nn;
use tch::Tensor;

#[derive(Debug, Clone, Copy)]
pub enum Depth {
    D18,
    D34,
    D50,
}

impl Depth {
    fn blocks(self) -> [usize; 4] {
        match self {
            Depth::D18 => [2, 2, 2, 2],
            Depth::D34 | Depth::D50 => [3, 4, 6, 3],
        }
    }
    fn bottleneck(self) -> bool {
        matches!(self, Depth::D50)
    }
    /// Width of the pooled features the head sees.
    pub fn features(self) -> i64 {
        if self.bottleneck() {
            2048
        } else {
            512
        }
    }
}

/// A residual block: the main branch plus an optional projection of the shortcut.
struct Block {
    convs: Vec<(nn::Conv2D, nn::BatchNorm)>,
    downsample: Option<(nn::Conv2D, nn::BatchNorm)>,
}

impl Block {
    fn forward(&self, xs: &Tensor, train: bool) -> Tensor {
        let mut x = xs.shallow_clone();
        let last = self.convs.len() - 1;
        for (i, (conv, bn)) in self.convs.iter().enumerate() {
            x = x.apply(conv).apply_t(bn, train);
            if i != last {
                x = x.relu();
            }
        }
        let shortcut = match &self.downsample {
            Some((conv, bn)) => xs.apply(conv).apply_t(bn, train),
            None => xs.shallow_clone(),
        };
        (x + shortcut).relu()
    }
}

fn block(
    p: &nn::Path,
    convs: &mut ConvRegistry,
    stage: &str,
    depth: Depth,
    c_in: i64,
    width: i64,
    stride: i64,
) -> Block {
    let expansion = if depth.bottleneck() { 4 } else { 1 };
    let c_out = width * expansion;
    let mut main = Vec::new();
    if depth.bottleneck() {
        let shapes = [
            (c_in, width, 1, 1, 0),
            (width, width, 3, stride, 1),
            (width, c_out, 1, 1, 0),
        ];
        for (i, (ci, co, k, s, pad)) in shapes.into_iter().enumerate() {
            let conv = convs.conv2d(p / format!("conv{}", i + 1), stage, ci, co, k, s, pad, 1);
            main.push((conv, batch_norm(p / format!("bn{}", i + 1), co)));
        }
    } else {
        let shapes = [(c_in, width, stride), (width, width, 1)];
        for (i, (ci, co, s)) in shapes.into_iter().enumerate() {
            let conv = convs.conv2d(p / format!("conv{}", i + 1), stage, ci, co, 3, s, 1, 1);
            main.push((conv, batch_norm(p / format!("bn{}", i + 1), co)));
        }
    }
    let downsample = (stride != 1 || c_in != c_out).then(|| {
        let d = p / "downsample";
        let conv = convs.conv2d(&d / "0", stage, c_in, c_out, 1, stride, 0, 1);
        (conv, batch_norm(&d / "1", c_out))
    });
    Block {
        convs: main,
        downsample,
    }
}

pub fn backbone(p: &nn::Path, convs: &mut ConvRegistry, depth: Depth) -> nn::FuncT<'static> {
    let conv1 = convs.conv2d(p / "conv1", "stem", 3, 64, 7, 2, 3, 1);
    let bn1 = batch_norm(p / "bn1", 64);
    let expansion = if depth.bottleneck() { 4 } else { 1 };
    let mut blocks = Vec::new();
    let mut c_in = 64;
    for (stage_index, &count) in depth.blocks().iter().enumerate() {
        let stage = format!("layer{}", stage_index + 1);
        let width = 64 << stage_index;
        let sp = p / stage.as_str();
        for b in 0..count {
            let stride = if b == 0 && stage_index > 0 { 2 } else { 1 };
            blocks.push(block(&(&sp / b), convs, &stage, depth, c_in, width, stride));
            c_in = width * expansion;
        }
    }
    nn::func_t(move |xs, train| {
        let mut x = xs.apply(&conv1).apply_t(&bn1, train).relu().max_pool2d(
            [3, 3],
            [2, 2],
            [1, 1],
            [1, 1],
            false,
        );
        for b in &blocks {
            x = b.forward(&x, train);
        }
        x.adaptive_avg_pool2d([1, 1]).flatten(1, -1)
    })
}
