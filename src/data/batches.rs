//! Batches on the training device. A set kept in memory is uploaded once as uint8, and
//! shuffling, augmentation and normalisation run as tensor ops where the model is. A
//! streamed set (larger than `data.memory_budget_mb`) is decoded from disk batch by batch
//! on a loader thread, a couple of batches ahead of training, and then takes the same path.
//!
//! Every tensor lives on the engine thread: the loader thread hands over plain bytes. Every
//! random draw (the epoch's shuffle, each batch's crops and flips) is made from the torch
//! generator on the engine thread, in the same order whichever way the images come, so a
//! streamed run trains on exactly the batches an in-memory one would.
use super::image_folder::decode_batch;
use super::images::{Dataset, ImageSet, SkippedImage};
use crate::profile::schema::{CropMode, DataSection, DataSource};
use std::cell::RefCell;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
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

/// Training augmentation: a random crop of the stored square, resampled to the network's
/// input side where its size differs, and a horizontal flip, drawn independently for every
/// image and applied to the whole batch at once (one `affine_grid` + `grid_sample`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Augment {
    pub crop: Crop,
    /// Mirror left to right with probability one half.
    pub flip: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Crop {
    /// torchvision's `RandomResizedCrop`.
    Resized {
        /// The crop's area as a fraction of the stored square's, drawn uniformly.
        scale: (f64, f64),
        /// The crop's width over its height, drawn log-uniformly.
        ratio: (f64, f64),
    },
    /// torchvision's `RandomCrop`: the network's side in stored pixels, at a random
    /// whole-pixel offset, so the pixels are copied, not resampled.
    Fixed,
}

impl Augment {
    /// torchvision's `RandomResizedCrop` with [`DEFAULT_MIN_CROP_AREA`](super::DEFAULT_MIN_CROP_AREA)
    /// and its aspect ratios, 3/4 to 4/3.
    pub const RESIZED_CROP: Augment =
        Augment::resized(super::DEFAULT_MIN_CROP_AREA, super::DEFAULT_MAX_CROP_ASPECT);
    /// The RIFLE authors' `RandomCrop` and flip.
    pub const FIXED_CROP: Augment = Augment {
        crop: Crop::Fixed,
        flip: true,
    };
    /// The whole image, mirrored or not.
    pub const FLIP_ONLY: Augment = Augment {
        crop: Crop::Resized {
            scale: (1.0, 1.0),
            ratio: (1.0, 1.0),
        },
        flip: true,
    };

    /// A resized crop of at least `min_area` of the square, aspect ratio `1/max_aspect`
    /// to `max_aspect`, and the flip.
    pub const fn resized(min_area: f64, max_aspect: f64) -> Augment {
        Augment {
            crop: Crop::Resized {
                scale: (min_area, 1.0),
                ratio: (1.0 / max_aspect, max_aspect),
            },
            flip: true,
        }
    }

    /// What a profile's data section trains with: nothing without `augment`; the chosen
    /// crop and the flip for an image folder; only the flip for synthetic images, which are
    /// drawn at `image_size` with the shape filling much of it, so a crop could cut it off.
    pub fn for_data(d: &DataSection) -> Option<Augment> {
        match (d.augment, d.source) {
            (false, _) => None,
            (true, DataSource::ImageFolder) => Some(match d.crop {
                Some(CropMode::Fixed) => Augment::FIXED_CROP,
                Some(CropMode::Resized) | None => Augment::resized(
                    d.min_crop_area.unwrap_or(super::DEFAULT_MIN_CROP_AREA),
                    d.max_crop_aspect.unwrap_or(super::DEFAULT_MAX_CROP_ASPECT),
                ),
            }),
            (true, DataSource::Synthetic) => Some(Augment::FLIP_ONLY),
        }
    }

    /// One crop box per row of `u`, five uniform draws in [0, 1) each: area, aspect
    /// ratio, x, y, flip; `side` is the stored square's and `out` the network's. A resized
    /// box wider or higher than the square is clamped to it (where torchvision would draw
    /// again, then fall back to a centre crop).
    pub fn boxes(&self, u: &[f64], side: i64, out: i64) -> Vec<CropBox> {
        let lerp = |(lo, hi): (f64, f64), t: f64| lo + t * (hi - lo);
        let side_f = side as f64;
        // Fixed: a whole-pixel offset in 0..=side-out, as a fraction of the side.
        let offset = |t: f64| {
            let room = (side - out).max(0);
            ((t * (room + 1) as f64).floor() as i64).min(room) as f64 / side_f
        };
        u.chunks_exact(DRAWS)
            .map(|d| {
                let flip = self.flip && d[4] < 0.5;
                match self.crop {
                    Crop::Resized { scale, ratio } => {
                        let area = lerp(scale, d[0]);
                        let ratio = lerp((ratio.0.ln(), ratio.1.ln()), d[1]).exp();
                        let w = (area * ratio).sqrt().min(1.0);
                        let h = (area / ratio).sqrt().min(1.0);
                        CropBox {
                            x: d[2] * (1.0 - w),
                            y: d[3] * (1.0 - h),
                            w,
                            h,
                            flip,
                        }
                    }
                    Crop::Fixed => {
                        let w = (out.min(side)) as f64 / side_f;
                        CropBox {
                            x: offset(d[2]),
                            y: offset(d[3]),
                            w,
                            h: w,
                            flip,
                        }
                    }
                }
            })
            .collect()
    }
}

/// Uniform draws each image's augmentation takes.
const DRAWS: usize = 5;

/// A crop of the stored square, in fractions of its side: left, top, width, height.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CropBox {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
    /// Mirrored left to right.
    pub flip: bool,
}

impl CropBox {
    /// The whole square, mirrored or not.
    pub fn is_whole(&self) -> bool {
        (self.x, self.y, self.w, self.h) == (0.0, 0.0, 1.0, 1.0)
    }

    /// The centre `crop` x `crop` pixels of a `side` square, unflipped: what evaluation sees.
    pub fn centre(side: i64, crop: i64) -> CropBox {
        let o = ((side - crop) / 2) as f64 / side as f64;
        let w = crop as f64 / side as f64;
        CropBox {
            x: o,
            y: o,
            w,
            h: w,
            flip: false,
        }
    }
}

/// Resamples each image of `images` (`[B, C, S, S]`, float) inside its box to `out` x
/// `out`, bilinearly. With `align_corners` false, output pixel centres map to
/// `x + w * (j + 0.5) / out` of the input's width, so a box of exactly `out` input pixels
/// samples their centres and reproduces them.
pub fn resized_crop(images: &Tensor, boxes: &[CropBox], out: i64) -> Tensor {
    let b = boxes.len() as i64;
    let theta: Vec<f32> = boxes
        .iter()
        .flat_map(|c| {
            let sx = if c.flip { -c.w } else { c.w };
            [
                sx,
                0.0,
                2.0 * c.x + c.w - 1.0,
                0.0,
                c.h,
                2.0 * c.y + c.h - 1.0,
            ]
            .map(|v| v as f32)
        })
        .collect();
    let theta = Tensor::from_slice(&theta)
        .view([b, 2, 3])
        .to_device(images.device())
        .to_kind(images.kind());
    let channels = images.size()[1];
    let grid = Tensor::affine_grid_generator(&theta, [b, channels, out, out], false);
    // Bilinear (0); border padding (1), though boxes stay inside the image.
    images.grid_sampler(&grid, 0, 1, false)
}

/// Where a split's images are.
enum Images {
    /// `[N, 3, side, side]` uint8, on the training device.
    Held(Tensor),
    /// Decoded from these files when a batch needs them.
    Streamed(Arc<Vec<PathBuf>>),
}

struct Split {
    images: Images,
    labels: Tensor,
}

pub struct DeviceData {
    train: Split,
    val: Split,
    side: i64,
    crop: i64,
    augment: Option<Augment>,
    mean: Tensor,
    std: Tensor,
    device: Device,
    /// Streamed files that failed to decode, not yet reported (see `take_warnings`).
    warnings: RefCell<Vec<String>>,
    reported: RefCell<HashSet<PathBuf>>,
    /// A streamed batch of which no image could be read: the data is gone, not a file.
    unreadable: RefCell<Option<String>>,
}

fn upload(set: &ImageSet, device: Device) -> Split {
    let n = set.len() as i64;
    let s = set.side as i64;
    let images = if set.is_streamed() {
        Images::Streamed(Arc::new(set.files.clone()))
    } else {
        Images::Held(
            Tensor::from_slice(&set.pixels)
                .view([n, 3, s, s])
                .to_device(device),
        )
    };
    Split {
        images,
        labels: Tensor::from_slice(&set.labels).to_device(device),
    }
}

/// Batches decoded ahead by the loader thread; more would only hold memory, since decoding
/// a batch takes about as long as training on it or less.
const PREFETCH: usize = 2;

/// A loader thread decoding `batches` of a streamed split, in order, at most `PREFETCH`
/// batches ahead of the one being taken (plus the one it is decoding).
struct Loader {
    files: Arc<Vec<PathBuf>>,
    side: u32,
    batches: Vec<Vec<i64>>,
    next: usize,
    rx: Option<mpsc::Receiver<(Vec<u8>, Vec<SkippedImage>)>>,
    thread: Option<JoinHandle<()>>,
}

impl Loader {
    fn spawn(files: Arc<Vec<PathBuf>>, side: u32, batches: Vec<Vec<i64>>) -> Loader {
        let (tx, rx) = mpsc::sync_channel(PREFETCH);
        let (thread_files, thread_batches) = (files.clone(), batches.clone());
        let thread = std::thread::Builder::new()
            .name("rifle-loader".into())
            .spawn(move || {
                for batch in &thread_batches {
                    let decoded = decode_indices(&thread_files, batch, side);
                    // The epoch was dropped (a stop): nobody wants the rest.
                    if tx.send(decoded).is_err() {
                        return;
                    }
                }
            });
        // Without a thread (the system refused one) batches are decoded when taken.
        let (rx, thread) = match thread {
            Ok(t) => (Some(rx), Some(t)),
            Err(_) => (None, None),
        };
        Loader {
            files,
            side,
            batches,
            next: 0,
            rx,
            thread,
        }
    }

    /// The next batch's pixels, CHW back to back, and the files that failed.
    fn next(&mut self) -> (Vec<u8>, Vec<SkippedImage>) {
        let i = self.next;
        self.next += 1;
        if let Some(decoded) = self.rx.as_ref().and_then(|rx| rx.recv().ok()) {
            return decoded;
        }
        // The thread is gone (it cannot normally be): decode here instead.
        self.rx = None;
        decode_indices(&self.files, &self.batches[i], self.side)
    }
}

impl Drop for Loader {
    fn drop(&mut self) {
        // Closing the channel first makes a waiting `send` fail, so the thread ends after
        // the batch it is decoding.
        self.rx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn decode_indices(files: &[PathBuf], indices: &[i64], side: u32) -> (Vec<u8>, Vec<SkippedImage>) {
    let paths: Vec<&Path> = indices
        .iter()
        .map(|&i| files[i as usize].as_path())
        .collect();
    decode_batch(&paths, side)
}

/// One epoch's shuffled batches, taken in order by `DeviceData::train_batch`.
pub struct EpochOrder {
    /// Index tensors on the device, one per batch.
    batches: Vec<Tensor>,
    next: usize,
    /// For a streamed training set: the thread decoding the batches ahead.
    loader: Option<Loader>,
}

impl EpochOrder {
    /// Batches in the epoch.
    pub fn len(&self) -> usize {
        self.batches.len()
    }

    pub fn is_empty(&self) -> bool {
        self.batches.is_empty()
    }
}

impl DeviceData {
    /// `crop`: the side the network sees; at most the stored side. `augment`: what
    /// training batches get (see `Augment::for_data`); `None` takes the centre crop.
    pub fn new(
        data: &Dataset,
        crop: u32,
        augment: Option<Augment>,
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
            warnings: RefCell::default(),
            reported: RefCell::default(),
            unreadable: RefCell::default(),
        }
    }

    pub fn train_len(&self) -> i64 {
        self.train.labels.size()[0]
    }

    pub fn val_len(&self) -> i64 {
        self.val.labels.size()[0]
    }

    /// Whether the images are decoded from disk batch by batch.
    pub fn is_streamed(&self) -> bool {
        matches!(self.train.images, Images::Streamed(_))
    }

    /// Batches an epoch has. A last batch of one image is dropped: batch norm cannot
    /// train on it.
    pub fn steps_per_epoch(&self, batch_size: i64) -> u64 {
        let n = self.train_len();
        let full = n / batch_size;
        let rest = n % batch_size;
        (full + i64::from(rest >= 2)) as u64
    }

    /// A fresh shuffle of the training set, split into batches. The permutation is drawn
    /// here, on the engine thread, so the order never depends on the loader thread. A
    /// streamed set starts decoding the first batches now.
    pub fn epoch_order(&self, batch_size: i64) -> EpochOrder {
        let n = self.train_len();
        let perm = Tensor::randperm(n, (Kind::Int64, self.device));
        let steps = self.steps_per_epoch(batch_size) as i64;
        let batches: Vec<Tensor> = (0..steps)
            .map(|i| {
                let start = i * batch_size;
                perm.narrow(0, start, batch_size.min(n - start))
            })
            .collect();
        // Held images need no thread: a batch is an `index_select` and one batched
        // resample on the device, cheaper than handing it across threads.
        let loader = match &self.train.images {
            Images::Held(_) => None,
            Images::Streamed(files) => {
                let host = batches
                    .iter()
                    .map(|b| Vec::<i64>::try_from(b.to_device(Device::Cpu)).unwrap_or_default())
                    .collect();
                Some(Loader::spawn(files.clone(), self.side as u32, host))
            }
        };
        EpochOrder {
            batches,
            next: 0,
            loader,
        }
    }

    /// The epoch's next training batch, augmented (see `Augment`) or centre-cropped, and
    /// normalised. Panics past the epoch's last batch.
    pub fn train_batch(&self, order: &mut EpochOrder) -> (Tensor, Tensor) {
        let index = &order.batches[order.next];
        order.next += 1;
        let labels = self.train.labels.index_select(0, index);
        let images = match (&self.train.images, order.loader.as_mut()) {
            (Images::Held(all), _) => all.index_select(0, index),
            (Images::Streamed(_), Some(loader)) => {
                let (pixels, failed) = loader.next();
                self.note_failures(failed, index.size()[0] as usize);
                self.batch_tensor(&pixels)
            }
            (Images::Streamed(_), None) => unreachable!("a streamed epoch has a loader"),
        };
        let images = match &self.augment {
            Some(a) => {
                let b = images.size()[0];
                let u = Tensor::rand([b, DRAWS as i64], (Kind::Double, Device::Cpu));
                let u = Vec::<f64>::try_from(u.view([-1])).unwrap_or_default();
                let boxes = a.boxes(&u, self.side, self.crop);
                if self.side == self.crop && boxes.iter().all(CropBox::is_whole) {
                    // Nothing to resample (synthetic images): just mirror, on uint8.
                    let flips: Vec<bool> = boxes.iter().map(|c| c.flip).collect();
                    let mask = Tensor::from_slice(&flips)
                        .view([b, 1, 1, 1])
                        .to_device(self.device);
                    images.flip([3]).where_self(&mask, &images)
                } else {
                    resized_crop(&images.to_kind(Kind::Float), &boxes, self.crop)
                }
            }
            None => centre_crop(&images, self.side, self.crop),
        };
        (self.normalise(&images), labels)
    }

    /// The validation set in order, in batches, centre-cropped (a streamed set decoded
    /// ahead on a loader thread).
    pub fn val_batches(&self, batch_size: i64) -> impl Iterator<Item = (Tensor, Tensor)> + '_ {
        let n = self.val_len();
        let step = batch_size.max(1);
        let starts: Vec<i64> = (0..n).step_by(step as usize).collect();
        let mut loader = match &self.val.images {
            Images::Held(_) => None,
            Images::Streamed(files) => {
                let batches = starts
                    .iter()
                    .map(|&s| (s..(s + step).min(n)).collect())
                    .collect();
                Some(Loader::spawn(files.clone(), self.side as u32, batches))
            }
        };
        starts.into_iter().map(move |start| {
            let len = step.min(n - start);
            let images = match (&self.val.images, loader.as_mut()) {
                (Images::Held(all), _) => all.narrow(0, start, len),
                (Images::Streamed(_), Some(loader)) => {
                    let (pixels, failed) = loader.next();
                    self.note_failures(failed, len as usize);
                    self.batch_tensor(&pixels)
                }
                (Images::Streamed(_), None) => unreachable!("a streamed split has a loader"),
            };
            (
                self.normalise(&centre_crop(&images, self.side, self.crop)),
                self.val.labels.narrow(0, start, len),
            )
        })
    }

    /// Warnings about streamed files that failed to decode since the last call, each file
    /// once per run.
    pub fn take_warnings(&self) -> Vec<String> {
        std::mem::take(&mut *self.warnings.borrow_mut())
    }

    /// Why the streamed data cannot be read at all any more (its folder gone, the disk
    /// unmounted), once: training on stand-ins for every image would be no training.
    pub fn take_unreadable(&self) -> Option<String> {
        self.unreadable.borrow_mut().take()
    }

    fn note_failures(&self, failed: Vec<SkippedImage>, of: usize) {
        if of > 0 && failed.len() == of {
            *self.unreadable.borrow_mut() = Some(format!(
                "the dataset cannot be read any more: none of the {of} images of a batch \
                 could be (first: {}: {}); is its folder gone?",
                failed[0].path.display(),
                failed[0].reason
            ));
        }
        let mut reported = self.reported.borrow_mut();
        for f in failed {
            if reported.insert(f.path.clone()) {
                self.warnings.borrow_mut().push(format!(
                    "skipped {}: {} (streamed from disk: a black image stands in for it)",
                    f.path.display(),
                    f.reason
                ));
            }
        }
    }

    /// Decoded bytes of a batch to a `[B, 3, side, side]` uint8 tensor on the device.
    fn batch_tensor(&self, pixels: &[u8]) -> Tensor {
        let s = self.side;
        Tensor::from_slice(pixels)
            .view([-1, 3, s, s])
            .to_device(self.device)
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
            files: vec![],
        };
        Dataset {
            classes: vec!["a".into(), "b".into()],
            train: set.clone(),
            val: set,
            skipped: vec![],
            warnings: vec![],
        }
    }

    fn max_diff(a: &Tensor, b: &Tensor) -> f64 {
        (a - b).abs().max().double_value(&[])
    }

    /// `[b, 3, side, side]` float images with every pixel different.
    fn ramp(b: i64, side: i64) -> Tensor {
        Tensor::arange(b * 3 * side * side, (Kind::Float, Device::Cpu)).view([b, 3, side, side])
    }

    #[test]
    fn batches_have_the_crop_size_and_cover_the_epoch() {
        for augment in [Some(Augment::RESIZED_CROP), Some(Augment::FLIP_ONLY), None] {
            let data = DeviceData::new(
                &dataset(10, 12),
                8,
                augment,
                Normalization::IMAGENET,
                Device::Cpu,
            );
            assert_eq!(data.steps_per_epoch(4), 3);
            let mut order = data.epoch_order(4);
            assert_eq!(order.len(), 3);
            let seen: i64 = order.batches.iter().map(|t| t.size()[0]).sum();
            assert_eq!(seen, 10);
            let (x, y) = data.train_batch(&mut order);
            assert_eq!(x.size(), vec![4, 3, 8, 8]);
            assert_eq!(x.kind(), Kind::Float);
            assert_eq!(y.size(), vec![4]);
            let _ = data.train_batch(&mut order);
            let (x, _) = data.train_batch(&mut order);
            assert_eq!(x.size(), vec![2, 3, 8, 8]);
            let val: Vec<_> = data.val_batches(4).collect();
            assert_eq!(val.len(), 3);
            assert_eq!(val[2].0.size(), vec![2, 3, 8, 8]);
        }
    }

    #[test]
    fn a_single_leftover_image_is_dropped() {
        let data = DeviceData::new(
            &dataset(9, 8),
            8,
            None,
            Normalization::IMAGENET,
            Device::Cpu,
        );
        assert_eq!(data.steps_per_epoch(4), 2);
        assert_eq!(data.epoch_order(4).len(), 2);
    }

    #[test]
    fn normalisation_uses_imagenet_statistics() {
        let mut d = dataset(2, 4);
        d.val.pixels.iter_mut().for_each(|p| *p = 255);
        let data = DeviceData::new(&d, 4, None, Normalization::IMAGENET, Device::Cpu);
        let (x, _) = data.val_batches(2).next().unwrap();
        let red = x.get(0).get(0).get(0).get(0).double_value(&[]);
        assert!((red - (1.0 - 0.485) / 0.229).abs() < 1e-4);
    }

    #[test]
    fn the_whole_square_unflipped_is_the_image_itself() {
        let images = ramp(3, 9);
        // scale 1, ratio 1, no flip: every box is the whole square.
        let a = Augment {
            flip: false,
            ..Augment::FLIP_ONLY
        };
        let u: Vec<f64> = (0..3 * DRAWS).map(|i| (i as f64 * 0.37) % 1.0).collect();
        let boxes = a.boxes(&u, 9, 9);
        assert!(boxes
            .iter()
            .all(|b| (b.x, b.y, b.w, b.h, b.flip) == (0.0, 0.0, 1.0, 1.0, false)));
        let out = resized_crop(&images, &boxes, 9);
        assert_eq!(out.size(), vec![3, 3, 9, 9]);
        assert!(max_diff(&out, &images) < 1e-3);
    }

    #[test]
    fn the_centre_box_is_the_centre_crop() {
        let images = ramp(2, 12);
        let boxes = [CropBox::centre(12, 8); 2];
        let out = resized_crop(&images, &boxes, 8);
        assert!(max_diff(&out, &centre_crop(&images, 12, 8)) < 1e-3);
    }

    #[test]
    fn a_flip_mirrors_left_to_right() {
        let images = ramp(2, 10);
        let mut flipped = CropBox::centre(10, 10);
        flipped.flip = true;
        let out = resized_crop(&images, &[CropBox::centre(10, 10), flipped], 10);
        assert!(max_diff(&out.get(0), &images.get(0)) < 1e-3);
        assert!(max_diff(&out.get(1), &images.get(1).flip([2])) < 1e-3);
        // A crop's mirror is the mirror of the crop.
        let one = images.narrow(0, 0, 1);
        let mut centre = CropBox::centre(10, 6);
        let plain = resized_crop(&one, &[centre], 6);
        assert!(max_diff(&plain, &centre_crop(&one, 10, 6)) < 1e-3);
        centre.flip = true;
        let mirrored = resized_crop(&one, &[centre], 6);
        assert!(max_diff(&mirrored, &plain.flip([3])) < 1e-3);
    }

    #[test]
    fn flip_only_mirrors_about_half_the_batch_exactly() {
        let d = dataset(64, 6);
        let data = DeviceData::new(
            &d,
            6,
            Some(Augment::FLIP_ONLY),
            Normalization::IMAGENET,
            Device::Cpu,
        );
        let mut order = data.epoch_order(64);
        let index = order.batches[0].shallow_clone();
        let (x, _) = data.train_batch(&mut order);
        let Images::Held(all) = &data.train.images else {
            unreachable!()
        };
        let plain = data.normalise(&all.index_select(0, &index));
        let mut flipped = 0;
        for i in 0..64 {
            let (xi, pi) = (x.get(i), plain.get(i));
            if xi.equal(&pi) {
                continue;
            }
            assert!(
                xi.equal(&pi.flip([2])),
                "image {i} is neither itself nor its mirror"
            );
            flipped += 1;
        }
        assert!((16..48).contains(&flipped), "{flipped}");
    }

    #[test]
    fn boxes_stay_in_the_square_and_in_range() {
        let a = Augment::RESIZED_CROP;
        let u = Vec::<f64>::try_from(Tensor::rand([4000], (Kind::Double, Device::Cpu))).unwrap();
        let boxes = a.boxes(&u, 256, 224);
        assert_eq!(boxes.len(), 800);
        let mut flips = 0;
        for b in &boxes {
            assert!(
                b.x >= 0.0 && b.y >= 0.0 && b.x + b.w <= 1.0 + 1e-12 && b.y + b.h <= 1.0 + 1e-12
            );
            let area = b.w * b.h;
            assert!((0.35 - 1e-9..=1.0 + 1e-12).contains(&area), "{b:?}");
            let ratio = b.w / b.h;
            // Clamping to the square only ever brings the ratio towards 1.
            assert!((0.75 - 1e-9..=4.0 / 3.0 + 1e-9).contains(&ratio), "{b:?}");
            flips += usize::from(b.flip);
        }
        assert!((300..500).contains(&flips), "{flips}");
        // Small crops are resampled up: what the network sees is zoomed in.
        assert!(boxes.iter().any(|b| b.w < 0.7));
    }

    #[test]
    fn the_aspect_ratio_range_is_the_profiles() {
        let u = Vec::<f64>::try_from(Tensor::rand([4000], (Kind::Double, Device::Cpu))).unwrap();
        let ratios = |max_aspect: f64| {
            let a = Augment::resized(0.35, max_aspect);
            a.boxes(&u, 256, 224)
                .iter()
                .map(|b| b.w / b.h)
                .collect::<Vec<_>>()
        };
        for r in ratios(1.0) {
            assert!((r - 1.0).abs() < 1e-9, "{r}");
        }
        let wide = ratios(2.0);
        assert!(wide.iter().all(|r| (0.5 - 1e-9..=2.0 + 1e-9).contains(r)));
        // Both ends are drawn, past the default 3/4..4/3.
        assert!(wide.iter().any(|&r| r > 1.6) && wide.iter().any(|&r| r < 1.0 / 1.6));
    }

    #[test]
    fn a_fixed_crop_copies_pixels_at_whole_pixel_offsets_over_the_whole_range() {
        let (side, out) = (12, 8);
        let images = ramp(1, side).repeat([400, 1, 1, 1]);
        let u = Vec::<f64>::try_from(Tensor::rand(
            [400 * DRAWS as i64],
            (Kind::Double, Device::Cpu),
        ))
        .unwrap();
        let boxes = Augment::FIXED_CROP.boxes(&u, side, out);
        let crops = resized_crop(&images, &boxes, out);
        let mut offsets = HashSet::new();
        for (i, b) in boxes.iter().enumerate() {
            let (x, y) = (b.x * side as f64, b.y * side as f64);
            assert_eq!((x.fract(), y.fract()), (0.0, 0.0), "{b:?}");
            let (x, y) = (x as i64, y as i64);
            assert!((0..=side - out).contains(&x) && (0..=side - out).contains(&y));
            offsets.insert((x, y));
            let mut expected = images.get(i as i64).narrow(1, y, out).narrow(2, x, out);
            if b.flip {
                expected = expected.flip([2]);
            }
            // Copied, not resampled: equal to float rounding.
            assert!(max_diff(&crops.get(i as i64), &expected) < 1e-3, "{b:?}");
        }
        // Every offset of the 5 x 5 can be drawn, the corners included.
        assert_eq!(offsets.len(), 25, "{offsets:?}");
    }

    #[test]
    fn the_profile_chooses_the_crop() {
        let mut d: DataSection = serde_norway::from_str("source: image_folder\nroot: r").unwrap();
        assert_eq!(Augment::for_data(&d), Some(Augment::RESIZED_CROP));
        d.min_crop_area = Some(0.08);
        let Some(Augment {
            crop: Crop::Resized { scale, .. },
            flip: true,
        }) = Augment::for_data(&d)
        else {
            panic!("a resized crop")
        };
        assert_eq!(scale, (0.08, 1.0));
        d.max_crop_aspect = Some(2.0);
        let Some(Augment {
            crop: Crop::Resized { scale, ratio },
            ..
        }) = Augment::for_data(&d)
        else {
            panic!("a resized crop")
        };
        assert_eq!((scale, ratio), ((0.08, 1.0), (0.5, 2.0)));
        d.crop = Some(CropMode::Fixed);
        assert_eq!(Augment::for_data(&d), Some(Augment::FIXED_CROP));
        d.augment = false;
        assert_eq!(Augment::for_data(&d), None);
    }

    /// A tiny image folder: `n` noisy PNGs per class, of assorted sizes.
    fn folder(n: usize) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (split, count) in [("train", n), ("val", 3)] {
            for (c, class) in ["a", "b"].iter().enumerate() {
                for i in 0..count {
                    let path = dir.path().join(format!("{split}/{class}/{i}.png"));
                    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                    let (w, h) = (20 + i as u32 * 3, 24 + c as u32 * 5);
                    image::RgbImage::from_fn(w, h, |x, y| {
                        image::Rgb([
                            (x * 13 + y * 7 + i as u32) as u8,
                            (c * 120) as u8,
                            (y * 9) as u8,
                        ])
                    })
                    .save(&path)
                    .unwrap();
                }
            }
        }
        dir
    }

    #[test]
    fn a_streamed_file_that_breaks_is_reported_once_and_black() {
        let dir = folder(3);
        let scan = super::super::image_folder::scan(dir.path()).unwrap();
        let d = super::super::image_folder::stream(&scan, 16);
        // Readable when probed, broken by the time a batch needs it.
        std::fs::write(&d.train.files[0], b"\x89PNG\r\n\x1a\n").unwrap();
        let data = DeviceData::new(&d, 16, None, Normalization::IMAGENET, Device::Cpu);
        for _ in 0..2 {
            let mut order = data.epoch_order(6);
            let _ = data.train_batch(&mut order);
        }
        let w = data.take_warnings();
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("0.png") && w[0].contains("black"), "{w:?}");
        assert!(data.take_warnings().is_empty());
    }

    #[test]
    fn dropping_an_epoch_midway_stops_its_loader() {
        let dir = folder(8);
        let scan = super::super::image_folder::scan(dir.path()).unwrap();
        let d = super::super::image_folder::stream(&scan, 16);
        let data = DeviceData::new(&d, 16, None, Normalization::IMAGENET, Device::Cpu);
        let mut order = data.epoch_order(2);
        assert_eq!(order.len(), 8);
        let _ = data.train_batch(&mut order);
        // Joins the thread: it must notice nobody is listening.
        drop(order);
    }
}
