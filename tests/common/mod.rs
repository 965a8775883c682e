//! Helpers shared by the integration tests: tiny profiles and running the real binary.
#![allow(dead_code)]
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
