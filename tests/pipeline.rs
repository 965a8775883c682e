//! The image pipeline's determinism: batches under a seed, in memory or streamed from
//! disk. One test, not several: every check seeds the one torch generator, and tests
//! running at the same time in this process would draw from it in between.
use rifle_tui::data::batches::Normalization;
use rifle_tui::data::{image_folder, Augment, Dataset, DeviceData};
use rifle_tui::profile::parse_profile;
use rifle_tui::protocol::Event;
use rifle_tui::train::{engine::NoSink, spawn, RunSpec};
use std::path::Path;
use tch::{Device, Tensor};

/// Writes `root/{train,val}/{a,b}/N.png`: class `a` reddish, `b` bluish, of assorted sizes.
fn image_folder(root: &Path, train_per_class: u32) {
    for (split, count) in [("train", train_per_class), ("val", 4)] {
        for (c, class) in ["a", "b"].into_iter().enumerate() {
            for i in 0..count {
                let path = root.join(format!("{split}/{class}/{i}.png"));
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                let (w, h) = (24 + (i % 5) * 4, 28 + (i % 3) * 6);
                image::RgbImage::from_fn(w, h, |x, y| {
                    let noise = ((x * 31 + y * 17 + i * 7) % 60) as u8;
                    if c == 0 {
                        image::Rgb([180 + noise, 40 + noise, 40])
                    } else {
                        image::Rgb([40, 40 + noise, 180 + noise])
                    }
                })
                .save(&path)
                .unwrap();
            }
        }
    }
}

fn device_data(d: &Dataset, crop: u32) -> DeviceData {
    DeviceData::new(
        d,
        crop,
        Some(Augment::RESIZED_CROP),
        Normalization::IMAGENET,
        Device::Cpu,
    )
}

/// Every training batch of one epoch, the generator seeded with `seed` first.
fn epoch(data: &DeviceData, seed: i64, batch: i64) -> Vec<(Tensor, Tensor)> {
    tch::manual_seed(seed);
    let mut order = data.epoch_order(batch);
    (0..order.len())
        .map(|_| data.train_batch(&mut order))
        .collect()
}

fn same(a: &[(Tensor, Tensor)], b: &[(Tensor, Tensor)]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|((xa, ya), (xb, yb))| xa.equal(xb) && ya.equal(yb))
}

/// Runs `text` to the end and returns every event.
fn run(text: &str) -> Vec<Event> {
    let profile = parse_profile(text, Path::new("test.yaml"), &[])
        .unwrap_or_else(|e| panic!("{e}"))
        .profile;
    let spec = RunSpec {
        profile,
        run_name: "test".into(),
        checkpoint_dir: None,
        warnings: Vec::new(),
    };
    let engine = spawn(spec, Box::new(NoSink));
    let mut events = Vec::new();
    for e in engine.events.iter() {
        let end = e.is_terminal();
        events.push(e);
        if end {
            break;
        }
    }
    engine.join();
    events
}

#[test]
fn batches_are_the_same_under_a_seed_in_memory_or_streamed() {
    let dir = tempfile::tempdir().unwrap();
    image_folder(dir.path(), 12);

    // The augmented batches depend on the seed alone.
    let scan = image_folder::scan(dir.path()).unwrap();
    let held = image_folder::load(&scan, 20);
    let streamed = image_folder::stream(&scan, 20);
    let (held, streamed) = (device_data(&held, 16), device_data(&streamed, 16));
    assert!(!held.is_streamed() && streamed.is_streamed());
    let first = epoch(&held, 5, 8);
    assert_eq!(first.len(), 3);
    for (x, y) in &first {
        assert_eq!(x.size(), vec![8, 3, 16, 16]);
        assert_eq!(y.size(), vec![8]);
    }
    assert!(same(&first, &epoch(&held, 5, 8)));
    assert!(!same(&first, &epoch(&held, 6, 8)));

    // Streamed from disk by the loader thread: the very same batches.
    assert!(same(&first, &epoch(&streamed, 5, 8)));
    assert!(same(&epoch(&held, 9, 5), &epoch(&streamed, 9, 5)));
    let val = |d: &DeviceData| d.val_batches(3).collect::<Vec<_>>();
    assert!(same(&val(&held), &val(&streamed)));
    assert_eq!(val(&held).len(), 3);

    // Whole runs: a budget too small for the folder streams it, says so, and trains
    // exactly as the in-memory run does.
    let text = |budget: &str| {
        format!(
            "name: folder
model:
  arch: small_cnn
data:
  source: image_folder
  root: {}
  image_size: 16
  resize: 20
  memory_budget_mb: {budget}
train:
  epochs: 3
  batch_size: 8
  optimizer:
    lr: 0.05
  seed: 4
  device: cpu
  threads: 1
metrics:
  log_every_steps: 1
",
            dir.path().display()
        )
    };
    // 32 images of 3 x 20 x 20 bytes: 37.5 KiB.
    let held = run(&text("4096"));
    let streamed = run(&text("0.01"));
    for events in [&held, &streamed] {
        assert!(
            matches!(events.last(), Some(Event::Finished { .. })),
            "{:?}",
            events.last()
        );
    }
    let budget_warnings = |events: &[Event]| -> Vec<String> {
        events
            .iter()
            .filter_map(|e| match e {
                Event::Warning { message } if message.contains("memory_budget_mb") => {
                    Some(message.clone())
                }
                _ => None,
            })
            .collect()
    };
    assert!(budget_warnings(&held).is_empty());
    let w = budget_warnings(&streamed);
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].contains("32 images") && w[0].contains("streaming") && w[0].contains("0.01 MiB"),
        "{w:?}"
    );
    let losses = |events: &[Event]| -> Vec<f64> {
        events
            .iter()
            .filter_map(|e| match e {
                Event::Step(m) => Some(m.loss),
                _ => None,
            })
            .collect()
    };
    let accs = |events: &[Event]| -> Vec<f64> {
        events
            .iter()
            .filter_map(|e| match e {
                Event::Epoch(m) => Some(m.val_acc),
                _ => None,
            })
            .collect()
    };
    assert_eq!(losses(&held).len(), 9);
    assert_eq!(losses(&held), losses(&streamed));
    assert_eq!(accs(&held).len(), 3);
    assert_eq!(accs(&held), accs(&streamed));
}
