//! `rifle-tui bench PROFILE [--with-tui]`: the engine's training throughput, measured the
//! way the PyTorch reference in `benches/` measures its own: images over the wall time of
//! the training steps of every epoch after the first (warm-up and evaluation left out).
//! Epoch 1 is reported beside it, alone and with the start-up before it (loading the data,
//! building the model and its weights: everything up to the `started` event).
//!
//! The run is a real one (`train::session`: its folder, checkpoints, lock and control
//! socket, in a temporary runs folder), and the figures are the engine's own (the images
//! per second its step events carry), so the same measurement serves headless and with
//! the TUI open: `--with-tui` attaches the real app over the run's socket, as the TUI
//! attaches to a detached trainer, and draws every event at its 10 Hz frame rate into an
//! off-screen 120x40 buffer: the app's whole cost but the terminal's own I/O.
//!
//! `--data-only` measures the data pipeline alone, with no model: the load of the dataset
//! into the in-memory uint8 cache (decode + resize), then every epoch's training batches
//! made on the device (shuffle, random resized crop + flip, normalise), each forced by
//! summing it. A set past `data.memory_budget_mb` is not loaded but streamed: its batches
//! are decoded from disk as the epochs go.
use super::ProfileArgs;
use crate::profile::load_profile;
use crate::protocol::Event;
use std::time::{Duration, Instant};
use tch::Tensor;

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    #[command(flatten)]
    pub profile: ProfileArgs,
    /// Run the terminal UI's app on the events while training (drawn off-screen).
    #[arg(long)]
    pub with_tui: bool,
    /// Time the data pipeline alone (load, then `train.epochs` epochs of batches), no model.
    #[arg(long, conflicts_with = "with_tui")]
    pub data_only: bool,
}

/// Steady-state throughput, folded from step events; and epoch 1's, with and without
/// what came before it (loading the data, building the model).
struct Throughput {
    images: f64,
    seconds: f64,
    batch_images: u64,
    previous_step: u64,
    created: Instant,
    startup_seconds: f64,
    batch: u64,
    train_images: u64,
    steps_per_epoch: u64,
    /// Images and seconds of each epoch's training steps.
    epochs: Vec<(f64, f64)>,
    device: String,
}

impl Default for Throughput {
    fn default() -> Self {
        Self {
            images: 0.0,
            seconds: 0.0,
            batch_images: 0,
            previous_step: 0,
            created: Instant::now(),
            startup_seconds: 0.0,
            batch: 1,
            train_images: 0,
            steps_per_epoch: 1,
            epochs: Vec::new(),
            device: String::new(),
        }
    }
}

impl Throughput {
    fn fold(&mut self, event: &Event) {
        let t = self;
        match event {
            Event::Started {
                train_images,
                steps_per_epoch,
                device,
                ..
            } => {
                t.device = device.clone();
                t.batch_images = train_images / steps_per_epoch.max(&1);
                t.startup_seconds = t.created.elapsed().as_secs_f64();
                t.train_images = *train_images;
                t.steps_per_epoch = (*steps_per_epoch).max(1);
            }
            Event::Step(m) => {
                let steps = m.step - t.previous_step;
                t.previous_step = m.step;
                if m.images_per_sec > 0.0 && steps > 0 {
                    // Every epoch's steps' images exactly (the last batch may be short).
                    let (batch, all, per) = (t.batch, t.train_images, t.steps_per_epoch);
                    let n: u64 = (m.step - steps..m.step)
                        .map(|k| batch.min(all.saturating_sub(k % per * batch)))
                        .sum();
                    let epoch = ((m.step - 1) / per) as usize;
                    if t.epochs.len() <= epoch {
                        t.epochs.resize(epoch + 1, (0.0, 0.0));
                    }
                    t.epochs[epoch].0 += n as f64;
                    t.epochs[epoch].1 += n as f64 / m.images_per_sec;
                }
                if m.epoch > 1.0 && m.images_per_sec > 0.0 {
                    let n = (steps * t.batch_images) as f64;
                    t.images += n;
                    t.seconds += n / m.images_per_sec;
                }
            }
            _ => {}
        }
    }
}

pub fn run(args: &BenchArgs) -> Result<i32, String> {
    let loaded =
        load_profile(&args.profile.profile, &args.profile.overrides).map_err(|e| e.to_string())?;
    let p = loaded.profile;
    if args.data_only {
        return data_only(&p);
    }
    let mut t = Throughput {
        batch: u64::from(p.train.batch_size),
        ..Throughput::default()
    };
    let runs = std::env::temp_dir().join(format!("rifle-bench-{}", std::process::id()));
    let session = crate::train::session::start(&p, &[], &runs)?;
    let tui = args.with_tui.then(|| {
        let (runs, run) = (runs.clone(), session.dir.path.clone());
        std::thread::spawn(move || drive_tui(&runs, &run))
    });
    let mut end = None;
    for event in session.engine.events.iter() {
        t.fold(&event);
        if event.is_terminal() {
            end = Some(event);
            break;
        }
    }
    session.join();
    let attached = tui.map(|h| h.join().unwrap_or_else(|_| Err("the app panicked".into())));
    let _ = std::fs::remove_dir_all(&runs);
    if let Some(Err(e)) = attached {
        return Err(format!("the TUI could not follow the run: {e}"));
    }
    match end {
        Some(Event::Finished { .. }) => {}
        Some(Event::Failed { reason, .. } | Event::Stopped { reason, .. }) => return Err(reason),
        _ => return Err("the engine ended without a word".into()),
    }
    let first = t.epochs.first().copied().unwrap_or_default();
    let line = serde_json::json!({
        "impl": if args.with_tui { "rifle-tui (TUI open)" } else { "rifle-tui" },
        "arch": p.model.arch,
        "device": t.device,
        "threads": tch::get_num_threads(),
        "batch": p.train.batch_size,
        "size": p.data.image_size,
        "channels_last": p.train.channels_last,
        "images_per_sec": if t.seconds > 0.0 { t.images / t.seconds } else { 0.0 },
        "train_images": t.train_images,
        "startup_seconds": t.startup_seconds,
        "epoch1_images_per_sec": per_second(first.0, first.1),
        "epoch1_with_load_images_per_sec": per_second(first.0, t.startup_seconds + first.1),
        "epochs_images_per_sec": t.epochs.iter().map(|e| per_second(e.0, e.1)).collect::<Vec<_>>(),
        "peak_rss_mb": peak_rss_mb(),
    });
    println!("{line}");
    Ok(0)
}

/// The data pipeline's throughput: the load (decode + resize into the uint8 cache) in
/// images decoded per second, then each epoch's batches in training images per second.
/// Epoch 1 also reports a rate that counts the load and the upload to the device, the cost
/// a first epoch pays; later epochs come from the cache.
fn data_only(p: &crate::profile::schema::Profile) -> Result<i32, String> {
    use crate::data::{load_dataset, Augment, DeviceData};
    use tch::Kind;

    if p.train.threads > 0 {
        tch::set_num_threads(p.train.threads as i32);
    }
    tch::manual_seed(p.train.seed as i64);
    let device = crate::train::device::resolve(&p.train.device)?;

    let start = Instant::now();
    let dataset = load_dataset(&p.data, p.train.seed).map_err(|e| e.to_string())?;
    let load_seconds = start.elapsed().as_secs_f64();
    let decoded = (dataset.train.len() + dataset.val.len()) as f64;

    let start = Instant::now();
    let data = DeviceData::new(
        &dataset,
        p.data.image_size,
        Augment::for_data(&p.data),
        crate::model::network::normalization(p.model.arch),
        device,
    );
    // A copy from pageable host memory returns once it is done, on a GPU too.
    let upload_seconds = start.elapsed().as_secs_f64();

    let batch_size = p.train.batch_size as i64;
    if data.steps_per_epoch(batch_size) == 0 {
        return Err(format!(
            "the training set has {} images, too few for one batch (train.batch_size: {})",
            data.train_len(),
            batch_size
        ));
    }
    let mut epochs = Vec::new();
    for epoch in 1..=p.train.epochs.max(1) {
        let start = Instant::now();
        let mut images = 0i64;
        let mut total = Tensor::zeros([], (Kind::Float, device));
        let mut order = data.epoch_order(batch_size);
        for _ in 0..order.len() {
            let (x, y) = data.train_batch(&mut order);
            images += y.size()[0];
            total += x.sum(Kind::Float);
        }
        let checksum = total.double_value(&[]);
        let seconds = start.elapsed().as_secs_f64();
        let mut e = serde_json::json!({
            "epoch": epoch,
            "images": images,
            "seconds": seconds,
            "images_per_sec": images as f64 / seconds,
            "checksum": checksum,
        });
        if epoch == 1 {
            let with_load = load_seconds + upload_seconds + seconds;
            e["seconds_with_load"] = with_load.into();
            e["images_per_sec_with_load"] = (images as f64 / with_load).into();
        }
        epochs.push(e);
    }
    let line = serde_json::json!({
        "impl": "rifle-tui data",
        "source": p.data.source,
        "device": format!("{device:?}"),
        "threads": tch::get_num_threads(),
        "batch": p.train.batch_size,
        "size": p.data.image_size,
        "stored_side": dataset.train.side,
        "streamed": data.is_streamed(),
        "augment": p.data.augment,
        "train_images": dataset.train.len(),
        "val_images": dataset.val.len(),
        "skipped": dataset.skipped.len(),
        "load_seconds": load_seconds,
        "load_images_per_sec": decoded / load_seconds,
        "upload_seconds": upload_seconds,
        "epochs": epochs,
    });
    println!("{line}");
    Ok(0)
}

/// The most resident memory this process has held, in MiB (the kernel's high-water mark,
/// so it counts libtorch's buffers and the image cache alike); NaN where it cannot be read.
fn peak_rss_mb() -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return f64::NAN;
    }
    // Linux reports kilobytes.
    usage.ru_maxrss as f64 / 1024.0
}

fn per_second(n: f64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        n / seconds
    } else {
        0.0
    }
}

/// The app's own loop, minus the terminal: attached to the run over its socket, tick,
/// draw when dirty at most every 100 ms, until the run's end reaches it.
fn drive_tui(runs: &std::path::Path, run: &std::path::Path) -> Result<(), String> {
    use crate::tui::keys::ScreenId;
    use ratatui::backend::TestBackend;

    let mut app = crate::tui::App::new(crate::tui::Config {
        runs_dir: runs.to_path_buf(),
        profile_dirs: Vec::new(),
        initial_profile: None,
        theme: crate::tui::theme::Theme::new(crate::tui::theme::ColorMode::Ansi16),
        trainer_exe: std::path::PathBuf::from("rifle-tui"),
    });
    app.attach_run(run)?;
    app.screen = ScreenId::Monitor;
    let mut term = ratatui::Terminal::new(TestBackend::new(120, 40)).map_err(|e| e.to_string())?;
    const FRAME: Duration = Duration::from_millis(100);
    while app.has_engine() {
        let frame_start = Instant::now();
        app.tick();
        if app.take_dirty() {
            term.draw(|f| app.draw(f)).map_err(|e| e.to_string())?;
        }
        std::thread::sleep(FRAME.saturating_sub(frame_start.elapsed()));
    }
    match app.status {
        Some((message, true)) if !app.live.phase.is_over() => Err(message),
        _ => Ok(()),
    }
}
