//! Batches on the training device: the decoded uint8 images are uploaded once, and
//! shuffling, cropping, flipping and normalisation run as tensor ops where the model is.
use super::images::{Dataset, ImageSet};
use tch::{Device, Kind, Tensor};

/// Per-channel statistics the network's input is normalised with, on pixels scaled to
/// 0..1 (see `model::network::normalization` for each architecture's).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Normalization {
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

impl Normalization {
    /// ImageNet statistics, which torchvision's and timm's ResNets expect.
    pub const IMAGENET: Normalization = Normalization {
        mean: [0.485, 0.456, 0.406],
        std: [0.229, 0.224, 0.225],
    };
}

struct Split {
    images: Tensor,
    labels: Tensor,
}

pub struct DeviceData {
    train: Split,
    val: Split,
    side: i64,
    crop: i64,
    augment: bool,
    mean: Tensor,
    std: Tensor,
    device: Device,
}

fn upload(set: &ImageSet, device: Device) -> Split {
    let n = set.len() as i64;
    let s = set.side as i64;
    Split {
        images: Tensor::from_slice(&set.pixels)
            .view([n, 3, s, s])
            .to_device(device),
        labels: Tensor::from_slice(&set.labels).to_device(device),
    }
}

impl DeviceData {
    /// `crop`: the side the network sees; at most the stored side.
    pub fn new(
        data: &Dataset,
        crop: u32,
        augment: bool,
        norm: Normalization,
        device: Device,
    ) -> Self {
        let side = data.train.side as i64;
        Self {
            train: upload(&data.train, device),
            val: upload(&data.val, device),
            side,
            crop: (crop as i64).min(side),
            augment,
            mean: Tensor::from_slice(&norm.mean)
                .view([1, 3, 1, 1])
                .to_device(device),
            std: Tensor::from_slice(&norm.std)
                .view([1, 3, 1, 1])
                .to_device(device),
            device,
        }
    }

    pub fn train_len(&self) -> i64 {
        self.train.labels.size()[0]
    }

    pub fn val_len(&self) -> i64 {
        self.val.labels.size()[0]
    }

    /// Batches an epoch has. A last batch of one image is dropped: batch norm cannot
    /// train on it.
    pub fn steps_per_epoch(&self, batch_size: i64) -> u64 {
        let n = self.train_len();
        let full = n / batch_size;
        let rest = n % batch_size;
        (full + i64::from(rest >= 2)) as u64
    }

    /// A fresh shuffle of the training set, split into batch index tensors.
    pub fn epoch_order(&self, batch_size: i64) -> Vec<Tensor> {
        let n = self.train_len();
        let perm = Tensor::randperm(n, (Kind::Int64, self.device));
        let steps = self.steps_per_epoch(batch_size) as i64;
        (0..steps)
            .map(|i| {
                let start = i * batch_size;
                perm.narrow(0, start, batch_size.min(n - start))
            })
            .collect()
    }

    /// A training batch: random crop and horizontal flip when augmenting.
    pub fn train_batch(&self, index: &Tensor) -> (Tensor, Tensor) {
        let images = self.train.images.index_select(0, index);
        let labels = self.train.labels.index_select(0, index);
        let images = if self.augment {
            flip_some(&random_crop(&images, self.side, self.crop))
        } else {
            centre_crop(&images, self.side, self.crop)
        };
        (self.normalise(&images), labels)
    }

    /// The validation set in order, in batches, centre-cropped.
    pub fn val_batches(&self, batch_size: i64) -> impl Iterator<Item = (Tensor, Tensor)> + '_ {
        let n = self.val_len();
        (0..n)
            .step_by(batch_size.max(1) as usize)
            .map(move |start| {
                let len = batch_size.min(n - start);
                let images =
                    centre_crop(&self.val.images.narrow(0, start, len), self.side, self.crop);
                (
                    self.normalise(&images),
                    self.val.labels.narrow(0, start, len),
                )
            })
    }

    fn normalise(&self, images: &Tensor) -> Tensor {
        (images.to_kind(Kind::Float) / 255.0 - &self.mean) / &self.std
    }
}

fn centre_crop(images: &Tensor, side: i64, crop: i64) -> Tensor {
    if crop == side {
        return images.shallow_clone();
    }
    let o = (side - crop) / 2;
    images.narrow(2, o, crop).narrow(3, o, crop)
}

/// An independent crop position for every image of the batch.
fn random_crop(images: &Tensor, side: i64, crop: i64) -> Tensor {
    if crop == side {
        return images.shallow_clone();
    }
    let b = images.size()[0];
    let offsets = Tensor::randint(side - crop + 1, [b, 2], (Kind::Int64, Device::Cpu));
    let offsets = Vec::<i64>::try_from(offsets.view([-1])).unwrap_or_default();
    let crops: Vec<Tensor> = (0..b)
        .map(|i| {
            let (y, x) = (offsets[2 * i as usize], offsets[2 * i as usize + 1]);
            images.get(i).narrow(1, y, crop).narrow(2, x, crop)
        })
        .collect();
    Tensor::stack(&crops, 0)
}

/// Mirrors a random half of the batch left to right.
fn flip_some(images: &Tensor) -> Tensor {
    let b = images.size()[0];
    let mask = Tensor::rand([b, 1, 1, 1], (Kind::Float, images.device())).lt(0.5);
    images.flip([3]).where_self(&mask, images)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dataset(n: usize, side: u32) -> Dataset {
        let per = 3 * (side * side) as usize;
        let pixels: Vec<u8> = (0..n * per).map(|i| (i % 251) as u8).collect();
        let set = ImageSet {
            pixels,
            labels: (0..n as i64).map(|i| i % 2).collect(),
            side,
        };
        Dataset {
            classes: vec!["a".into(), "b".into()],
            train: set.clone(),
            val: set,
            skipped: vec![],
            warnings: vec![],
        }
    }

    #[test]
    fn batches_have_the_crop_size_and_cover_the_epoch() {
        let data = DeviceData::new(
            &dataset(10, 12),
            8,
            true,
            Normalization::IMAGENET,
            Device::Cpu,
        );
        assert_eq!(data.steps_per_epoch(4), 3);
        let order = data.epoch_order(4);
        let seen: i64 = order.iter().map(|t| t.size()[0]).sum();
        assert_eq!(seen, 10);
        let (x, y) = data.train_batch(&order[0]);
        assert_eq!(x.size(), vec![4, 3, 8, 8]);
        assert_eq!(y.size(), vec![4]);
        let val: Vec<_> = data.val_batches(4).collect();
        assert_eq!(val.len(), 3);
        assert_eq!(val[2].0.size(), vec![2, 3, 8, 8]);
    }

    #[test]
    fn a_single_leftover_image_is_dropped() {
        let data = DeviceData::new(
            &dataset(9, 8),
            8,
            false,
            Normalization::IMAGENET,
            Device::Cpu,
        );
        assert_eq!(data.steps_per_epoch(4), 2);
    }

    #[test]
    fn normalisation_uses_imagenet_statistics() {
        let mut d = dataset(2, 4);
        d.val.pixels.iter_mut().for_each(|p| *p = 255);
        let data = DeviceData::new(&d, 4, false, Normalization::IMAGENET, Device::Cpu);
        let (x, _) = data.val_batches(2).next().unwrap();
        let red = x.get(0).get(0).get(0).get(0).double_value(&[]);
        assert!((red - (1.0 - 0.485) / 0.229).abs() < 1e-4);
    }
}
