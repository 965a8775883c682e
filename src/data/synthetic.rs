//! A synthetic classification set that needs no download, for demos, tests and quick
//! comparisons of fine-tuning schedules.
//!
//! Each class is a combination of a shape, a texture and a hue. The combinations form a
//! Latin square (hue = shape + texture, modulo the table size), so once there are more
//! than two classes no single attribute names the class: every shape, texture and hue
//! is shared by several classes and only two of them together tell the class. That XOR
//! structure, plus random placement, size, rotation, colour jitter, a coloured and
//! textured background and pixel noise, keeps raw-pixel linear models (and mean-colour
//! statistics) well short of perfect, while a small CNN, which sees local shape and
//! texture, learns it.
//!
//! Every image is drawn from its own ChaCha stream, seeded from (seed, split, class,
//! index), so images render in parallel yet the output is byte-identical for a seed,
//! and growing `train_per_class` keeps the images already there.
use super::images::{Dataset, ImageSet};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use std::f32::consts::TAU;

const SHAPES: [&str; 6] = ["disc", "square", "triangle", "ring", "cross", "star"];
const TEXTURES: [&str; 6] = ["solid", "stripes", "checker", "dots", "grid", "zigzag"];
/// Names for the hue wheel in 30° steps, used only for class names.
const HUE_NAMES: [&str; 12] = [
    "red", "orange", "yellow", "lime", "green", "spring", "cyan", "azure", "blue", "violet",
    "magenta", "rose",
];

/// What makes a class: indices into `SHAPES` and `TEXTURES`, and a hue in degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Look {
    shape: usize,
    texture: usize,
    hue: f32,
}

impl Look {
    fn name(&self, class: usize) -> String {
        let hue = HUE_NAMES[((self.hue / 30.0).round() as usize) % HUE_NAMES.len()];
        format!(
            "c{class}-{}-{}-{hue}",
            SHAPES[self.shape], TEXTURES[self.texture]
        )
    }
}

/// The class table. With `m = ceil(sqrt(classes))` (at most the table size), class `c`
/// takes shape `c % m`, texture `c / m` and hue slot `(shape + texture) % m`; past
/// `m * m` classes further "layers" reuse the square with hues shifted between the
/// slots, so every class stays distinct (though hues crowd together past ~70 classes).
fn looks(classes: u32) -> Vec<Look> {
    let classes = classes as usize;
    let mut m = 1;
    while m * m < classes && m < SHAPES.len().min(TEXTURES.len()) {
        m += 1;
    }
    let per_layer = m * m;
    let layers = classes.div_ceil(per_layer).max(1);
    let slots = (m * layers) as f32;
    (0..classes)
        .map(|c| {
            let (layer, r) = (c / per_layer, c % per_layer);
            let (shape, texture) = (r % m, r / m);
            let slot = ((shape + texture) % m) * layers + layer;
            Look {
                shape,
                texture,
                hue: slot as f32 * 360.0 / slots,
            }
        })
        .collect()
}

/// Class names `generate` would give, without rendering anything.
pub fn class_names(classes: u32) -> Vec<String> {
    looks(classes)
        .iter()
        .enumerate()
        .map(|(c, l)| l.name(c))
        .collect()
}

/// `classes` classes of `side` x `side` images, `train_per_class` and `val_per_class`
/// of each, labels grouped by class. Same arguments, same bytes.
pub fn generate(
    classes: u32,
    train_per_class: u32,
    val_per_class: u32,
    side: u32,
    seed: u64,
) -> Dataset {
    let looks = looks(classes);
    Dataset {
        classes: looks.iter().enumerate().map(|(c, l)| l.name(c)).collect(),
        train: split(&looks, train_per_class, side, seed, 0),
        val: split(&looks, val_per_class, side, seed, 1),
        skipped: Vec::new(),
        warnings: Vec::new(),
    }
}

fn split(looks: &[Look], per_class: u32, side: u32, seed: u64, which: u64) -> ImageSet {
    let per = per_class as usize;
    let n = looks.len() * per;
    let bytes = 3 * side as usize * side as usize;
    let mut pixels = vec![0u8; n * bytes];
    if bytes > 0 {
        pixels
            .par_chunks_mut(bytes)
            .enumerate()
            .for_each(|(i, out)| {
                let (c, j) = (i / per, i % per);
                let seed = image_seed(seed, which, c as u64, j as u64);
                render(looks[c], side, seed, out);
            });
    }
    ImageSet {
        pixels,
        labels: (0..n).map(|i| (i / per) as i64).collect(),
        side,
        files: Vec::new(),
    }
}

/// SplitMix64's finaliser: neighbouring inputs give unrelated outputs.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn image_seed(seed: u64, split: u64, class: u64, index: u64) -> u64 {
    mix(mix(mix(mix(seed) ^ split) ^ class) ^ index)
}

/// HSV (hue in degrees, s and v in 0..1) to RGB in 0..1.
fn hsv(h: f32, s: f32, v: f32) -> [f32; 3] {
    let h = h.rem_euclid(360.0) / 60.0;
    let c = v * s;
    let x = c * (1.0 - ((h % 2.0) - 1.0).abs());
    let (r, g, b) = match h as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let m = v - c;
    [r + m, g + m, b + m]
}

fn fract(x: f32) -> f32 {
    x - x.floor()
}

/// Whether the point (u, v), in units of the shape's radius, lies inside the shape.
fn inside(shape: usize, u: f32, v: f32) -> bool {
    let d2 = u * u + v * v;
    match shape {
        0 => d2 <= 1.0,
        1 => u.abs() <= 0.82 && v.abs() <= 0.82,
        2 => {
            // Equilateral, circumradius 1.15 so its area is not much below the others'.
            let (u, v) = (u / 1.15, v / 1.15 + 0.1);
            v >= -0.5 && v <= 1.0 - 1.732 * u.abs()
        }
        3 => (0.3..=1.0).contains(&d2),
        4 => (u.abs() <= 0.32 && v.abs() <= 1.0) || (v.abs() <= 0.32 && u.abs() <= 1.0),
        _ => {
            if d2 > 1.0 {
                return false;
            }
            let k = fract(v.atan2(u) * 5.0 / TAU);
            let reach = 0.42 + 0.58 * (2.0 * k - 1.0).abs();
            d2 <= reach * reach
        }
    }
}

/// Whether texture coordinates (a, b), in periods, fall on the texture's first colour.
fn on_first(texture: usize, a: f32, b: f32) -> bool {
    match texture {
        0 => true,
        1 => fract(a) < 0.5,
        2 => (a.floor() as i64 + b.floor() as i64) & 1 == 0,
        3 => {
            let (x, y) = (fract(a) - 0.5, fract(b) - 0.5);
            x * x + y * y > 0.09
        }
        4 => fract(a) >= 0.3 && fract(b) >= 0.3,
        _ => fract(a + (fract(b * 0.5) * 2.0 - 1.0).abs()) < 0.5,
    }
}

/// A texture laid at an angle: pixel offsets to texture coordinates.
struct Pattern {
    kind: usize,
    cos: f32,
    sin: f32,
    inv_period: f32,
    phase: (f32, f32),
}

impl Pattern {
    fn random(kind: usize, period: f32, rng: &mut ChaCha8Rng) -> Self {
        let angle = rng.random_range(0.0..TAU);
        Self {
            kind,
            cos: angle.cos(),
            sin: angle.sin(),
            inv_period: 1.0 / period,
            phase: (rng.random::<f32>(), rng.random::<f32>()),
        }
    }

    fn first(&self, dx: f32, dy: f32) -> bool {
        let a = (self.cos * dx + self.sin * dy) * self.inv_period + self.phase.0;
        let b = (self.cos * dy - self.sin * dx) * self.inv_period + self.phase.1;
        on_first(self.kind, a, b)
    }
}

/// Low-frequency colour blotches: a coarse random grid, bilinearly interpolated.
const GRID: usize = 4;

fn render(look: Look, side: u32, seed: u64, out: &mut [u8]) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n = side as usize;
    let s = side as f32;

    // Background: a two-colour gradient of a random, muted hue, a faint random texture
    // (so texture alone, seen anywhere, does not name the class) and blotches.
    let bg_hue = rng.random_range(0.0..360.0);
    let bg0 = hsv(
        bg_hue,
        rng.random_range(0.05..0.5),
        rng.random_range(0.2..0.8),
    );
    let bg1 = hsv(
        bg_hue + rng.random_range(-90.0..90.0),
        rng.random_range(0.05..0.5),
        rng.random_range(0.2..0.8),
    );
    let grad = rng.random_range(0.0..TAU);
    let (gx, gy) = (grad.cos() / s, grad.sin() / s);
    let bg_pattern = Pattern::random(
        rng.random_range(0..TEXTURES.len()),
        s * rng.random_range(0.08..0.25),
        &mut rng,
    );
    let bg_contrast = rng.random_range(0.0..0.1);
    let mut blotch = [[0.0f32; 3]; (GRID + 1) * (GRID + 1)];
    for cell in blotch.iter_mut() {
        for ch in cell.iter_mut() {
            *ch = rng.random_range(-0.15..0.15);
        }
    }

    // The object.
    let r = s * rng.random_range(0.2..0.34);
    let margin = r * 0.7;
    let cx = rng.random_range(margin..(s - margin).max(margin + 1e-3));
    let cy = rng.random_range(margin..(s - margin).max(margin + 1e-3));
    let turn = rng.random_range(0.0..TAU);
    let (cos, sin) = (turn.cos(), turn.sin());
    let inv_rx = 1.0 / (r * rng.random_range(0.85..1.15));
    let inv_ry = 1.0 / (r * rng.random_range(0.85..1.15));
    let sat = rng.random_range(0.55..0.95);
    let val = rng.random_range(0.65..1.0);
    let first = hsv(look.hue + rng.random_range(-12.0..12.0), sat, val);
    let second = hsv(
        look.hue + rng.random_range(-12.0..12.0),
        sat * rng.random_range(0.6..1.0),
        val * rng.random_range(0.3..0.5),
    );
    let pattern = Pattern::random(look.texture, r * rng.random_range(0.45..0.65), &mut rng);
    let light = rng.random_range(0.0..TAU);
    let (lx, ly) = (0.15 * light.cos(), 0.15 * light.sin());
    let reach = r * 1.3;

    let noise_amp = rng.random_range(4.0..14.0f32);
    // xorshift32 for per-pixel noise: cheap enough for every pixel; never zero.
    let mut state = rng.random::<u32>() | 1;
    let plane = n * n;
    let cell = GRID as f32 / s;
    for y in 0..n {
        let py = y as f32 + 0.5;
        let fy = py * cell;
        let (iy, ty) = (
            (fy as usize).min(GRID - 1),
            fract(fy.min(GRID as f32 - 1e-3)),
        );
        let dy = py - cy;
        for x in 0..n {
            let px = x as f32 + 0.5;
            let dx = px - cx;
            let on_object = if dx.abs() <= reach && dy.abs() <= reach {
                let u = (cos * dx + sin * dy) * inv_rx;
                let v = (cos * dy - sin * dx) * inv_ry;
                inside(look.shape, u, v).then_some((u, v))
            } else {
                None
            };
            let mut rgb = if let Some((u, v)) = on_object {
                let shade = 1.0 + lx * u + ly * v;
                let c = if pattern.first(dx, dy) { first } else { second };
                [c[0] * shade, c[1] * shade, c[2] * shade]
            } else {
                let t = 0.5 + (px - s * 0.5) * gx + (py - s * 0.5) * gy;
                let fx = px * cell;
                let (ix, tx) = (
                    (fx as usize).min(GRID - 1),
                    fract(fx.min(GRID as f32 - 1e-3)),
                );
                let k = iy * (GRID + 1) + ix;
                let (b00, b01) = (blotch[k], blotch[k + 1]);
                let (b10, b11) = (blotch[k + GRID + 1], blotch[k + GRID + 2]);
                let tex = if bg_pattern.first(px, py) {
                    bg_contrast
                } else {
                    -bg_contrast
                };
                let mut c = [0.0; 3];
                for ch in 0..3 {
                    let top = b00[ch] + (b01[ch] - b00[ch]) * tx;
                    let bottom = b10[ch] + (b11[ch] - b10[ch]) * tx;
                    c[ch] = bg0[ch] + (bg1[ch] - bg0[ch]) * t + top + (bottom - top) * ty + tex;
                }
                c
            };
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let bytes = state.to_le_bytes();
            let i = y * n + x;
            for ch in 0..3 {
                rgb[ch] = rgb[ch] * 255.0 + (bytes[ch] as f32 - 127.5) * (noise_amp / 127.5);
                out[ch * plane + i] = rgb[ch].clamp(0.0, 255.0) as u8;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// Mean R, G, B over all images of class `c`.
    fn mean_colour(set: &ImageSet, c: i64) -> [f64; 3] {
        let plane = (set.side * set.side) as usize;
        let mut sum = [0.0; 3];
        let mut count = 0.0;
        for i in (0..set.len()).filter(|&i| set.labels[i] == c) {
            let img = set.image(i);
            for (ch, s) in sum.iter_mut().enumerate() {
                *s += img[ch * plane..(ch + 1) * plane]
                    .iter()
                    .map(|&p| p as f64)
                    .sum::<f64>();
            }
            count += plane as f64;
        }
        sum.map(|s| s / count)
    }

    #[test]
    fn same_seed_same_bytes_other_seed_other_bytes() {
        let a = generate(4, 10, 3, 32, 7);
        let b = generate(4, 10, 3, 32, 7);
        let c = generate(4, 10, 3, 32, 8);
        assert_eq!(a, b);
        assert_ne!(a.train.pixels, c.train.pixels);
        assert_ne!(a.val.pixels, c.val.pixels);
        // Train and val are different images, not copies.
        assert_ne!(a.train.image(0), a.val.image(0));
    }

    #[test]
    fn more_images_per_class_keep_the_existing_ones() {
        let small = generate(3, 4, 2, 16, 1);
        let big = generate(3, 6, 2, 16, 1);
        assert_eq!(small.train.image(4), big.train.image(6)); // class 1, index 0
        assert_eq!(small.val, big.val);
    }

    #[test]
    fn shapes_labels_and_balance() {
        let d = generate(5, 12, 4, 24, 0);
        assert_eq!(d.classes.len(), 5);
        assert_eq!(d.train.side, 24);
        assert_eq!(d.train.len(), 60);
        assert_eq!(d.val.len(), 20);
        assert_eq!(d.train.pixels.len(), 60 * 3 * 24 * 24);
        assert_eq!(d.val.pixels.len(), 20 * 3 * 24 * 24);
        assert_eq!(d.train.class_counts(5), vec![12; 5]);
        assert_eq!(d.val.class_counts(5), vec![4; 5]);
        assert!(d.skipped.is_empty());
        assert_eq!(d.classes[0], "c0-disc-solid-red");
        let mut names = d.classes.clone();
        names.dedup();
        assert_eq!(names.len(), 5);
        assert_eq!(generate(0, 5, 5, 8, 0).train.len(), 0);
        assert_eq!(generate(2, 0, 1, 8, 0).train.len(), 0);
    }

    #[test]
    fn class_looks_are_distinct_and_no_attribute_alone_names_a_class() {
        for classes in [3u32, 4, 9, 10, 36, 40, 100] {
            let l = looks(classes);
            for i in 0..l.len() {
                for j in 0..i {
                    assert_ne!(l[i], l[j], "{classes} classes: {i} and {j} look alike");
                    // Any two classes differ in at least two attributes, except across
                    // layers where only the hue moves.
                    let diff = usize::from(l[i].shape != l[j].shape)
                        + usize::from(l[i].texture != l[j].texture)
                        + usize::from(l[i].hue != l[j].hue);
                    assert!(diff >= 2 || classes > 36, "{classes}: {i} vs {j}");
                }
            }
            // Each shape, texture and hue in use belongs to several classes.
            if [4, 9, 10, 36].contains(&classes) {
                for a in &l {
                    assert!(l.iter().filter(|o| o.shape == a.shape).count() >= 2);
                    assert!(l.iter().filter(|o| o.texture == a.texture).count() >= 2);
                    assert!(l.iter().filter(|o| o.hue == a.hue).count() >= 2);
                }
            }
        }
    }

    #[test]
    fn classes_differ_in_colour_yet_images_vary_within_a_class() {
        let d = generate(4, 48, 1, 32, 3);
        let looks = looks(4);
        // Classes 0 and 1 have different hues (red, cyan).
        assert_ne!(looks[0].hue, looks[1].hue);
        let (m0, m1) = (mean_colour(&d.train, 0), mean_colour(&d.train, 1));
        assert!(m0[0] - m1[0] > 15.0, "red {m0:?} vs cyan {m1:?}");
        assert!(m1[2] - m0[2] > 15.0, "red {m0:?} vs cyan {m1:?}");

        // Per-pixel standard deviation across the images of one class: large, because
        // the object moves, turns and changes colour and the background changes.
        let bytes = d.train.image(0).len();
        for c in 0..4 {
            let imgs: Vec<&[u8]> = (0..d.train.len())
                .filter(|&i| d.train.labels[i] == c)
                .map(|i| d.train.image(i))
                .collect();
            let k = imgs.len() as f64;
            let mut total = 0.0;
            for p in 0..bytes {
                let mean = imgs.iter().map(|im| im[p] as f64).sum::<f64>() / k;
                let var = imgs
                    .iter()
                    .map(|im| (im[p] as f64 - mean).powi(2))
                    .sum::<f64>()
                    / k;
                total += var.sqrt();
            }
            let std = total / bytes as f64;
            eprintln!("class {c}: mean per-pixel std {std:.1}");
            assert!(std > 35.0, "class {c}: per-pixel std {std:.1}");
        }
    }

    /// Nearest class mean on raw pixels is the simplest linear read-out; if it got near
    /// 100% the set would be too easy to say anything about fine-tuning.
    #[test]
    fn raw_pixel_nearest_mean_is_far_from_perfect() {
        let d = generate(4, 64, 32, 32, 11);
        let bytes = d.train.image(0).len();
        let means: Vec<Vec<f64>> = (0..4)
            .map(|c| {
                let mut m = vec![0.0; bytes];
                let idx: Vec<usize> = (0..d.train.len())
                    .filter(|&i| d.train.labels[i] == c)
                    .collect();
                for &i in &idx {
                    for (a, &p) in m.iter_mut().zip(d.train.image(i)) {
                        *a += p as f64 / idx.len() as f64;
                    }
                }
                m
            })
            .collect();
        let correct = (0..d.val.len())
            .filter(|&i| {
                let img = d.val.image(i);
                let dist = |m: &Vec<f64>| -> f64 {
                    m.iter()
                        .zip(img)
                        .map(|(a, &p)| (a - p as f64).powi(2))
                        .sum()
                };
                let best = (0..4)
                    .min_by(|&a, &b| dist(&means[a]).total_cmp(&dist(&means[b])))
                    .unwrap();
                best as i64 == d.val.labels[i]
            })
            .count();
        let acc = correct as f64 / d.val.len() as f64;
        eprintln!("nearest class mean on raw pixels: {acc:.2} (chance 0.25)");
        assert!(acc < 0.7, "nearest-mean accuracy {acc:.2}");
    }

    #[test]
    fn fast_enough() {
        let t = Instant::now();
        generate(4, 64, 16, 32, 0);
        let small = t.elapsed();
        let t = Instant::now();
        generate(10, 240, 60, 64, 0);
        let big = t.elapsed();
        eprintln!("synthetic: 4x80 at 32px {small:?}, 10x300 at 64px {big:?}");
        // Generous bounds: a debug build on a loaded 2-core machine.
        assert!(small.as_secs_f64() < 2.0, "{small:?}");
        assert!(big.as_secs_f64() < 20.0, "{big:?}");
    }
}
