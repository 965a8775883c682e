//! The command line: `train`, `check` and `runs`, all on the same engine and run store.
mod bench;
mod check;
mod import_weights;
mod progress;
mod runs;
mod train;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "rifle-tui",
    version,
    about = "Fine-tune pretrained CNNs with RIFLE (periodic re-initialisation of the final layer)",
    after_help = "Runs are kept in the user's data folder unless --runs-dir or RIFLE_RUNS_DIR says otherwise."
)]
pub struct Cli {
    /// Folder holding the runs.
    #[arg(long, global = true, env = "RIFLE_RUNS_DIR", value_name = "DIR")]
    pub runs_dir: Option<PathBuf>,
    /// Without one, the terminal UI opens.
    #[command(subcommand)]
    pub command: Option<Commands>,
}

#[derive(Debug, Subcommand)]
pub enum Commands {
    /// Open the terminal UI, with PROFILE selected if given.
    Tui {
        /// A YAML profile, e.g. profiles/demo.yaml.
        profile: Option<PathBuf>,
    },
    /// Train a profile headless; exit code 0 only when the run finished.
    ///
    /// PROFILE `-` reads the profile from standard input. Any front end can attach to
    /// the run while it trains (`rifle-tui attach`).
    Train {
        #[command(flatten)]
        args: ProfileArgs,
        #[command(flatten)]
        detach: DetachArgs,
    },
    /// Validate a profile, its data and its weights without training.
    Check(ProfileArgs),
    /// Continue a stopped, failed or interrupted run in its folder from its last epoch end.
    Resume {
        /// A run folder, its name, a unique part of it, or `last`.
        run: String,
        #[command(flatten)]
        detach: DetachArgs,
    },
    /// Open the terminal UI attached to a live run (default: the newest live one).
    Attach {
        /// A run folder, its name, a unique part of it, or `last`.
        run: Option<String>,
    },
    /// List, show, compare and export saved runs.
    Runs {
        #[command(subcommand)]
        command: RunsCommand,
    },
    /// Convert a PyTorch checkpoint (.pth/.pt state dict) to .safetensors.
    ImportWeights(import_weights::ImportArgs),
    /// Training throughput of a profile, as JSON (used by `make bench`).
    #[command(hide = true)]
    Bench(bench::BenchArgs),
}

#[derive(Debug, clap::Args)]
pub struct ProfileArgs {
    /// A YAML profile, e.g. profiles/demo.yaml.
    pub profile: PathBuf,
    /// Override a profile key, e.g. --set rifle.period_epochs=2 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
}

impl ProfileArgs {
    /// Loads the profile with its overrides; `-` reads it from standard input (relative
    /// paths in it then resolve against the current folder).
    pub fn load(&self) -> Result<crate::profile::LoadedProfile, String> {
        if self.profile.as_os_str() == "-" {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
                .map_err(|e| format!("cannot read the profile from standard input: {e}"))?;
            crate::profile::parse_profile(&text, std::path::Path::new("<stdin>"), &self.overrides)
        } else {
            crate::profile::load_profile(&self.profile, &self.overrides)
        }
        .map_err(|e| e.to_string())
    }
}

#[derive(Debug, Clone, Copy, clap::Args)]
pub struct DetachArgs {
    /// Train in a background process of its own session, which survives this terminal,
    /// SSH connection and SIGHUP; prints the run folder and returns at once.
    #[arg(long)]
    pub detach: bool,
    /// The background process itself (started by --detach and by the TUI).
    #[arg(long, hide = true, conflicts_with = "detach")]
    pub detached_child: bool,
}

#[derive(Debug, Subcommand)]
pub enum RunsCommand {
    /// Every saved run, oldest first.
    List {
        #[arg(long)]
        json: bool,
    },
    /// One run: its summary and epoch-by-epoch history.
    Show {
        /// A run folder, its name, a unique part of it, or `last`.
        run: String,
        #[arg(long)]
        json: bool,
    },
    /// Runs side by side: the profile keys that differ, then their results.
    Compare {
        #[arg(required = true, num_args = 2..)]
        runs: Vec<String>,
    },
    /// A run's history as CSV (one row an epoch), JSON lines (every event) or a
    /// TensorBoard log (every curve, per-layer updates included).
    Export {
        run: String,
        #[arg(long, value_enum, default_value = "csv")]
        format: ExportFormat,
        /// Write here instead of standard output. For `tensorboard`, required: the log
        /// folder, which gets one subfolder a run (`tensorboard --logdir` it).
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ExportFormat {
    Csv,
    Jsonl,
    Tensorboard,
}

/// Runs the command line; returns the process exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    let runs_dir = cli.runs_dir.unwrap_or_else(crate::runs::default_runs_dir);
    let result = match cli.command {
        None => crate::tui::run(&runs_dir, None),
        Some(Commands::Tui { profile }) => crate::tui::run(&runs_dir, profile),
        Some(Commands::Train { args, detach }) => train::run(&args, detach, &runs_dir),
        Some(Commands::Check(args)) => check::run(&args),
        Some(Commands::Resume { run, detach }) => train::resume(&run, detach, &runs_dir),
        Some(Commands::Attach { run }) => crate::tui::attach(&runs_dir, run.as_deref()),
        Some(Commands::Runs { command }) => runs::run(command, &runs_dir),
        Some(Commands::Bench(args)) => bench::run(&args),
        Some(Commands::ImportWeights(args)) => import_weights::run(&args),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            2
        }
    }
}
