//! `rifle-tui bench PROFILE`: the engine's training throughput, measured the way the
//! PyTorch reference in `benches/` measures its own: images over the wall time of the
//! training steps of every epoch after the first (warm-up and evaluation left out).
use super::ProfileArgs;
use crate::profile::load_profile;
use crate::protocol::Event;
use crate::train::{engine::NoSink, spawn, RunSpec};

pub fn run(args: &ProfileArgs) -> Result<i32, String> {
    let loaded = load_profile(&args.profile, &args.overrides).map_err(|e| e.to_string())?;
    let p = loaded.profile;
    let spec = RunSpec {
        profile: p.clone(),
        run_name: "bench".into(),
        checkpoint_dir: None,
        warnings: Vec::new(),
    };
    let engine = spawn(spec, Box::new(NoSink));
    let (mut images, mut seconds) = (0.0, 0.0);
    let mut device = String::new();
    let mut batch_images = 0u64;
    let mut outcome = Err("the engine ended without a word".to_string());
    let mut previous_step = 0u64;
    for event in engine.events.iter() {
        match &event {
            Event::Started {
                device: d,
                train_images,
                steps_per_epoch,
                ..
            } => {
                device = d.clone();
                batch_images = train_images / steps_per_epoch.max(&1);
            }
            Event::Step(m) => {
                let steps = m.step - previous_step;
                previous_step = m.step;
                if m.epoch > 1.0 && m.images_per_sec > 0.0 {
                    let n = (steps * batch_images) as f64;
                    images += n;
                    seconds += n / m.images_per_sec;
                }
            }
            Event::Finished { .. } => outcome = Ok(()),
            Event::Failed { reason, .. } => outcome = Err(reason.clone()),
            Event::Stopped { reason, .. } => outcome = Err(reason.clone()),
            _ => {}
        }
        if event.is_terminal() {
            break;
        }
    }
    engine.join();
    outcome?;
    let line = serde_json::json!({
        "impl": "rifle-tui",
        "arch": p.model.arch,
        "device": device,
        "threads": tch::get_num_threads(),
        "batch": p.train.batch_size,
        "size": p.data.image_size,
        "images_per_sec": if seconds > 0.0 { images / seconds } else { 0.0 },
    });
    println!("{line}");
    Ok(0)
}
