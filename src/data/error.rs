//! Why a data set could not be loaded, worded for the person who wrote the profile: each
//! message names the profile key, the path it looked at and what it expected to find there.
use std::path::PathBuf;

/// The layout every message points back to.
const LAYOUT: &str = "expected a folder holding train/ and val/, each with one folder per class";
/// The files a class folder may hold.
const IMAGES: &str = ".jpg, .jpeg, .png or .gif images";

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("data.root: not set ({})", LAYOUT)]
    NoRoot,
    #[error("data.root: {}: no such folder ({})", .0.display(), LAYOUT)]
    RootMissing(PathBuf),
    #[error("data.root: {}: not a folder ({})", .0.display(), LAYOUT)]
    RootNotFolder(PathBuf),
    /// `train/` or `val/` is absent (or is a file).
    #[error(
        "data.root: {}: no such folder (expected {split}/ next to {other}/, with one folder per class)",
        path.display()
    )]
    SplitMissing {
        path: PathBuf,
        split: &'static str,
        other: &'static str,
    },
    #[error(
        "data.root: {}: no class folders (expected one folder per class, e.g. train/cats/ and \
         train/dogs/, each holding {})",
        .0.display(),
        IMAGES
    )]
    NoClasses(PathBuf),
    #[error("data.root: {}: class `{class}` has no images (expected {})", path.display(), IMAGES)]
    EmptyClass { path: PathBuf, class: String },
    #[error(
        "data.root: {}: class `{class}` is not among the train classes ({known}) (expected val/ \
         to use the class folder names of train/)",
        path.display()
    )]
    UnknownValClass {
        path: PathBuf,
        class: String,
        known: String,
    },
    #[error(
        "data.root: {}: no images (expected val/<class>/ folders holding {})",
        .0.display(),
        IMAGES
    )]
    EmptyVal(PathBuf),
    #[error("data.root: {}: cannot read: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}
