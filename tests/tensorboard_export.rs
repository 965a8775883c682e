//! `runs export --format tensorboard` read back by TensorBoard's own reader
//! (`EventAccumulator`, in `$RIFLE_PYTHON`, where `make setup` installs it): every epoch's
//! accuracy, every re-init and one curve a conv layer, as the run recorded them.
//! Without `$RIFLE_PYTHON` (a bare `cargo test`) the test says that it skips.
mod common;

use common::{rifle, stderr, stdout, tiny_profile, write};
use rifle_tui::protocol::Event;
use rifle_tui::runs::events_file::read_events;
use std::process::Command;

const READER: &str = r#"
import json, sys
try:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
except ImportError as e:
    print(e, file=sys.stderr)
    sys.exit(3)
acc = EventAccumulator(sys.argv[1], size_guidance={"scalars": 0})
acc.Reload()
print(json.dumps({t: [[s.step, s.value, s.wall_time] for s in acc.Scalars(t)]
                  for t in acc.Tags()["scalars"]}))
"#;

#[test]
fn tensorboard_reads_every_curve_of_an_exported_run() {
    let Some(python) = std::env::var_os("RIFLE_PYTHON") else {
        eprintln!("SKIP: $RIFLE_PYTHON is not set (`make test` sets it)");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().join("runs");
    let runs_arg = runs.to_str().unwrap();
    let profile = write(
        tmp.path(),
        "p.yaml",
        &tiny_profile(4, "  period_epochs: 1.5"),
    );
    let out = rifle(&["train", profile.to_str().unwrap(), "--runs-dir", runs_arg]);
    assert!(out.status.success(), "{}", stderr(&out));

    let export = |output: &[&str]| {
        let base = [
            "--runs-dir",
            runs_arg,
            "runs",
            "export",
            "last",
            "--format",
            "tensorboard",
        ];
        rifle(&[&base[..], output].concat())
    };
    // A log folder is a folder: without --output there is nowhere to write it.
    let out = export(&[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--output DIR"), "{}", stderr(&out));

    let logdir = tmp.path().join("tb");
    let out = export(&["--output", logdir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let file = std::path::PathBuf::from(stdout(&out).trim());
    assert!(
        file.starts_with(&logdir) && file.is_file(),
        "{}",
        file.display()
    );

    let read = Command::new(python)
        .args(["-c", READER, file.parent().unwrap().to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        read.status.success(),
        "TensorBoard could not read the export ({}); `make setup` installs tensorboard: {}",
        read.status,
        String::from_utf8_lossy(&read.stderr)
    );
    let curves: serde_json::Value = serde_json::from_slice(&read.stdout).unwrap();
    let points = |tag: &str| -> Vec<(u64, f64, f64)> {
        curves[tag]
            .as_array()
            .unwrap_or_else(|| panic!("no curve {tag}"))
            .iter()
            .map(|p| {
                (
                    p[0].as_u64().unwrap(),
                    p[1].as_f64().unwrap(),
                    p[2].as_f64().unwrap(),
                )
            })
            .collect()
    };

    let run = file.parent().unwrap().file_name().unwrap();
    let events = read_events(&runs.join(run).join("events.jsonl"))
        .unwrap()
        .events;
    let Some(Event::Started {
        steps_per_epoch,
        conv_layers,
        head,
        ..
    }) = events.iter().find(|e| matches!(e, Event::Started { .. }))
    else {
        panic!("starts with started")
    };
    // Each epoch's val accuracy at the epoch's last step, as recorded (f32 in the file).
    let val: Vec<(u64, f64)> = events
        .iter()
        .filter_map(|e| match e {
            Event::Epoch(m) => Some((u64::from(m.epoch) * steps_per_epoch, m.val_acc)),
            _ => None,
        })
        .collect();
    let got = points("epoch/val_acc");
    assert_eq!(got.len(), 4);
    for ((step, acc), (s, v, _)) in val.iter().zip(&got) {
        assert_eq!(step, s);
        assert!((acc - v).abs() < 1e-6, "{acc} vs {v}");
    }
    // Wall times run forwards from the run's start.
    assert!(got.windows(2).all(|w| w[0].2 <= w[1].2), "{got:?}");
    // Re-inits after 1.5 epochs and 3: numbered, at their steps.
    let reinits = points("rifle/reinit");
    let steps: Vec<u64> = events
        .iter()
        .filter_map(|e| match e {
            Event::Reinit { step, .. } => Some(*step),
            _ => None,
        })
        .collect();
    assert_eq!(steps.len(), 2);
    assert_eq!(
        reinits.iter().map(|p| (p.0, p.1)).collect::<Vec<_>>(),
        vec![(steps[0], 1.0), (steps[1], 2.0)]
    );
    // One distance curve a conv layer and one for the head, each with every measurement.
    let measurements = events
        .iter()
        .filter(|e| matches!(e, Event::LayerUpdate { .. }))
        .count();
    assert!(measurements > 0);
    for name in conv_layers.iter().map(|l| &l.name).chain([&head.name]) {
        assert_eq!(
            points(&format!("layer_distance/{name}")).len(),
            measurements,
            "{name}"
        );
    }
    assert!(!points("train/loss").is_empty());
}
