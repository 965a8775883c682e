//! A small convolutional network for tests and CPU demos: four convolutions in two
//! stages, batch norm, global average pooling. It trains in seconds on 32x32 images.
use super::layers::{batch_norm, ConvRegistry};
use tch::nn;

pub const FEATURES: i64 = 64;

pub fn backbone(p: &nn::Path, convs: &mut ConvRegistry) -> nn::FuncT<'static> {
    let widths = [(3, 16), (16, 32), (32, 48), (48, FEATURES)];
    let mut layers = Vec::new();
    for (i, &(c_in, c_out)) in widths.iter().enumerate() {
        let stage = if i < 2 { "block1" } else { "block2" };
        let conv = convs.conv2d(p / format!("conv{}", i + 1), stage, c_in, c_out, 3, 1, 1, 1);
        let bn = batch_norm(p / format!("bn{}", i + 1), c_out);
        layers.push((conv, bn));
    }
    nn::func_t(move |xs, train| {
        let mut x = xs.shallow_clone();
        for (i, (conv, bn)) in layers.iter().enumerate() {
            x = x.apply(conv).apply_t(bn, train).relu();
            if i % 2 == 1 {
                x = x.max_pool2d_default(2);
            }
        }
        x.adaptive_avg_pool2d([1, 1]).flatten(1, -1)
    })
}
