//! The binary as a user runs it: train, check and the runs commands.
mod common;

use common::{rifle, stderr, stdout, tiny_profile, write};

#[test]
fn a_run_folder_round_trips_through_show_compare_and_export() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().join("runs");
    let runs_arg = runs.to_str().unwrap();
    let profile = write(
        tmp.path(),
        "tiny.yaml",
        &tiny_profile(3, "  period_epochs: 1"),
    );
    let out = rifle(&["train", profile.to_str().unwrap(), "--runs-dir", runs_arg]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("RIFLE: head re-initialised at epoch 1.00"),
        "{}",
        stderr(&out)
    );

    // The baseline, through an override.
    let out = rifle(&[
        "train",
        profile.to_str().unwrap(),
        "--runs-dir",
        runs_arg,
        "--set",
        "rifle.enabled=false",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));

    let dirs: Vec<_> = std::fs::read_dir(&runs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(dirs.len(), 2);
    let mut dirs = dirs;
    dirs.sort();
    let first = &dirs[0];
    for f in [
        "profile.yaml",
        "events.jsonl",
        "summary.json",
        "checkpoints/last.safetensors",
        "checkpoints/best.safetensors",
    ] {
        assert!(first.join(f).is_file(), "missing {f}");
    }
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(first.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["status"], "finished");
    assert_eq!(summary["epochs_done"], 3);
    assert_eq!(summary["reinit_epochs"], serde_json::json!([1.0, 2.0]));
    let events = std::fs::read_to_string(first.join("events.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = events
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let epochs: Vec<&serde_json::Value> = lines.iter().filter(|v| v["type"] == "epoch").collect();
    assert_eq!(epochs.len(), 3);
    assert_eq!(epochs[0]["epoch"], 1);
    assert!(epochs[0]["val_acc"].is_number() && epochs[0]["train_loss"].is_number());
    let reinit = lines.iter().find(|v| v["type"] == "reinit").unwrap();
    assert_eq!(reinit["epoch"], 1.0);
    let layer = lines.iter().find(|v| v["type"] == "layer_update").unwrap();
    assert_eq!(layer["layers"].as_array().unwrap().len(), 4);
    assert!(layer["layers"][0]["rel_distance"].as_f64().unwrap() > 0.0);

    let out = rifle(&["runs", "list", "--runs-dir", runs_arg, "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let list: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2);

    let name = first.file_name().unwrap().to_str().unwrap();
    let out = rifle(&["runs", "show", name, "--runs-dir", runs_arg, "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let shown: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(shown["summary"]["run"], name);
    assert_eq!(shown["epochs"].as_array().unwrap().len(), 3);

    let out = rifle(&[
        "runs",
        "export",
        name,
        "--runs-dir",
        runs_arg,
        "--format",
        "csv",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let csv = stdout(&out);
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows.len(), 4, "{csv}");
    assert!(rows[0].starts_with("epoch,train_loss,train_acc,val_loss,val_acc"));
    assert!(
        rows[1].starts_with("1,") && rows[1].ends_with(",1"),
        "{}",
        rows[1]
    );

    let out = rifle(&[
        "runs",
        "export",
        name,
        "--runs-dir",
        runs_arg,
        "--format",
        "jsonl",
    ]);
    assert_eq!(stdout(&out).lines().count(), events.lines().count());

    let second = dirs[1].file_name().unwrap().to_str().unwrap();
    let out = rifle(&["runs", "compare", name, second, "--runs-dir", runs_arg]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("rifle.enabled"), "{text}");
    assert!(
        !text.contains("train.epochs"),
        "only differing keys: {text}"
    );
    assert!(text.contains("re-inits"), "{text}");
}

#[test]
fn a_bad_profile_names_file_line_and_key() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = tiny_profile(3, "  period_epochs: 2").replace("  batch_size: 24", "  batch_sise: 24");
    let p = write(tmp.path(), "bad.yaml", &bad);
    let out = rifle(&[
        "train",
        p.to_str().unwrap(),
        "--runs-dir",
        tmp.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("bad.yaml:"), "{err}");
    assert!(err.contains("batch_sise"), "{err}");
    assert!(err.contains("did you mean `batch_size`"), "{err}");
    // Nothing was started.
    assert!(!tmp.path().join("runs").exists());

    let out = rifle(&["check", p.to_str().unwrap(), "--set", "train.epochs=0"]);
    assert_ne!(out.status.code(), Some(0));

    let good = write(
        tmp.path(),
        "good.yaml",
        &tiny_profile(3, "  period_epochs: 2"),
    );
    let out = rifle(&[
        "check",
        good.to_str().unwrap(),
        "--set",
        "rifle.period_epochs=0",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("--set rifle.period_epochs=0"),
        "{}",
        stderr(&out)
    );
    let out = rifle(&["check", good.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("period_epochs: 2"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn a_bad_dataset_is_an_error_that_names_it() {
    let tmp = tempfile::tempdir().unwrap();
    let text = tiny_profile(1, "  enabled: false").replace(
        "  source: synthetic\n  classes: 3\n  train_per_class: 40\n  val_per_class: 12\n",
        "  source: image_folder\n  root: no-such-data\n",
    );
    let p = write(tmp.path(), "folder.yaml", &text);
    let out = rifle(&["check", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("no-such-data"), "{}", stderr(&out));

    // A class folder with no images.
    let root = tmp.path().join("data");
    for d in ["train/ants", "train/bees", "val/ants", "val/bees"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    let text = text.replace("root: no-such-data", "root: data");
    let p = write(tmp.path(), "folder.yaml", &text);
    let out = rifle(&[
        "train",
        p.to_str().unwrap(),
        "--runs-dir",
        tmp.path().join("runs").to_str().unwrap(),
    ]);
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("ants"), "{}", stderr(&out));
}

#[test]
fn bench_data_only_times_the_load_and_every_epoch_of_batches() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("data");
    for (split, class, n) in [
        ("train", "a", 3),
        ("train", "b", 3),
        ("val", "a", 1),
        ("val", "b", 1),
    ] {
        let dir = root.join(split).join(class);
        std::fs::create_dir_all(&dir).unwrap();
        for i in 0..n {
            image::RgbImage::new(24, 20)
                .save(dir.join(format!("{i}.png")))
                .unwrap();
        }
    }
    let text = tiny_profile(2, "  enabled: false").replace(
        "  source: synthetic\n  classes: 3\n  train_per_class: 40\n  val_per_class: 12\n",
        "  source: image_folder\n  root: data\n",
    );
    let p = write(tmp.path(), "folder.yaml", &text);
    let out = rifle(&[
        "bench",
        "--data-only",
        p.to_str().unwrap(),
        "--set",
        "train.batch_size=4",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(v["source"], "image_folder");
    assert_eq!(
        (v["train_images"].as_u64(), v["val_images"].as_u64()),
        (Some(6), Some(2))
    );
    assert!(v["load_images_per_sec"].as_f64().unwrap() > 0.0, "{v}");
    let epochs = v["epochs"].as_array().unwrap();
    assert_eq!(epochs.len(), 2);
    for e in epochs {
        assert_eq!(e["images"], 6, "{v}");
        assert!(e["images_per_sec"].as_f64().unwrap() > 0.0, "{v}");
    }
    assert!(
        epochs[0]["images_per_sec_with_load"].as_f64().unwrap() > 0.0,
        "{v}"
    );
}

#[test]
fn the_binary_links_libtorch_cuda_and_needs_no_library_path() {
    let bin = env!("CARGO_BIN_EXE_rifle-tui");
    let out = std::process::Command::new("readelf")
        .args(["-d", bin])
        .output();
    let Ok(out) = out else {
        panic!("readelf (binutils) is needed for this test");
    };
    let text = stdout(&out);
    assert!(text.contains("RUNPATH") || text.contains("RPATH"), "{text}");
    if cfg!(libtorch_has_cuda) {
        assert!(
            text.contains("libtorch_cuda.so"),
            "libtorch_cuda.so is not NEEDED:\n{text}"
        );
    }
    // And it starts with no LD_LIBRARY_PATH at all.
    let out = std::process::Command::new(bin)
        .arg("--version")
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
}

/// The binary's allocator keeps the memory a training step frees (src/allocator.rs):
/// jemalloc, serving libtorch's mallocs too, with purging off. jemalloc prints its options
/// at exit when asked.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[test]
fn the_binary_allocates_with_jemalloc_and_keeps_freed_memory() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rifle-tui"))
        .arg("--version")
        .env("MALLOC_CONF", "stats_print:true")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let stats = stderr(&out);
    assert!(
        stats.contains("jemalloc statistics"),
        "not jemalloc:\n{stats}"
    );
    for option in ["opt.dirty_decay_ms: -1", "opt.muzzy_decay_ms: -1"] {
        assert!(stats.contains(option), "{option} missing:\n{stats}");
    }
    // libtorch's allocations go through the same malloc: the binary defines it.
    let symbols = std::process::Command::new("nm")
        .args(["-D", "--defined-only", env!("CARGO_BIN_EXE_rifle-tui")])
        .output()
        .expect("nm (binutils) is needed for this test");
    let symbols = stdout(&symbols);
    for name in ["malloc", "free", "posix_memalign"] {
        assert!(
            symbols.lines().any(|l| l.ends_with(&format!(" {name}"))),
            "the binary does not export {name}"
        );
    }
}
