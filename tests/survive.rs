//! Runs that survive: signals, kill -9, resume, and the faults a long job meets, all on
//! the real binary. Every wait is for something on disk, with a generous deadline.
mod common;

use common::{rifle, stderr, stdout, tiny_profile, write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Writes `text` to `dir/p.yaml` and trains it with `rifle-tui train` in the background,
/// into `dir/runs`; stderr goes to `dir/stderr.txt` (a pipe nobody reads could fill up and
/// block the run).
fn spawn_train(dir: &Path, text: &str) -> Child {
    let profile = write(dir, "p.yaml", text);
    let log = dir.join("stderr.txt");
    Command::new(env!("CARGO_BIN_EXE_rifle-tui"))
        .args(["train", profile.to_str().unwrap(), "--runs-dir"])
        .arg(dir.join("runs"))
        .env_remove("RIFLE_RUNS_DIR")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("the binary starts")
}

fn wait_until<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The one run folder under `runs`, once it exists.
fn run_folder(runs: &Path) -> PathBuf {
    wait_until("the run folder", || {
        std::fs::read_dir(runs)
            .ok()?
            .flatten()
            .map(|e| e.path())
            .find(|p| p.join("summary.json").is_file())
    })
}

fn epoch_lines(run: &Path) -> usize {
    std::fs::read_to_string(run.join("events.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with("{\"type\":\"epoch\""))
        .count()
}

fn wait_for_epochs(run: &Path, n: usize) {
    wait_until(&format!("{n} epochs in {}", run.display()), || {
        (epoch_lines(run) >= n).then_some(())
    });
}

fn signal(child: &Child, name: &str) {
    let ok = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{name} failed");
}

fn summary(run: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(run.join("summary.json")).unwrap()).unwrap()
}

fn name(run: &Path) -> &str {
    run.file_name().unwrap().to_str().unwrap()
}

#[test]
fn sigterm_stops_gracefully_sighup_is_ignored_and_the_profile_copy_is_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().join("runs");
    // Long enough that only a signal ends it.
    let mut child = spawn_train(tmp.path(), &tiny_profile(2000, "  enabled: false"));
    let (profile, log) = (tmp.path().join("p.yaml"), tmp.path().join("stderr.txt"));
    let run = run_folder(&runs);
    wait_for_epochs(&run, 1);
    let own_copy = std::fs::read_to_string(run.join("profile.yaml")).unwrap();

    // The profile edited on disk while the run trains: the run keeps its own copy.
    std::fs::write(
        &profile,
        tiny_profile(3, "  enabled: false").replace("lr: 0.05", "lr: 0.5"),
    )
    .unwrap();
    // A dropped SSH session: SIGHUP must not end the run.
    signal(&child, "HUP");
    let seen = epoch_lines(&run);
    wait_for_epochs(&run, seen + 2);
    assert!(
        child.try_wait().unwrap().is_none(),
        "the run ended on SIGHUP"
    );

    // Its writer is alive: it cannot be resumed from elsewhere.
    let out = rifle(&["resume", name(&run), "--runs-dir", runs.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("still being written"),
        "{}",
        stderr(&out)
    );

    signal(&child, "TERM");
    let status = child.wait().unwrap();
    let err = std::fs::read_to_string(&log).unwrap();
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(err.contains("stopping after this step"), "{err}");
    let s = summary(&run);
    assert_eq!(s["status"], "stopped", "{s}");
    assert!(s["epochs_done"].as_u64().unwrap() >= 3, "{s}");
    assert!(run.join("checkpoints/last.safetensors").is_file());
    assert!(run.join("checkpoints/resume.json").is_file());
    assert_eq!(
        std::fs::read_to_string(run.join("profile.yaml")).unwrap(),
        own_copy
    );
    // Every epoch trained with the profile it started with (lr 0.05, cosine down).
    let text = std::fs::read_to_string(run.join("events.jsonl")).unwrap();
    for line in text
        .lines()
        .filter(|l| l.starts_with("{\"type\":\"epoch\""))
    {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(v["lr"].as_f64().unwrap() <= 0.05 + 1e-12, "{line}");
    }
    assert!(text
        .lines()
        .last()
        .unwrap()
        .contains("\"type\":\"stopped\""));
}

#[test]
fn kill_9_leaves_an_interrupted_run_that_resumes_to_the_end() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().join("runs");
    let runs_arg = runs.to_str().unwrap();
    let mut child = spawn_train(tmp.path(), &tiny_profile(40, "  period_epochs: 1.5"));
    let run = run_folder(&runs);
    wait_until("the first epoch-end state", || {
        run.join("checkpoints/resume.json").is_file().then_some(())
    });
    assert!(
        child.try_wait().unwrap().is_none(),
        "the run ended before it could be killed"
    );
    signal(&child, "KILL");
    child.wait().unwrap();
    // As if it had got further than its last saved state before dying: a re-init and an
    // epoch past it, which the resumed run trains again.
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("checkpoints/resume.json")).unwrap())
            .unwrap();
    let k = state["epoch"].as_u64().unwrap();
    let mut text = std::fs::read_to_string(run.join("events.jsonl")).unwrap();
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&format!(
        "{{\"type\":\"reinit\",\"epoch\":{}.1,\"step\":1,\"index\":99,\"period_epochs\":1.5,\"head_change\":1.0}}\n\
         {{\"type\":\"epoch\",\"epoch\":{},\"train_loss\":99.0,\"train_acc\":0.1,\"val_loss\":99.0,\"val_acc\":0.1,\"lr\":0.05,\"seconds\":1.0,\"best\":false}}\n",
        k,
        k + 1
    ));
    std::fs::write(run.join("events.jsonl"), text).unwrap();

    let out = rifle(&["runs", "show", name(&run), "--runs-dir", runs_arg, "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let shown: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(shown["summary"]["status"], "interrupted");
    let out = rifle(&["runs", "list", "--runs-dir", runs_arg, "--json"]);
    let list: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(list[0]["status"], "interrupted", "{list}");

    let out = rifle(&["resume", name(&run), "--runs-dir", runs_arg]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("resumed"), "{}", stderr(&out));
    let s = summary(&run);
    assert_eq!(s["status"], "finished", "{s}");
    assert_eq!(s["epochs_done"], 40);
    let text = std::fs::read_to_string(run.join("events.jsonl")).unwrap();
    assert!(text.contains("\"type\":\"run_resumed\""));
    assert!(text
        .lines()
        .last()
        .unwrap()
        .contains("\"type\":\"finished\""));
    // What the killed process recorded past its last saved epoch is shown once.
    let reinits: Vec<f64> = s["reinit_epochs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert!(reinits.windows(2).all(|w| w[0] < w[1]), "{reinits:?}");
    assert_eq!(reinits.len(), 26, "{reinits:?}");
    let out = rifle(&["runs", "show", name(&run), "--runs-dir", runs_arg, "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let shown: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let epochs: Vec<u64> = shown["epochs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["epoch"].as_u64().unwrap())
        .collect();
    assert_eq!(epochs, (1..=40).collect::<Vec<u64>>());
    let out = rifle(&["runs", "export", name(&run), "--runs-dir", runs_arg]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).lines().count(), 41);
    assert!(!stdout(&out).contains(",99,"), "{}", stdout(&out));

    // Finished now: resuming again is refused.
    let out = rifle(&["resume", name(&run), "--runs-dir", runs_arg]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("finished"), "{}", stderr(&out));
}

#[test]
fn a_runs_folder_that_cannot_be_made_fails_before_training() {
    let tmp = tempfile::tempdir().unwrap();
    let profile = write(tmp.path(), "p.yaml", &tiny_profile(2, "  enabled: false"));
    // Tests may run as root, where permissions are not enforced: a folder under a file.
    let file = write(tmp.path(), "file.txt", "not a folder");
    let runs = file.join("runs");
    let out = rifle(&[
        "train",
        profile.to_str().unwrap(),
        "--runs-dir",
        runs.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("cannot create the run folder"), "{err}");
    assert!(err.contains("file.txt"), "{err}");
    assert!(!err.contains("epoch"), "nothing trained: {err}");
}

#[test]
fn a_truncated_last_event_line_is_skipped_with_a_warning() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().join("runs");
    let runs_arg = runs.to_str().unwrap();
    let profile = write(tmp.path(), "p.yaml", &tiny_profile(2, "  enabled: false"));
    let out = rifle(&["train", profile.to_str().unwrap(), "--runs-dir", runs_arg]);
    assert!(out.status.success(), "{}", stderr(&out));
    let run = run_folder(&runs);
    let events = run.join("events.jsonl");
    let mut text = std::fs::read_to_string(&events).unwrap();
    text.push_str("{\"type\":\"step\",\"step\":99,\"epo");
    std::fs::write(&events, text).unwrap();
    for args in [
        vec!["runs", "show", name(&run), "--runs-dir", runs_arg, "--json"],
        vec!["runs", "export", name(&run), "--runs-dir", runs_arg],
    ] {
        let out = rifle(&args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("incomplete last line"),
            "{}",
            stderr(&out)
        );
    }
    let out = rifle(&["runs", "show", name(&run), "--runs-dir", runs_arg, "--json"]);
    let shown: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(shown["epochs"].as_array().unwrap().len(), 2);
}

#[test]
fn a_diverging_resume_fails_and_keeps_the_last_good_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().join("runs");
    let runs_arg = runs.to_str().unwrap();
    let mut child = spawn_train(tmp.path(), &tiny_profile(2000, "  enabled: false"));
    let run = run_folder(&runs);
    wait_for_epochs(&run, 1);
    signal(&child, "TERM");
    assert_eq!(child.wait().unwrap().code(), Some(1));
    let last = run.join("checkpoints/last.safetensors");
    let good = std::fs::read(&last).unwrap();

    // The run's own profile edited to a learning rate that makes the loss NaN at once.
    let own = run.join("profile.yaml");
    let text = std::fs::read_to_string(&own).unwrap();
    assert!(text.contains("lr: 0.05"), "{text}");
    std::fs::write(&own, text.replace("lr: 0.05", "lr: 1.0e12")).unwrap();
    let out = rifle(&["resume", name(&run), "--runs-dir", runs_arg]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let s = summary(&run);
    assert_eq!(s["status"], "failed", "{s}");
    assert!(s["reason"].as_str().unwrap().contains("diverged"), "{s}");
    // The checkpoint from before the divergence is untouched and loads.
    assert_eq!(std::fs::read(&last).unwrap(), good);
    let net = rifle_tui::model::build(rifle_tui::profile::Arch::SmallCnn, 3, 0.0, tch::Device::Cpu);
    rifle_tui::train::resume::load_model(&net.vs, &last).unwrap();
    for (n, t) in net.vs.variables() {
        assert!(
            t.isfinite().all().int64_value(&[]) == 1,
            "{n} is not finite"
        );
    }
}

#[test]
fn weights_of_another_architecture_are_an_error_naming_the_tensor() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().join("runs");
    let profile = write(tmp.path(), "p.yaml", &tiny_profile(1, "  enabled: false"));
    let out = rifle(&[
        "train",
        profile.to_str().unwrap(),
        "--runs-dir",
        runs.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let weights = run_folder(&runs).join("checkpoints/last.safetensors");
    let text = tiny_profile(1, "  enabled: false").replace(
        "  arch: small_cnn\n",
        &format!("  arch: resnet18\n  weights: {}\n", weights.display()),
    );
    let p = write(tmp.path(), "r.yaml", &text);
    let out = rifle(&[
        "train",
        p.to_str().unwrap(),
        "--runs-dir",
        runs.to_str().unwrap(),
    ]);
    assert_ne!(out.status.code(), Some(0));
    let err = stderr(&out);
    // Which mismatching tensor is met first is not fixed; each is named with both shapes.
    assert!(err.contains("tensor `"), "{err}");
    assert!(err.contains("has shape ["), "{err}");
    assert!(err.contains("another architecture"), "{err}");
    // And resuming a run whose checkpoint does not fit its model names the tensor too.
    let net = rifle_tui::model::build(rifle_tui::profile::Arch::Resnet18, 3, 0.0, tch::Device::Cpu);
    let err = rifle_tui::train::resume::load_model(&net.vs, &weights).unwrap_err();
    assert!(err.contains("tensor `"), "{err}");
}

/// Trains on a generated image folder, removes the folder after the first epoch, and
/// returns the run folder and the trainer (still running or not).
fn remove_the_dataset_mid_run(tmp: &Path, data_keys: &str) -> (PathBuf, Child) {
    let runs = tmp.join("runs");
    let data = tmp.join("data");
    common::write_image_folder(&data, 12, 12);
    let text = tiny_profile(100_000, "  period_epochs: 2").replace(
        "  source: synthetic\n  classes: 3\n  train_per_class: 40\n  val_per_class: 12\n",
        &format!("  source: image_folder\n  root: data\n{data_keys}"),
    );
    let child = spawn_train(tmp, &text);
    let run = run_folder(&runs);
    wait_for_epochs(&run, 1);
    std::fs::remove_dir_all(&data).unwrap();
    (run, child)
}

#[test]
fn a_dataset_folder_that_disappears_mid_run_does_not_end_a_run_that_holds_it() {
    let tmp = tempfile::tempdir().unwrap();
    let (run, mut child) = remove_the_dataset_mid_run(tmp.path(), "");
    // The images were decoded once and are held in memory: the run needs the folder no more.
    let gone_at = epoch_lines(&run);
    wait_for_epochs(&run, gone_at + 3);
    assert!(child.try_wait().unwrap().is_none(), "the run ended");
    signal(&child, "TERM");
    let status = child.wait().unwrap();
    let err = std::fs::read_to_string(tmp.path().join("stderr.txt")).unwrap();
    assert_eq!(status.code(), Some(1), "{err}");
    let s = summary(&run);
    assert_eq!(s["status"], "stopped", "{s}");
    assert_eq!(s["reason"], "stopped by request", "{s}");
}

#[test]
fn a_streamed_dataset_that_disappears_mid_run_fails_it_with_the_reason() {
    let tmp = tempfile::tempdir().unwrap();
    // A budget far below the images' size: they are streamed from disk every epoch.
    let (run, mut child) = remove_the_dataset_mid_run(tmp.path(), "  memory_budget_mb: 0.001\n");
    let status = child.wait().unwrap();
    let err = std::fs::read_to_string(tmp.path().join("stderr.txt")).unwrap();
    assert_eq!(status.code(), Some(1), "{err}");
    let s = summary(&run);
    assert_eq!(s["status"], "failed", "{s}");
    let reason = s["reason"].as_str().unwrap();
    assert!(reason.contains("cannot be read any more"), "{reason}");
    assert!(reason.contains("data"), "names the file: {reason}");
    // What it had done is kept: the epochs before, and their checkpoint.
    assert!(s["epochs_done"].as_u64().unwrap() >= 1, "{s}");
    assert!(run.join("checkpoints/last.safetensors").is_file());
    assert!(run.join("checkpoints/resume.json").is_file());
}

/// A run folder that stops taking writes part-way (disk full): the run ends at once as
/// failed with the reason, and what it had written stays, checkpoints included.
#[test]
fn a_run_folder_that_fills_up_mid_run_ends_it_with_the_reason() {
    use rifle_tui::protocol::Event;
    use rifle_tui::train::{spawn, EventSink, RunSpec};

    struct FillsUp {
        written: Vec<Event>,
        room: usize,
    }
    impl EventSink for FillsUp {
        fn record(&mut self, event: &Event) -> std::io::Result<()> {
            if self.written.len() >= self.room {
                return Err(std::io::Error::from_raw_os_error(28)); // ENOSPC
            }
            self.written.push(event.clone());
            Ok(())
        }
    }
    let tmp = tempfile::tempdir().unwrap();
    let loaded = rifle_tui::profile::parse_profile(
        &tiny_profile(50, "  period_epochs: 2"),
        &tmp.path().join("p.yaml"),
        &[],
    )
    .unwrap();
    // Room for the start and a little more than one epoch's events.
    let room = 40;
    let checkpoints = tmp.path().join("checkpoints");
    let spec = RunSpec {
        profile: loaded.profile,
        run_name: "full".into(),
        checkpoint_dir: Some(checkpoints.clone()),
        warnings: vec![],
    };
    let engine = spawn(
        spec,
        Box::new(FillsUp {
            written: vec![],
            room,
        }),
    );
    let events: Vec<Event> = engine.events.iter().collect();
    engine.join();
    let last = events.last().expect("events");
    let Event::Failed { reason, .. } = last else {
        panic!("ends as failed, not {last:?}")
    };
    assert!(reason.contains("cannot write the run folder"), "{reason}");
    assert!(reason.contains("No space left on device"), "{reason}");
    // It stopped there: a run whose history cannot be kept does not go on training.
    let epochs = events
        .iter()
        .filter(|e| matches!(e, Event::Epoch(_)))
        .count();
    assert!(epochs < 50, "{epochs} epochs");
    assert!(events.len() <= room + 2, "{} events", events.len());
    assert!(checkpoints.join("last.safetensors").is_file());
}

#[test]
fn a_second_ctrl_c_quits_at_once_and_leaves_the_files_readable() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().join("runs");
    // Slow steps (a random-init EfficientNet-Lite0 at 96 px on one thread), so the second
    // Ctrl-C usually lands while the first still waits for its step to end.
    let text = tiny_profile(1000, "  enabled: false")
        .replace("arch: small_cnn", "arch: efficientnet_lite0")
        .replace("image_size: 16", "image_size: 96");
    let mut child = spawn_train(tmp.path(), &text);
    let log = tmp.path().join("stderr.txt");
    let run = run_folder(&runs);
    wait_for_epochs(&run, 1);
    // The epoch-end checkpoint is written just after the epoch's event: wait for it, so the
    // quit at once below cannot land before it exists.
    wait_until("the first checkpoint", || {
        run.join("checkpoints/resume.json").is_file().then_some(())
    });
    signal(&child, "INT");
    std::thread::sleep(std::time::Duration::from_millis(20));
    signal(&child, "INT");
    let status = child.wait().unwrap();
    let err = std::fs::read_to_string(&log).unwrap();
    // 130 comes only from the second signal's handler: a graceful end exits with 1.
    assert_eq!(
        status.code(),
        Some(128 + 2),
        "quits at once: {status:?} {err}"
    );
    assert!(err.contains("Ctrl-C again to quit at once"), "{err}");
    // Every file still reads: the events (a cut last line at most), the summary, the run,
    // which is interrupted (or stopped, had the step ended within the 20 ms).
    let log = rifle_tui::runs::events_file::read_events(&run.join("events.jsonl")).unwrap();
    assert!(log.problems.len() <= 1, "{:?}", log.problems);
    assert!(log.events.len() > 3);
    let out = rifle(&[
        "runs",
        "show",
        name(&run),
        "--runs-dir",
        runs.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let shown = stdout(&out);
    assert!(
        shown.contains("interrupted") || shown.contains("stopped (stopped by request)"),
        "{shown}"
    );
    assert!(run.join("checkpoints/resume.json").is_file());
}
