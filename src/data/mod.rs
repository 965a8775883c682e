//! Training data as plain bytes: a synthetic generator and an image-folder loader, both
//! producing a [`Dataset`] of square CHW uint8 images; `batches` takes it to the device.
pub mod batches;
pub mod error;
pub mod image_folder;
pub mod images;
pub mod synthetic;

pub use batches::{Augment, DeviceData, EpochOrder};
pub use error::DataError;
pub use image_folder::FolderScan;
pub use images::{Dataset, ImageSet, SkippedImage};

use crate::profile::schema::{DataSection, DataSource};

/// Synthetic defaults, used when the profile leaves the key out.
pub const DEFAULT_CLASSES: u32 = 4;
pub const DEFAULT_TRAIN_PER_CLASS: u32 = 64;
pub const DEFAULT_VAL_PER_CLASS: u32 = 16;
/// `data.min_crop_area`'s default: milder than torchvision's 0.08, because the stored
/// square is already a centre crop of the photo and a fine-tuning set is small.
pub const DEFAULT_MIN_CROP_AREA: f64 = 0.35;
/// `data.max_crop_aspect`'s default, torchvision's: crops from 3:4 to 4:3.
pub const DEFAULT_MAX_CROP_ASPECT: f64 = 4.0 / 3.0;

/// The side image-folder images are stored at when `data.resize` is not set:
/// `image_size * 8 / 7`, rounded (224 -> 256, the usual ImageNet ratio), so training
/// crops have room to move.
pub fn default_resize(image_size: u32) -> u32 {
    ((u64::from(image_size) * 8 + 3) / 7) as u32
}

/// Loads the data a profile describes. `fallback_seed` (the run's `train.seed`) seeds the
/// synthetic generator when `data.seed` is not set.
pub fn load_dataset(section: &DataSection, fallback_seed: u64) -> Result<Dataset, DataError> {
    match section.source {
        DataSource::Synthetic => Ok(synthetic::generate(
            section.classes.unwrap_or(DEFAULT_CLASSES),
            section.train_per_class.unwrap_or(DEFAULT_TRAIN_PER_CLASS),
            section.val_per_class.unwrap_or(DEFAULT_VAL_PER_CLASS),
            section.image_size,
            section.seed.unwrap_or(fallback_seed),
        )),
        DataSource::ImageFolder => {
            let root = section.root.as_deref().ok_or(DataError::NoRoot)?;
            let scan = image_folder::scan(root)?;
            let resize = section
                .resize
                .unwrap_or_else(|| default_resize(section.image_size));
            let images = scan.train.len() + scan.val.len();
            let bytes = images as f64 * 3.0 * f64::from(resize) * f64::from(resize);
            let budget = section.memory_budget_mb * MIB;
            if bytes <= budget {
                return Ok(image_folder::load(&scan, resize));
            }
            let mut data = image_folder::stream(&scan, resize);
            data.warnings.push(format!(
                "data.memory_budget_mb: the {images} images resized to {resize}x{resize} take {} MiB, \
                 more than the budget of {} MiB: streaming them from disk, decoded batch by batch \
                 while the previous batch trains, instead of keeping them in memory",
                mib(bytes),
                mib(budget)
            ));
            Ok(data)
        }
    }
}

const MIB: f64 = 1024.0 * 1024.0;

/// Bytes as MiB, with decimals only where they matter.
fn mib(bytes: f64) -> String {
    let m = bytes / MIB;
    if m >= 10.0 {
        format!("{m:.0}")
    } else {
        format!("{}", (m * 1000.0).round() / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Built through serde so keys added to the schema later, with defaults, keep this
    /// compiling.
    fn section(json: serde_json::Value) -> DataSection {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn default_resize_keeps_the_imagenet_ratio() {
        assert_eq!(default_resize(224), 256);
        assert_eq!(default_resize(32), 37);
        assert_eq!(default_resize(7), 8);
    }

    #[test]
    fn synthetic_uses_its_own_seed_or_the_fallback() {
        let s = section(serde_json::json!({"source": "synthetic", "image_size": 16}));
        let d = load_dataset(&s, 5).unwrap();
        assert_eq!(d.classes.len(), DEFAULT_CLASSES as usize);
        assert_eq!(
            d.train.len(),
            (DEFAULT_CLASSES * DEFAULT_TRAIN_PER_CLASS) as usize
        );
        assert_eq!(
            d.val.len(),
            (DEFAULT_CLASSES * DEFAULT_VAL_PER_CLASS) as usize
        );
        assert_eq!(d.train.side, 16);
        assert_eq!(d, synthetic::generate(4, 64, 16, 16, 5));

        let s = section(serde_json::json!({
            "source": "synthetic", "image_size": 8, "classes": 3,
            "train_per_class": 2, "val_per_class": 1, "seed": 9
        }));
        assert_eq!(
            load_dataset(&s, 5).unwrap(),
            synthetic::generate(3, 2, 1, 8, 9)
        );
    }

    #[test]
    fn image_folder_needs_a_root_and_stores_the_resize_side() {
        let s = section(serde_json::json!({"source": "image_folder"}));
        assert!(matches!(load_dataset(&s, 0), Err(DataError::NoRoot)));

        let dir = tempfile::tempdir().unwrap();
        for (split, class) in [("train", "a"), ("train", "b"), ("val", "a"), ("val", "b")] {
            let path = dir.path().join(split).join(class).join("1.png");
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            image::RgbImage::new(20, 30).save(&path).unwrap();
        }
        let s = section(serde_json::json!({
            "source": "image_folder", "image_size": 14, "root": dir.path()
        }));
        let d = load_dataset(&s, 0).unwrap();
        assert_eq!(d.classes, vec!["a", "b"]);
        assert_eq!((d.train.side, d.train.len(), d.val.len()), (16, 2, 2));

        assert!(!d.train.is_streamed() && d.warnings.is_empty());

        // 4 images of 3 x 16 x 16 bytes are 3 KiB: past a 2 KiB budget they are streamed.
        let s = section(serde_json::json!({
            "source": "image_folder", "image_size": 14, "root": dir.path(),
            "memory_budget_mb": 2.0 / 1024.0
        }));
        let streamed = load_dataset(&s, 0).unwrap();
        assert!(streamed.train.is_streamed() && streamed.val.is_streamed());
        assert_eq!(streamed.train.labels, d.train.labels);
        assert_eq!(streamed.warnings.len(), 1);
        let w = &streamed.warnings[0];
        assert!(
            w.contains("0.003 MiB") && w.contains("budget of 0.002 MiB") && w.contains("streaming"),
            "{w}"
        );

        let s = section(serde_json::json!({
            "source": "image_folder", "image_size": 14, "resize": 14, "root": dir.path().join("nope")
        }));
        let e = load_dataset(&s, 0).unwrap_err().to_string();
        assert!(e.contains("nope") && e.contains("no such folder"), "{e}");
    }
}
