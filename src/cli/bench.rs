//! `rifle-tui bench PROFILE [--with-tui]`: the engine's training throughput, measured the
//! way the PyTorch reference in `benches/` measures its own: images over the wall time of
//! the training steps of every epoch after the first (warm-up and evaluation left out).
//!
//! The figures are taken inside the engine thread (an event sink sees every event before
//! any front end does), so the same measurement serves headless and with the TUI open:
//! `--with-tui` feeds every event to the real app and draws it at its 10 Hz frame rate
//! into an off-screen 120x40 buffer, which is the app's whole cost but the terminal's
//! own I/O.
use super::ProfileArgs;
use crate::profile::load_profile;
use crate::protocol::Event;
use crate::train::{spawn, EventSink, RunSpec};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    #[command(flatten)]
    pub profile: ProfileArgs,
    /// Run the terminal UI's app on the events while training (drawn off-screen).
    #[arg(long)]
    pub with_tui: bool,
}

/// Steady-state throughput, folded from step events.
#[derive(Default)]
struct Throughput {
    images: f64,
    seconds: f64,
    batch_images: u64,
    previous_step: u64,
}

struct MeasuringSink(Arc<Mutex<Throughput>>);

impl EventSink for MeasuringSink {
    fn record(&mut self, event: &Event) -> std::io::Result<()> {
        let mut t = self.0.lock().expect("not poisoned");
        match event {
            Event::Started {
                train_images,
                steps_per_epoch,
                ..
            } => t.batch_images = train_images / steps_per_epoch.max(&1),
            Event::Step(m) => {
                let steps = m.step - t.previous_step;
                t.previous_step = m.step;
                if m.epoch > 1.0 && m.images_per_sec > 0.0 {
                    let n = (steps * t.batch_images) as f64;
                    t.images += n;
                    t.seconds += n / m.images_per_sec;
                }
            }
            _ => {}
        }
        Ok(())
    }
}

pub fn run(args: &BenchArgs) -> Result<i32, String> {
    let loaded =
        load_profile(&args.profile.profile, &args.profile.overrides).map_err(|e| e.to_string())?;
    let p = loaded.profile;
    let spec = RunSpec {
        profile: p.clone(),
        run_name: "bench".into(),
        checkpoint_dir: None,
        warnings: Vec::new(),
    };
    let figures = Arc::new(Mutex::new(Throughput::default()));
    let engine = spawn(spec, Box::new(MeasuringSink(figures.clone())));
    let end = if args.with_tui {
        drive_tui(engine)
    } else {
        let mut end = None;
        for event in engine.events.iter() {
            if event.is_terminal() {
                end = Some(event);
                break;
            }
        }
        engine.join();
        end
    };
    match end {
        Some(Event::Finished { .. }) => {}
        Some(Event::Failed { reason, .. } | Event::Stopped { reason, .. }) => return Err(reason),
        _ => return Err("the engine ended without a word".into()),
    }
    let t = figures.lock().expect("not poisoned");
    let line = serde_json::json!({
        "impl": if args.with_tui { "rifle-tui (TUI open)" } else { "rifle-tui" },
        "arch": p.model.arch,
        "threads": tch::get_num_threads(),
        "batch": p.train.batch_size,
        "size": p.data.image_size,
        "images_per_sec": if t.seconds > 0.0 { t.images / t.seconds } else { 0.0 },
    });
    println!("{line}");
    Ok(0)
}

/// The app's own loop, minus the terminal: tick, draw when dirty at most every 100 ms.
fn drive_tui(engine: crate::train::EngineHandle) -> Option<Event> {
    use crate::tui::engine_link::EngineLink;
    use crate::tui::keys::ScreenId;
    use ratatui::backend::TestBackend;

    /// Hands the app every event and keeps the terminal one for the caller.
    struct Tap {
        inner: crate::tui::engine_link::HandleLink,
        end: Arc<Mutex<Option<Event>>>,
    }
    impl EngineLink for Tap {
        fn send(&mut self, c: crate::protocol::Command) -> bool {
            self.inner.send(c)
        }
        fn try_recv(&mut self) -> Option<Event> {
            let e = self.inner.try_recv()?;
            if e.is_terminal() {
                *self.end.lock().expect("not poisoned") = Some(e.clone());
            }
            Some(e)
        }
    }

    let end = Arc::new(Mutex::new(None));
    let tmp = std::env::temp_dir().join(format!("rifle-bench-{}", std::process::id()));
    let mut app = crate::tui::App::new(crate::tui::Config {
        runs_dir: tmp.join("runs"),
        profile_dirs: Vec::new(),
        initial_profile: None,
        theme: crate::tui::theme::Theme::new(crate::tui::theme::ColorMode::Ansi16),
    });
    app.attach_engine(Box::new(Tap {
        inner: crate::tui::engine_link::HandleLink::new(engine),
        end: end.clone(),
    }));
    app.screen = ScreenId::Monitor;
    let Ok(mut term) = ratatui::Terminal::new(TestBackend::new(120, 40));
    const FRAME: Duration = Duration::from_millis(100);
    while end.lock().expect("not poisoned").is_none() {
        let frame_start = Instant::now();
        app.tick();
        if app.take_dirty() {
            let _ = term.draw(|f| app.draw(f));
        }
        std::thread::sleep(FRAME.saturating_sub(frame_start.elapsed()));
    }
    // Let the engine thread finish (the link reaps it once the channel closes).
    for _ in 0..100 {
        app.tick();
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = std::fs::remove_dir_all(&tmp);
    let last = end.lock().expect("not poisoned").take();
    last
}
