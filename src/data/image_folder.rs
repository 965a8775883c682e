//! Image folders in the torchvision `ImageFolder` layout: `root/train/<class>/*` and
//! `root/val/<class>/*`, the layout most fine-tuning tutorials ship their data in.
//!
//! `scan` only lists files (cheap, and what `check` runs), `load` decodes them.
use super::error::DataError;
use super::images::{Dataset, ImageSet, SkippedImage};
use image::imageops::FilterType;
use image::{DynamicImage, ImageFormat};
use rayon::prelude::*;
use std::fs;
use std::path::{Path, PathBuf};

/// Extensions the decoder is built for (compared lower-cased).
const EXTENSIONS: [&str; 4] = ["jpg", "jpeg", "png", "gif"];

/// What `scan` found: image paths with their labels, in a fixed order (by class, then
/// by path) so two scans of the same folder give the same data set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderScan {
    /// Sorted names of the class folders under `train/`; a label indexes this.
    pub classes: Vec<String>,
    pub train: Vec<(PathBuf, i64)>,
    pub val: Vec<(PathBuf, i64)>,
    /// Things that will not stop training but that the user should hear about.
    pub warnings: Vec<String>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DataError + '_ {
    move |source| DataError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn hidden(name: &str) -> bool {
    name.starts_with('.')
}

/// Visible sub-folders of `dir`, sorted by name.
fn class_dirs(dir: &Path) -> Result<Vec<(String, PathBuf)>, DataError> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        // `metadata` follows symlinks, so linked class folders count.
        if !hidden(&name) && fs::metadata(&path).is_ok_and(|m| m.is_dir()) {
            out.push((name, path));
        }
    }
    out.sort();
    Ok(out)
}

fn is_image(path: &Path) -> bool {
    let visible = path
        .file_name()
        .is_some_and(|n| !hidden(&n.to_string_lossy()));
    let known = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .is_some_and(|e| EXTENSIONS.contains(&e.as_str()));
    visible && known && fs::metadata(path).is_ok_and(|m| m.is_file())
}

/// Image files directly inside `dir` (sub-folders are not searched), sorted.
fn images_in(dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(io(dir))? {
        let path = entry.map_err(io(dir))?.path();
        if is_image(&path) {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

fn split_dir(root: &Path, split: &'static str, other: &'static str) -> Result<PathBuf, DataError> {
    let path = root.join(split);
    if path.is_dir() {
        Ok(path)
    } else {
        Err(DataError::SplitMissing { path, split, other })
    }
}

/// Lists `root`'s images and checks the layout, without decoding anything.
pub fn scan(root: &Path) -> Result<FolderScan, DataError> {
    match fs::metadata(root) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(DataError::RootMissing(root.to_path_buf()))
        }
        Err(e) => return Err(io(root)(e)),
        Ok(m) if !m.is_dir() => return Err(DataError::RootNotFolder(root.to_path_buf())),
        Ok(_) => {}
    }
    let train_dir = split_dir(root, "train", "val")?;
    let val_dir = split_dir(root, "val", "train")?;

    let train_classes = class_dirs(&train_dir)?;
    if train_classes.is_empty() {
        return Err(DataError::NoClasses(train_dir));
    }
    let classes: Vec<String> = train_classes.iter().map(|(n, _)| n.clone()).collect();
    let mut train = Vec::new();
    for (label, (name, dir)) in train_classes.iter().enumerate() {
        let files = images_in(dir)?;
        if files.is_empty() {
            return Err(DataError::EmptyClass {
                path: dir.clone(),
                class: name.clone(),
            });
        }
        train.extend(files.into_iter().map(|p| (p, label as i64)));
    }

    let mut val = Vec::new();
    let mut warnings = Vec::new();
    let mut seen = vec![false; classes.len()];
    for (name, dir) in class_dirs(&val_dir)? {
        let Ok(label) = classes.binary_search(&name) else {
            return Err(DataError::UnknownValClass {
                path: dir,
                class: name,
                known: classes.join(", "),
            });
        };
        let files = images_in(&dir)?;
        seen[label] = !files.is_empty();
        val.extend(files.into_iter().map(|p| (p, label as i64)));
    }
    if val.is_empty() {
        return Err(DataError::EmptyVal(val_dir));
    }
    for (name, _) in classes.iter().zip(&seen).filter(|(_, &s)| !s) {
        warnings.push(format!(
            "data.root: {}: no validation images for class `{name}`; its accuracy is not measured",
            val_dir.join(name).display()
        ));
    }
    Ok(FolderScan {
        classes,
        train,
        val,
        warnings,
    })
}

/// Decodes every image of `scan` in parallel into `resize` x `resize` squares. Files the
/// decoder rejects are left out and listed in `skipped`; nothing here panics on bad data.
pub fn load(scan: &FolderScan, resize: u32) -> Dataset {
    assemble(scan, resize, load_split)
}

/// Like `load`, but decodes nothing: the sets keep their files and are decoded batch by
/// batch while training (`data.memory_budget_mb`). Only each file's header is read here,
/// in parallel, so files that are not images are skipped and named up front as `load`
/// does; a file whose header reads but whose body does not is found when a batch needs it.
pub fn stream(scan: &FolderScan, resize: u32) -> Dataset {
    assemble(scan, resize, probe_split)
}

type Split = (ImageSet, Vec<SkippedImage>);

/// Both splits of `scan` read by `split`, with what was skipped and said about them.
fn assemble(scan: &FolderScan, resize: u32, split: fn(&[(PathBuf, i64)], u32) -> Split) -> Dataset {
    let (train, mut skipped) = split(&scan.train, resize);
    let (val, val_skipped) = split(&scan.val, resize);
    skipped.extend(val_skipped);
    Dataset {
        classes: scan.classes.clone(),
        train,
        val,
        skipped,
        warnings: scan.warnings.clone(),
    }
}

fn probe_split(files: &[(PathBuf, i64)], side: u32) -> Split {
    let probed: Vec<Result<(), String>> = files
        .par_iter()
        .map(|(path, _)| {
            std::panic::catch_unwind(|| probe(path))
                .unwrap_or_else(|_| Err("the decoder crashed on this file".into()))
        })
        .collect();
    let mut set = ImageSet {
        side,
        ..ImageSet::default()
    };
    let mut skipped = Vec::new();
    for ((path, label), result) in files.iter().zip(probed) {
        match result {
            Ok(()) => {
                set.files.push(path.clone());
                set.labels.push(*label);
            }
            Err(reason) => skipped.push(SkippedImage {
                path: path.clone(),
                reason,
            }),
        }
    }
    (set, skipped)
}

/// Reads the header only: the format (sniffed, else from the extension, as `decode`) and
/// a size that is not empty.
fn probe(path: &Path) -> Result<(), String> {
    let reader = image::ImageReader::open(path)
        .and_then(|r| r.with_guessed_format())
        .map_err(|e| e.to_string())?;
    let (w, h) = reader.into_dimensions().map_err(|e| e.to_string())?;
    if w == 0 || h == 0 {
        return Err("the image is empty (0 pixels wide or high)".into());
    }
    Ok(())
}

/// Decodes `files` in parallel into `side` x `side` CHW squares back to back: one batch
/// of a streamed set. A file that fails is left black and returned with the reason, so a
/// bad file costs one image, not the run.
pub fn decode_batch(files: &[&Path], side: u32) -> (Vec<u8>, Vec<SkippedImage>) {
    let bytes = 3 * side as usize * side as usize;
    let mut pixels = vec![0u8; files.len() * bytes];
    if bytes == 0 {
        return (pixels, Vec::new());
    }
    let failed: Vec<SkippedImage> = pixels
        .par_chunks_mut(bytes)
        .zip(files.par_iter())
        .filter_map(|(out, path)| {
            let result = std::panic::catch_unwind(|| decode(path, side))
                .unwrap_or_else(|_| Err("the decoder crashed on this file".into()));
            match result {
                Ok(image) => {
                    out.copy_from_slice(&image);
                    None
                }
                Err(reason) => Some(SkippedImage {
                    path: path.to_path_buf(),
                    reason,
                }),
            }
        })
        .collect();
    (pixels, failed)
}

fn load_split(files: &[(PathBuf, i64)], side: u32) -> Split {
    let decoded: Vec<Result<Vec<u8>, String>> = files
        .par_iter()
        .map(|(path, _)| {
            // Decoders are meant to return errors, but one bad file must not take the
            // whole load down if one panics instead.
            std::panic::catch_unwind(|| decode(path, side))
                .unwrap_or_else(|_| Err("the decoder crashed on this file".into()))
        })
        .collect();
    let mut set = ImageSet {
        pixels: Vec::with_capacity(files.len() * 3 * side as usize * side as usize),
        labels: Vec::with_capacity(files.len()),
        side,
        files: Vec::new(),
    };
    let mut skipped = Vec::new();
    for ((path, label), result) in files.iter().zip(decoded) {
        match result {
            Ok(pixels) => {
                set.pixels.extend_from_slice(&pixels);
                set.labels.push(*label);
            }
            Err(reason) => skipped.push(SkippedImage {
                path: path.clone(),
                reason,
            }),
        }
    }
    (set, skipped)
}

/// One file to a CHW `side` x `side` RGB square. The format is sniffed from the bytes
/// first (so a PNG saved as `.jpg` still loads), then taken from the extension.
///
/// The bytes are read here and handed to `image`'s non-generic `load_from_memory*`: those
/// are compiled inside the optimised `image` crate, whereas `ImageReader<BufReader<File>>`
/// would instantiate the decoders in this crate, unoptimised in a debug build (4x slower).
fn decode(path: &Path, side: u32) -> Result<Vec<u8>, String> {
    let bytes = fs::read(path).map_err(|e| e.to_string())?;
    let image = match image::guess_format(&bytes) {
        Ok(format) => image::load_from_memory_with_format(&bytes, format),
        Err(_) => match ImageFormat::from_path(path) {
            Ok(format) => image::load_from_memory_with_format(&bytes, format),
            Err(e) => Err(e),
        },
    }
    .map_err(|e| e.to_string())?;
    if image.width() == 0 || image.height() == 0 {
        return Err("the image is empty (0 pixels wide or high)".into());
    }
    Ok(square_chw(&image, side))
}

/// Shorter side to `side`, then the centre square, as CHW bytes. Cropping the centre
/// square first and resizing it gives the same picture while filtering fewer pixels.
/// `DynamicImage`'s own (non-generic) methods are used so the work runs in the optimised
/// `image` crate even in a debug build of this one.
pub fn square_chw(image: &DynamicImage, side: u32) -> Vec<u8> {
    let (w, h) = (image.width(), image.height());
    let short = w.min(h);
    let square = image.crop_imm((w - short) / 2, (h - short) / 2, short, short);
    let square = if short == side {
        square
    } else if short >= 2 * side {
        // Shrinking 2x or more: area averaging is as good an anti-aliasing filter here
        // and 2-3x faster than `image`'s float Triangle, whose taps grow with the ratio.
        square.thumbnail_exact(side, side)
    } else {
        square.resize_exact(side, side, FilterType::Triangle)
    };
    let rgb = square.into_rgb8();
    let plane = side as usize * side as usize;
    let mut out = vec![0u8; 3 * plane];
    let (r, rest) = out.split_at_mut(plane);
    let (g, b) = rest.split_at_mut(plane);
    let raw = &rgb.as_raw()[..3 * plane];
    // A plain index loop: iterator adaptors are several times slower unoptimised.
    for i in 0..plane {
        r[i] = raw[3 * i];
        g[i] = raw[3 * i + 1];
        b[i] = raw[3 * i + 2];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{Rgb, RgbImage};
    use std::time::Instant;

    fn write_image(path: &Path, w: u32, h: u32, colour: [u8; 3]) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        let img = RgbImage::from_pixel(w, h, Rgb(colour));
        img.save(path).unwrap();
    }

    /// A valid tree: two classes, a few images each, plus files that must be ignored.
    fn tree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        write_image(&r.join("train/cat/b.png"), 10, 6, [200, 0, 0]);
        write_image(&r.join("train/cat/a.JPG"), 6, 10, [190, 10, 10]);
        write_image(&r.join("train/dog/x.jpeg"), 8, 8, [0, 0, 200]);
        write_image(&r.join("train/dog/y.gif"), 8, 8, [0, 0, 190]);
        write_image(&r.join("val/cat/v.png"), 9, 9, [210, 0, 0]);
        write_image(&r.join("val/dog/w.jpg"), 9, 12, [0, 0, 210]);
        fs::write(r.join("train/cat/notes.txt"), "not an image").unwrap();
        fs::write(r.join("train/cat/.hidden.png"), "hidden").unwrap();
        fs::create_dir_all(r.join("train/.cache")).unwrap();
        fs::write(r.join("train/README.md"), "a file, not a class").unwrap();
        dir
    }

    #[test]
    fn scan_lists_classes_and_images_in_order() {
        let dir = tree();
        let s = scan(dir.path()).unwrap();
        assert_eq!(s.classes, vec!["cat", "dog"]);
        let names = |v: &[(PathBuf, i64)]| -> Vec<(String, i64)> {
            v.iter()
                .map(|(p, l)| (p.file_name().unwrap().to_string_lossy().into_owned(), *l))
                .collect()
        };
        assert_eq!(
            names(&s.train),
            vec![
                ("a.JPG".into(), 0),
                ("b.png".into(), 0),
                ("x.jpeg".into(), 1),
                ("y.gif".into(), 1)
            ]
        );
        assert_eq!(
            names(&s.val),
            vec![("v.png".into(), 0), ("w.jpg".into(), 1)]
        );
        assert!(s.warnings.is_empty());
        assert_eq!(scan(dir.path()).unwrap(), s);
    }

    #[test]
    fn load_decodes_resizes_and_crops() {
        let dir = tree();
        let d = load(&scan(dir.path()).unwrap(), 7);
        assert!(d.skipped.is_empty(), "{:?}", d.skipped);
        assert_eq!(d.train.side, 7);
        assert_eq!(d.train.len(), 4);
        assert_eq!(d.val.len(), 2);
        assert_eq!(d.train.pixels.len(), 4 * 3 * 49);
        assert_eq!(d.train.labels, vec![0, 0, 1, 1]);
        assert_eq!(d.train.class_counts(2), vec![2, 2]);
        // CHW: the first image is red, so its first plane is high and its last low.
        // (a.JPG is lossy, hence the tolerance.)
        let img = d.train.image(0);
        assert!(img[..49].iter().all(|&p| p > 150), "{:?}", &img[..49]);
        assert!(img[98..].iter().all(|&p| p < 60), "{:?}", &img[98..]);
        let blue = d.val.image(1);
        assert!(blue[98..].iter().all(|&p| p > 150));
    }

    #[test]
    fn resize_takes_the_centre_square() {
        // 30 x 10: left third red, middle third green, right third blue.
        let img = RgbImage::from_fn(30, 10, |x, _| match x / 10 {
            0 => Rgb([255, 0, 0]),
            1 => Rgb([0, 255, 0]),
            _ => Rgb([0, 0, 255]),
        });
        let out = square_chw(&DynamicImage::ImageRgb8(img), 5);
        assert_eq!(out.len(), 3 * 25);
        assert!(out[25..50].iter().all(|&g| g == 255), "{out:?}");
        assert!(out[..25].iter().chain(&out[50..]).all(|&p| p == 0));
        // Less than 2x smaller takes the Triangle path; same picture.
        let img = DynamicImage::ImageRgb8(RgbImage::from_fn(30, 10, |x, _| {
            Rgb([0, if (10..20).contains(&x) { 255 } else { 0 }, 0])
        }));
        let out = square_chw(&img, 7);
        assert_eq!(out.len(), 3 * 49);
        assert!(out[49..98].iter().all(|&g| g == 255), "{out:?}");
        // Upscaling works too, and same-size input is passed through.
        let tall = DynamicImage::ImageRgb8(RgbImage::from_pixel(3, 8, Rgb([1, 2, 3])));
        assert_eq!(square_chw(&tall, 12).len(), 3 * 144);
        assert_eq!(square_chw(&tall, 3)[..9], [1; 9]);
    }

    #[test]
    fn a_corrupt_file_is_skipped_and_named() {
        let dir = tree();
        let bad = dir.path().join("train/dog/broken.jpg");
        fs::write(&bad, b"\xFF\xD8\xFF\xE0 definitely not a jpeg").unwrap();
        let empty = dir.path().join("val/cat/empty.png");
        fs::write(&empty, b"").unwrap();
        // A PNG with a .jpg name is sniffed and loads.
        let misnamed = dir.path().join("train/cat/c.jpg");
        RgbImage::from_pixel(5, 5, Rgb([9, 9, 9]))
            .save_with_format(&misnamed, ImageFormat::Png)
            .unwrap();
        let d = load(&scan(dir.path()).unwrap(), 4);
        let skipped: Vec<&Path> = d.skipped.iter().map(|s| s.path.as_path()).collect();
        assert_eq!(skipped, vec![bad.as_path(), empty.as_path()]);
        assert!(d.skipped.iter().all(|s| !s.reason.is_empty()));
        assert_eq!(d.train.len(), 5);
        assert_eq!(d.train.labels, vec![0, 0, 0, 1, 1]);
        assert_eq!(d.val.len(), 2);
    }

    fn err(root: &Path) -> String {
        scan(root).unwrap_err().to_string()
    }

    #[test]
    fn stream_probes_headers_and_decode_batch_matches_load() {
        let dir = tree();
        let bad = dir.path().join("train/dog/broken.jpg");
        fs::write(&bad, b"not an image at all").unwrap();
        let s = scan(dir.path()).unwrap();
        let held = load(&s, 7);
        let streamed = stream(&s, 7);
        assert_eq!(streamed.skipped.len(), 1);
        assert_eq!(streamed.skipped[0].path, bad);
        assert_eq!(held.skipped.len(), 1);
        assert_eq!(streamed.train.labels, held.train.labels);
        assert_eq!(streamed.val.labels, held.val.labels);
        assert!(streamed.train.is_streamed() && streamed.train.pixels.is_empty());
        assert!(!held.train.is_streamed());
        assert_eq!(streamed.train.side, 7);
        let files: Vec<&Path> = streamed.train.files.iter().map(PathBuf::as_path).collect();
        let (pixels, failed) = decode_batch(&files, 7);
        assert!(failed.is_empty());
        assert_eq!(pixels, held.train.pixels);
        // A body that does not decode: black, and named.
        let (pixels, failed) = decode_batch(&[files[0], bad.as_path()], 7);
        assert_eq!(&pixels[..147], held.train.image(0));
        assert!(pixels[147..].iter().all(|&p| p == 0));
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].path, bad);
    }

    #[test]
    fn scan_errors_name_the_path_and_the_expectation() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();

        let missing = r.join("birds");
        let e = err(&missing);
        assert!(e.contains(&missing.display().to_string()) && e.contains("no such folder"));
        assert!(e.contains("train/ and val/"), "{e}");

        fs::write(&missing, "a file").unwrap();
        assert!(err(&missing).contains("not a folder"));

        let e = err(r);
        assert!(e.contains(&r.join("train").display().to_string()), "{e}");
        assert!(e.contains("no such folder"), "{e}");

        fs::create_dir_all(r.join("train")).unwrap();
        let e = err(r);
        assert!(e.contains(&r.join("val").display().to_string()), "{e}");

        fs::create_dir_all(r.join("val")).unwrap();
        let e = err(r);
        assert!(e.contains("no class folders"), "{e}");

        write_image(&r.join("train/ant/1.png"), 4, 4, [1, 1, 1]);
        fs::create_dir_all(r.join("train/bee")).unwrap();
        fs::write(r.join("train/bee/readme.txt"), "").unwrap();
        let e = err(r);
        assert!(e.contains("`bee`") && e.contains("no images"), "{e}");
        assert!(
            e.contains(&r.join("train/bee").display().to_string()),
            "{e}"
        );

        write_image(&r.join("train/bee/1.png"), 4, 4, [1, 1, 1]);
        let e = err(r);
        assert!(e.contains("val") && e.contains("no images"), "{e}");

        write_image(&r.join("val/wasp/1.png"), 4, 4, [1, 1, 1]);
        let e = err(r);
        assert!(e.contains("`wasp`") && e.contains("ant, bee"), "{e}");

        fs::remove_dir_all(r.join("val/wasp")).unwrap();
        write_image(&r.join("val/bee/1.png"), 4, 4, [1, 1, 1]);
        let s = scan(r).unwrap();
        assert_eq!(s.warnings.len(), 1);
        assert!(s.warnings[0].contains("`ant`"), "{:?}", s.warnings);
    }

    /// The real ants-and-bees set, when this checkout has it next to the crate.
    #[test]
    fn hymenoptera_loads_when_present() {
        let root =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/datasets/hymenoptera_data");
        if !root.is_dir() {
            eprintln!("skipping: {} is absent", root.display());
            return;
        }
        let t = Instant::now();
        let s = scan(&root).unwrap();
        let scanned = t.elapsed();
        assert_eq!(s.classes, vec!["ants", "bees"]);
        let t = Instant::now();
        let d = load(&s, 256);
        let loaded = t.elapsed();
        eprintln!(
            "hymenoptera: scan {scanned:?}, load {} + {} images at 256px {loaded:?}, skipped {:?}",
            d.train.len(),
            d.val.len(),
            d.skipped
        );
        assert_eq!(
            d.train.len() + d.val.len() + d.skipped.len(),
            s.train.len() + s.val.len()
        );
        assert!(d.train.len() >= 240 && d.val.len() >= 150);
        assert_eq!(d.train.pixels.len(), d.train.len() * 3 * 256 * 256);
    }
}
