//! Helpers shared by the integration tests: tiny profiles and running the real binary.
#![allow(dead_code)]
use rifle_tui::protocol::{Command as EngineCommand, Event};
use rifle_tui::train::{engine::NoSink, spawn, RunSpec};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A profile that trains `small_cnn` on generated 16px images in a few seconds.
pub fn tiny_profile(epochs: u32, rifle: &str) -> String {
    format!(
        "name: tiny
model:
  arch: small_cnn
data:
  source: synthetic
  classes: 3
  train_per_class: 40
  val_per_class: 12
  image_size: 16
train:
  epochs: {epochs}
  batch_size: 24
  optimizer:
    lr: 0.05
  seed: 3
  device: cpu
  threads: 1
rifle:
{rifle}
metrics:
  log_every_steps: 1
  layer_update_every_steps: 5
"
    )
}

pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// Runs the built `rifle-tui` with `args`.
pub fn rifle(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rifle-tui"))
        .args(args)
        .env_remove("RIFLE_RUNS_DIR")
        .output()
        .expect("the binary runs")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Kills, when a test ends (passed or failed), every trainer still training into `runs`:
/// detached trainers outlive their parent by design, and must not outlive a test.
pub struct Reaper(pub PathBuf);

impl Drop for Reaper {
    fn drop(&mut self) {
        let needle = self.0.to_string_lossy().into_owned();
        let Ok(procs) = std::fs::read_dir("/proc") else {
            return;
        };
        for p in procs.flatten() {
            let Ok(pid) = p.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let cmdline = std::fs::read(p.path().join("cmdline")).unwrap_or_default();
            let args: Vec<String> = cmdline
                .split(|b| *b == 0)
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            if args.iter().any(|a| a == "--detached-child") && args.contains(&needle) {
                // SAFETY: kill has no memory effects; a gone pid is an error we ignore.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                }
            }
        }
    }
}

/// A profile's text, parsed as if it were `test.yaml` in the current folder.
pub fn profile(text: &str) -> rifle_tui::profile::Profile {
    rifle_tui::profile::parse_profile(text, Path::new("test.yaml"), &[])
        .unwrap_or_else(|e| panic!("{e}"))
        .profile
}

/// Trains `text` in-process to its end, with no run folder (checkpoints in `checkpoints`
/// when given), answering events with `react`; returns every event.
pub fn train_in_process(
    text: &str,
    checkpoints: Option<&Path>,
    mut react: impl FnMut(&Event) -> Option<EngineCommand>,
) -> Vec<Event> {
    let spec = RunSpec {
        profile: profile(text),
        run_name: "test".into(),
        checkpoint_dir: checkpoints.map(Path::to_path_buf),
        warnings: Vec::new(),
    };
    let engine = spawn(spec, Box::new(NoSink));
    let mut events = Vec::new();
    for e in engine.events.iter() {
        if let Some(c) = react(&e) {
            engine.send(c);
        }
        let end = e.is_terminal();
        events.push(e);
        if end {
            break;
        }
    }
    engine.join();
    events
}

/// Each step event's loss, in order.
pub fn step_losses(events: &[Event]) -> Vec<f64> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Step(m) => Some(m.loss),
            _ => None,
        })
        .collect()
}

/// Each epoch's val accuracy, in order.
pub fn val_accs(events: &[Event]) -> Vec<f64> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Epoch(m) => Some(m.val_acc),
            _ => None,
        })
        .collect()
}

/// Writes `root/{train,val}/{a,b}/N.png`: class `a` reddish, `b` bluish, of assorted sizes.
pub fn write_image_folder(root: &Path, train_per_class: u32, val_per_class: u32) {
    for (split, count) in [("train", train_per_class), ("val", val_per_class)] {
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
