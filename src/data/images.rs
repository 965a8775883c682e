//! Decoded images as plain bytes: what both data sources produce and what `batches`
//! uploads to the device in one go. Kept free of tch so loading can be tested (and
//! parallelised) without libtorch.
use std::path::PathBuf;

/// Square RGB images of one split, stored back to back in CHW order (the layout a
/// `[N, 3, side, side]` uint8 tensor has), so the upload is a single copy.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ImageSet {
    /// `N x 3 x side x side` bytes, channels R, G, B.
    pub pixels: Vec<u8>,
    /// Class index of each image, `i64` because that is what cross-entropy takes.
    pub labels: Vec<i64>,
    /// Stored side; the network sees crops of `image_size` taken from it.
    pub side: u32,
    /// Streamed from disk (the set is larger than `data.memory_budget_mb`): the file of
    /// each image, decoded to `side` whenever a batch needs it, and `pixels` is empty.
    /// Empty when the images are in `pixels`.
    pub files: Vec<PathBuf>,
}

impl ImageSet {
    /// Bytes one image takes.
    pub fn image_bytes(&self) -> usize {
        3 * self.side as usize * self.side as usize
    }

    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Whether the images are decoded from `files` batch by batch instead of held here.
    pub fn is_streamed(&self) -> bool {
        !self.files.is_empty()
    }

    /// Bytes the whole set takes decoded.
    pub fn decoded_bytes(&self) -> u64 {
        self.len() as u64 * self.image_bytes() as u64
    }

    /// The `i`-th image, CHW. Panics when `i >= len()` or the set is streamed, like slice
    /// indexing.
    pub fn image(&self, i: usize) -> &[u8] {
        let n = self.image_bytes();
        &self.pixels[i * n..(i + 1) * n]
    }

    /// Images per class, for `classes` classes; labels outside `0..classes` are not counted.
    pub fn class_counts(&self, classes: usize) -> Vec<usize> {
        let mut counts = vec![0; classes];
        for &l in &self.labels {
            if let Some(c) = usize::try_from(l).ok().and_then(|l| counts.get_mut(l)) {
                *c += 1;
            }
        }
        counts
    }
}

/// An image the loader could not use; loading goes on without it so one bad file does
/// not cost a whole run, but it is reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedImage {
    pub path: PathBuf,
    /// The decoder's own words.
    pub reason: String,
}

/// A loaded data set: both splits share `classes` and the stored side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dataset {
    /// Class names, indexed by label.
    pub classes: Vec<String>,
    pub train: ImageSet,
    pub val: ImageSet,
    pub skipped: Vec<SkippedImage>,
    /// Things worth telling the user that do not stop training (e.g. a class with no
    /// validation images).
    pub warnings: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_slices_and_counts() {
        let set = ImageSet {
            pixels: (0..2 * 3 * 4).map(|i| i as u8).collect(),
            labels: vec![1, 1],
            side: 2,
            files: vec![],
        };
        assert_eq!(set.len(), 2);
        assert!(!set.is_empty());
        assert_eq!(set.image(1), &(12..24).collect::<Vec<u8>>()[..]);
        assert_eq!(set.class_counts(3), vec![0, 2, 0]);
        assert_eq!(set.class_counts(1), vec![0]);
        assert!(ImageSet::default().is_empty());
        assert!(!set.is_streamed());
        assert_eq!(set.decoded_bytes(), 24);
    }
}
