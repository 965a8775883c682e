//! `train.precision: bf16` and `train.channels_last` on the CPU: the same seeded run in
//! fp32 (row-major), bf16, channels-last and both, compared step by step and by the saved weights.
mod common;

use rifle_tui::protocol::Event;
use std::collections::HashMap;
use std::sync::Mutex;
use tch::{Kind, Tensor};

struct Run {
    losses: Vec<f64>,
    val_losses: Vec<f64>,
    weights: HashMap<String, Tensor>,
    warnings: Vec<String>,
}

/// Trains `text` with `extra` appended to its `train:` section; returns the step losses,
/// the epochs' validation losses and the weights of `last.safetensors`.
fn run(text: &str, extra: &str) -> Run {
    let text = text.replace("  threads: 1\n", &format!("  threads: 1\n{extra}"));
    let dir = tempfile::tempdir().unwrap();
    let events = common::train_in_process(&text, Some(dir.path()), |_| None);
    let (mut losses, mut val_losses, mut warnings) = (Vec::new(), Vec::new(), Vec::new());
    for e in &events {
        match e {
            Event::Step(m) => losses.push(m.loss),
            Event::Epoch(m) => val_losses.push(m.val_loss),
            Event::Warning { message } => warnings.push(message.clone()),
            _ => {}
        }
    }
    let last = events.last().expect("events");
    assert!(matches!(last, Event::Finished { .. }), "{last:?}");
    let weights = Tensor::read_safetensors(dir.path().join("last.safetensors"))
        .unwrap()
        .into_iter()
        .collect();
    Run {
        losses,
        val_losses,
        weights,
        warnings,
    }
}

/// The largest relative difference of two loss curves.
fn loss_gap(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    assert!(!a.is_empty());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs() / x.abs().max(1e-3))
        .fold(0.0, f64::max)
}

/// ‖a − b‖ / ‖a‖ over every float tensor (weights and batch-norm statistics) together.
fn weight_gap(a: &HashMap<String, Tensor>, b: &HashMap<String, Tensor>) -> f64 {
    assert_eq!(a.len(), b.len());
    let (mut diff, mut norm) = (0.0, 0.0);
    for (name, t) in a.iter().filter(|(_, t)| t.kind() == Kind::Float) {
        let u = &b[name];
        assert_eq!((u.kind(), u.size()), (Kind::Float, t.size()), "{name}");
        diff += (t - u).square().sum(Kind::Double).double_value(&[]);
        norm += t.square().sum(Kind::Double).double_value(&[]);
    }
    (diff / norm).sqrt()
}

const BF16: &str = "  precision: bf16\n";
const CHANNELS_LAST: &str = "  channels_last: true\n";
/// Row-major, explicitly: channels-last is the default.
const ROW_MAJOR: &str = "  channels_last: false\n";

/// Runs the four variants of `text` and checks them against fp32: the first `curve` step
/// losses, the epochs' validation losses and the final weights. `cl_tol` bounds
/// channels-last (the same arithmetic in other kernels), `bf16_tol` bf16.
fn check_variants(text: &str, curve: usize, cl_tol: f64, bf16_tol: f64) {
    // A run seeds and draws from libtorch's process-wide generator: one run at a time.
    static SERIAL: Mutex<()> = Mutex::new(());
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let fp32 = run(text, ROW_MAJOR);
    let cl = run(text, CHANNELS_LAST);
    let bf16 = run(text, &format!("{BF16}{ROW_MAJOR}"));
    let both = run(text, &format!("{BF16}{CHANNELS_LAST}"));
    for r in [&fp32, &cl, &bf16, &both] {
        assert!(
            r.warnings.iter().all(|w| !w.contains("precision")),
            "{:?}",
            r.warnings
        );
        assert!(r.losses.iter().all(|l| l.is_finite()), "{:?}", r.losses);
        assert_eq!(r.losses.len(), fp32.losses.len());
    }
    let gaps = |a: &Run, b: &Run| {
        [
            loss_gap(&a.losses[..curve], &b.losses[..curve]),
            loss_gap(&a.val_losses, &b.val_losses),
            weight_gap(&a.weights, &b.weights),
        ]
    };
    let variants = [
        ("channels-last", &fp32, &cl, cl_tol),
        ("bf16", &fp32, &bf16, bf16_tol),
        ("bf16 + channels-last", &fp32, &both, bf16_tol),
        ("bf16 + channels-last against bf16", &bf16, &both, bf16_tol),
    ];
    for (name, a, b, tol) in variants {
        let g = gaps(a, b);
        eprintln!("{name}: losses, val losses, weights off by {g:?}");
        assert!(
            g.iter().all(|g| *g < tol),
            "{name}: {g:?} (tolerance {tol})"
        );
    }
    for (name, r) in [("bf16", &bf16), ("bf16 + channels-last", &both)] {
        // bf16 really ran: its 8-bit mantissa shows in the first step already.
        let first = (fp32.losses[0] - r.losses[0]).abs() / fp32.losses[0];
        assert!(first > 1e-6, "{name}: first loss as fp32's ({first:e})");
        let w = weight_gap(&fp32.weights, &r.weights);
        assert!(w > 1e-5, "{name}: weights as fp32's ({w:e})");
    }
}

#[test]
fn small_cnn_bf16_and_channels_last_track_fp32() {
    // Measured: channels-last ~3e-7, bf16 ~1.5e-3.
    let text = common::tiny_profile(2, "  enabled: false");
    check_variants(&text, 10, 1e-4, 0.02);
}

/// Depthwise and strided "SAME" convolutions, randomly initialised at 32 px. Trained
/// from random weights on 32 px images, where the last stages' batch norm sees 1x1 maps,
/// lite0's training-mode losses amplify rounding after an update, so beyond the first
/// step only the validation losses and the weights are compared.
#[test]
fn efficientnet_lite0_bf16_and_channels_last_track_fp32() {
    let text = common::tiny_profile(1, "  enabled: false")
        .replace("arch: small_cnn", "arch: efficientnet_lite0")
        .replace("image_size: 16", "image_size: 32")
        .replace("train_per_class: 40", "train_per_class: 24")
        .replace("val_per_class: 12", "val_per_class: 8")
        .replace("lr: 0.05", "lr: 0.0005");
    // Measured: channels-last ~8e-5 (weights), bf16 ~6e-3.
    check_variants(&text, 1, 1e-3, 0.03);
}
