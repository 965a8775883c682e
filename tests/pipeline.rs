//! The image pipeline's determinism: batches under a seed, in memory or streamed from
//! disk. One test, not several: every check seeds the one torch generator, and tests
//! running at the same time in this process would draw from it in between.
mod common;

use common::{step_losses, val_accs, write_image_folder};
use rifle_tui::data::batches::Normalization;
use rifle_tui::data::{image_folder, Augment, Dataset, DeviceData};
use rifle_tui::protocol::Event;
use tch::{Device, Tensor};

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

#[test]
fn batches_are_the_same_under_a_seed_in_memory_or_streamed() {
    let dir = tempfile::tempdir().unwrap();
    write_image_folder(dir.path(), 12, 4);

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
    let held = common::train_in_process(&text("4096"), None, |_| None);
    let streamed = common::train_in_process(&text("0.01"), None, |_| None);
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
    assert_eq!(step_losses(&held).len(), 9);
    assert_eq!(step_losses(&held), step_losses(&streamed));
    assert_eq!(val_accs(&held).len(), 3);
    assert_eq!(val_accs(&held), val_accs(&streamed));
}
