//! `rifle-tui runs`: reading what the run store holds.
use super::{ExportFormat, RunsCommand};
use crate::runs::compare::{differing_keys, flatten_yaml};
use crate::runs::export::{epochs_csv, events_jsonl};
use crate::runs::store::{read_log, read_profile_yaml, read_run, StoredRun};
use crate::runs::tensorboard;
use crate::runs::RunStore;
use std::path::Path;

pub fn run(command: RunsCommand, runs_dir: &Path) -> Result<i32, String> {
    let store = RunStore::new(runs_dir);
    match command {
        RunsCommand::List { json } => list(&store, json),
        RunsCommand::Show { run, json } => show(&store, &run, json),
        RunsCommand::Compare { runs } => compare(&store, &runs),
        RunsCommand::Export {
            run,
            format,
            output,
        } => {
            let stored = open(&store, &run)?;
            let log = read_log(&stored.dir)?;
            report_problems(&log.problems);
            let text = match format {
                ExportFormat::Csv => epochs_csv(&log.events)?,
                ExportFormat::Jsonl => events_jsonl(&log.events),
                ExportFormat::Tensorboard => {
                    let logdir = output.ok_or(
                        "--format tensorboard writes a log folder: give it with --output DIR \
                         (then `tensorboard --logdir DIR`)",
                    )?;
                    let file = tensorboard::export(
                        &log.events,
                        &stored.dir.name,
                        &stored.summary.started_at,
                        &logdir,
                    )?;
                    println!("{}", file.display());
                    return Ok(0);
                }
            };
            match output {
                Some(path) => {
                    std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?
                }
                None => print!("{text}"),
            }
            Ok(0)
        }
    }
}

fn open(store: &RunStore, query: &str) -> Result<StoredRun, String> {
    read_run(&store.resolve(query)?)
}

fn report_problems(problems: &[String]) {
    for p in problems {
        eprintln!("warning: {p}");
    }
}

fn pct(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{:.2}%", 100.0 * v))
}

fn duration(seconds: f64) -> String {
    let s = seconds.round() as u64;
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    } else {
        format!("{}m{:02}s", s / 60, s % 60)
    }
}

fn list(store: &RunStore, json: bool) -> Result<i32, String> {
    let runs = store.list().map_err(|e| e.to_string())?;
    if json {
        let summaries: Vec<_> = runs.iter().map(|r| &r.summary).collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&summaries).map_err(|e| e.to_string())?
        );
        return Ok(0);
    }
    if runs.is_empty() {
        eprintln!("no runs in {}", store.root.display());
        return Ok(0);
    }
    println!(
        "{:<40} {:<11} {:>7} {:>8} {:>8} {:>7} {:>8}",
        "RUN", "STATUS", "EPOCHS", "BEST", "FINAL", "REINITS", "TIME"
    );
    for r in &runs {
        let s = &r.summary;
        println!(
            "{:<40} {:<11} {:>7} {:>8} {:>8} {:>7} {:>8}",
            r.dir.name,
            s.status.to_string(),
            format!("{}/{}", s.epochs_done, s.epochs_total),
            pct(s.best_val_acc),
            pct(s.final_val_acc),
            s.reinit_epochs.len(),
            duration(s.wall_seconds)
        );
    }
    Ok(0)
}

fn show(store: &RunStore, query: &str, json: bool) -> Result<i32, String> {
    let run = open(store, query)?;
    let log = read_log(&run.dir)?;
    report_problems(&log.problems);
    let epochs = crate::runs::export::epoch_metrics(&log.events);
    if json {
        let value = serde_json::json!({
            "path": run.dir.path,
            "summary": run.summary,
            "epochs": epochs,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&value).map_err(|e| e.to_string())?
        );
        return Ok(0);
    }
    let s = &run.summary;
    println!("run       {}", run.dir.name);
    println!("folder    {}", run.dir.path.display());
    println!("profile   {}", s.profile);
    println!(
        "status    {}{}",
        s.status,
        s.reason
            .as_ref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default()
    );
    println!("device    {}", s.device.as_deref().unwrap_or("-"));
    println!("started   {}", s.started_at);
    println!("time      {}", duration(s.wall_seconds));
    println!("epochs    {}/{}", s.epochs_done, s.epochs_total);
    println!(
        "val acc   best {} (epoch {}), final {}",
        pct(s.best_val_acc),
        s.best_epoch.map_or("-".into(), |e| e.to_string()),
        pct(s.final_val_acc)
    );
    println!(
        "RIFLE     period {}, re-inits at {}",
        s.period_epochs
            .map_or("off".into(), |p| format!("{p:.3} epochs")),
        if s.reinit_epochs.is_empty() {
            "-".to_string()
        } else {
            s.reinit_epochs
                .iter()
                .map(|e| format!("{e:.2}"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    );
    println!();
    println!(
        "{:>5} {:>10} {:>9} {:>10} {:>9} {:>10}",
        "EPOCH", "TRAIN LOSS", "TRAIN ACC", "VAL LOSS", "VAL ACC", "LR"
    );
    for m in epochs {
        println!(
            "{:>5} {:>10.4} {:>8.2}% {:>10.4} {:>8.2}% {:>10.2e}{}",
            m.epoch,
            m.train_loss,
            100.0 * m.train_acc,
            m.val_loss,
            100.0 * m.val_acc,
            m.lr,
            if m.best { " *" } else { "" }
        );
    }
    Ok(0)
}

fn compare(store: &RunStore, queries: &[String]) -> Result<i32, String> {
    let runs = queries
        .iter()
        .map(|q| open(store, q))
        .collect::<Result<Vec<_>, _>>()?;
    let profiles = runs
        .iter()
        .map(|r| read_profile_yaml(&r.dir).map(|y| flatten_yaml(&y)))
        .collect::<Result<Vec<_>, _>>()?;
    let diffs = differing_keys(&profiles);
    // Wide enough for the run names and values, narrow enough for a terminal.
    let width = runs
        .iter()
        .map(|r| r.dir.name.chars().count())
        .chain(
            diffs
                .iter()
                .flat_map(|(_, v)| v.iter().map(|s| s.chars().count())),
        )
        .max()
        .unwrap_or(8)
        .clamp(8, 30);
    let key_width = diffs
        .iter()
        .map(|(k, _)| k.len())
        .max()
        .unwrap_or(0)
        .clamp(14, 32);
    let header = |label: &str| {
        let mut line = format!("{label:<key_width$}");
        for r in &runs {
            line.push_str(&format!(" {:>width$}", tail(&r.dir.name, width)));
        }
        line
    };
    println!("{}", header("RUN"));
    println!("{}", "-".repeat(key_width + runs.len() * (width + 1)));
    if diffs.is_empty() {
        println!("(the profiles are the same)");
    }
    for (key, values) in diffs {
        let mut line = format!("{:<key_width$}", tail(&key, key_width));
        for v in values {
            line.push_str(&format!(" {:>width$}", tail(&v, width)));
        }
        println!("{line}");
    }
    println!("{}", "-".repeat(key_width + runs.len() * (width + 1)));
    type Cell = Box<dyn Fn(&StoredRun) -> String>;
    let rows: [(&str, Cell); 6] = [
        ("status", Box::new(|r| r.summary.status.to_string())),
        ("best val acc", Box::new(|r| pct(r.summary.best_val_acc))),
        ("final val acc", Box::new(|r| pct(r.summary.final_val_acc))),
        (
            "epochs",
            Box::new(|r| format!("{}/{}", r.summary.epochs_done, r.summary.epochs_total)),
        ),
        (
            "re-inits",
            Box::new(|r| r.summary.reinit_epochs.len().to_string()),
        ),
        ("time", Box::new(|r| duration(r.summary.wall_seconds))),
    ];
    for (label, f) in rows.iter() {
        let mut line = format!("{label:<key_width$}");
        for r in &runs {
            line.push_str(&format!(" {:>width$}", f(r)));
        }
        println!("{line}");
    }
    Ok(0)
}

/// The end of `s`, at most `n` characters: run names differ at their end.
fn tail(s: &str, n: usize) -> String {
    let count = s.chars().count();
    if count <= n {
        s.to_string()
    } else {
        let skip = count - n + 1;
        format!("…{}", s.chars().skip(skip).collect::<String>())
    }
}
