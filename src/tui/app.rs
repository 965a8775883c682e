//! The application: screens' states, the engine link, and the one place keys become
//! actions. Pure apart from file operations, so tests drive it with a TestBackend.
use super::engine_link::{EngineLink, SocketLink};
use super::keys::{self, Action, ScreenId};
use super::monitor_state::{fmt_epochs, MonitorState, RunPhase};
use super::screens::compare::CompareState;
use super::screens::monitor::{MonitorView, PERIOD_STEP};
use super::screens::profiles::{ProfilesState, FIELDS};
use super::screens::runs::RunsState;
use super::screens::{compare, help, monitor, profiles, runs};
use super::theme::Theme;
use crate::protocol::{Command, Event};
use crate::remote::detach::{self, Job};
use crate::runs::export::{export_into_run_folder, EPOCHS_CSV, TENSORBOARD_DIR};
use crate::runs::run_dir::SOCKET_FILE;
use crate::runs::store::read_log;
use crate::runs::{RunDir, RunStore, Status};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;
use std::path::{Path, PathBuf};

/// Where the app finds things; tests point it at temporary folders.
#[derive(Debug, Clone)]
pub struct Config {
    pub runs_dir: PathBuf,
    /// Profile folders, with whether each is the user's own (config dir).
    pub profile_dirs: Vec<(PathBuf, bool)>,
    pub initial_profile: Option<PathBuf>,
    pub theme: Theme,
    /// The program that trains launched runs in processes of their own (this binary).
    pub trainer_exe: PathBuf,
}

/// What the app asks of the loop around it (things that need the real terminal).
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    None,
    OpenEditor(PathBuf),
}

#[derive(Debug, Clone, PartialEq)]
pub enum PromptKind {
    Period,
    Filter,
    Field(String),
    Rename,
}

#[derive(Debug, Clone)]
pub struct Prompt {
    pub kind: PromptKind,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ConfirmKind {
    Stop,
    QuitAndStop,
    /// Quit while attached to a run that goes on without the app: `s` stops it first.
    QuitLeavingRun,
    Delete(PathBuf),
}

#[derive(Debug, Clone)]
pub struct Confirm {
    pub kind: ConfirmKind,
    pub question: String,
}

pub struct App {
    pub screen: ScreenId,
    pub show_help: bool,
    pub theme: Theme,
    /// The run this process trains (empty when none).
    pub live: MonitorState,
    /// A saved run opened from Runs; shown instead of the live one while set.
    pub replay: Option<MonitorState>,
    pub monitor_view: MonitorView,
    pub runs: RunsState,
    pub compare: CompareState,
    pub profiles: ProfilesState,
    pub prompt: Option<Prompt>,
    pub confirm: Option<Confirm>,
    /// The last message for the user: (text, is_error).
    pub status: Option<(String, bool)>,
    engine: Option<Box<dyn EngineLink>>,
    store: RunStore,
    trainer_exe: PathBuf,
    quit: bool,
    quit_after_stop: bool,
    dirty: bool,
}

impl App {
    pub fn new(config: Config) -> Self {
        let mut profiles = ProfilesState::new(config.profile_dirs.clone());
        profiles.scan(config.initial_profile.as_deref());
        let store = RunStore::new(&config.runs_dir);
        let mut runs = RunsState::default();
        runs.reload(&store);
        Self {
            screen: ScreenId::Profiles,
            show_help: false,
            theme: config.theme,
            live: MonitorState::new(true),
            replay: None,
            monitor_view: MonitorView::default(),
            runs,
            compare: CompareState::default(),
            profiles,
            prompt: None,
            confirm: None,
            status: None,
            engine: None,
            store,
            trainer_exe: config.trainer_exe,
            quit: false,
            quit_after_stop: false,
            dirty: true,
        }
    }

    pub fn should_quit(&self) -> bool {
        self.quit
    }

    /// Whether something changed since the last draw; clears the flag.
    pub fn take_dirty(&mut self) -> bool {
        std::mem::replace(&mut self.dirty, false)
    }

    pub fn mark_dirty(&mut self) {
        self.dirty = true;
    }

    /// Whether a run is training in this process (the loop then ticks to drain events).
    pub fn has_engine(&self) -> bool {
        self.engine.is_some()
    }

    /// Attaches a running engine (real or fake) as the live run.
    pub fn attach_engine(&mut self, engine: Box<dyn EngineLink>) {
        self.attach_named(engine, "");
    }

    /// As [`attach_engine`](Self::attach_engine), naming the run before its first event
    /// so a run that fails while loading still shows up, with its reason.
    pub fn attach_named(&mut self, engine: Box<dyn EngineLink>, run: &str) {
        self.engine = Some(engine);
        self.live = MonitorState::new(true);
        self.live.run = run.to_string();
        self.replay = None;
        self.dirty = true;
    }

    /// The run the Monitor shows.
    pub fn shown(&self) -> &MonitorState {
        self.replay.as_ref().unwrap_or(&self.live)
    }

    /// Drains the events the engine has sent; never blocks. Returns how many. Capped per
    /// tick so a flood cannot starve the keys; the rest wait in the channel for the next.
    pub fn tick(&mut self) -> usize {
        const MAX_PER_TICK: usize = 50_000;
        let mut n = 0;
        while n < MAX_PER_TICK {
            let Some(e) = self.engine.as_mut().and_then(|l| l.try_recv()) else {
                break;
            };
            self.apply_engine_event(e);
            n += 1;
        }
        if let Some(why) = self.engine.as_ref().and_then(|l| l.lost()) {
            self.engine = None;
            self.live.note(why.clone());
            self.complain(why);
            self.runs.reload(&self.store);
            self.dirty = true;
            if self.quit_after_stop {
                self.quit = true;
            }
        }
        n
    }

    /// Attaches to the live run in `run_dir`: its whole history, then its live events.
    pub fn attach_run(&mut self, run_dir: &Path) -> Result<(), String> {
        let link = SocketLink::connect(&run_dir.join(SOCKET_FILE))?;
        let name = RunDir::open(run_dir).name;
        self.attach_named(Box::new(link), &name);
        self.screen = ScreenId::Monitor;
        Ok(())
    }

    /// At start-up: back to the newest run that is training, if one is.
    pub fn attach_newest_live(&mut self) {
        let newest = self
            .runs
            .rows
            .iter()
            .filter(|r| r.live)
            .max_by(|a, b| a.name.cmp(&b.name))
            .map(|r| (r.path.clone(), r.name.clone()));
        if let Some((path, name)) = newest {
            let screen = self.screen;
            match self.attach_run(&path) {
                Ok(()) => self.say(format!(
                    "attached to {name}, which is training (2 shows it, d detaches)"
                )),
                Err(e) => self.complain(e),
            }
            self.screen = screen;
        }
    }

    /// Leaves the live run to train on its own.
    fn detach(&mut self) {
        match self.engine.as_ref() {
            Some(l) if l.detachable() => {}
            Some(_) => return self.complain("this run trains inside the app; it cannot detach"),
            None => return self.complain("not attached to a run"),
        }
        self.engine = None;
        let name = std::mem::take(&mut self.live.run);
        self.live = super::monitor_state::MonitorState::new(true);
        self.runs.reload(&self.store);
        self.screen = ScreenId::Runs;
        self.say(format!(
            "detached from {name}; it goes on training (Enter on it attaches again)"
        ));
    }

    pub fn apply_engine_event(&mut self, event: Event) {
        let replayed = self.engine.as_ref().is_some_and(|l| l.replaying());
        let terminal = event.is_terminal() && !replayed;
        self.live.apply(&event);
        self.dirty = true;
        if terminal {
            if let Event::Failed { reason, .. } = &event {
                self.complain(format!("the run failed: {reason}"));
            }
            self.engine = None;
            self.runs.reload(&self.store);
            if self.quit_after_stop {
                self.quit = true;
            }
        }
    }

    fn say(&mut self, text: impl Into<String>) {
        self.status = Some((text.into(), false));
    }

    fn complain(&mut self, text: impl Into<String>) {
        self.status = Some((text.into(), true));
    }

    fn send(&mut self, command: Command, pending: String) {
        let sent = self.engine.as_mut().is_some_and(|e| e.send(command));
        if sent {
            self.live.pending = Some(pending.clone());
            self.live.note(format!("sent: {pending}"));
        } else {
            self.complain("the engine has ended");
        }
    }

    pub fn handle_key(&mut self, key: KeyEvent) -> Effect {
        self.dirty = true;
        // A message stays until the next key.
        self.status = None;
        let ctrl_c =
            key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c');
        if let Some(c) = self.confirm.take() {
            match key.code {
                KeyCode::Char('y') | KeyCode::Char('Y') => self.confirmed(c.kind),
                KeyCode::Char('s') if c.kind == ConfirmKind::QuitLeavingRun => {
                    self.confirmed(ConfirmKind::QuitAndStop)
                }
                KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc => self.say("cancelled"),
                _ if ctrl_c => self.say("cancelled"),
                // Anything else leaves the question up: a stray key must not answer it.
                _ => self.confirm = Some(c),
            }
            return Effect::None;
        }
        if self.prompt.is_some() && !ctrl_c {
            self.prompt_key(key);
            return Effect::None;
        }
        if self.prompt.take().is_some() {
            self.profiles.cancel_preview();
        }
        if self.show_help {
            if matches!(key.code, KeyCode::Esc | KeyCode::Char('?')) {
                self.show_help = false;
                return Effect::None;
            }
            self.show_help = false;
        }
        if key.code == KeyCode::Esc {
            self.status = None;
            return Effect::None;
        }
        match keys::lookup(self.screen, &key) {
            Some(a) => self.act(a),
            None => Effect::None,
        }
    }

    fn act(&mut self, action: Action) -> Effect {
        let screen_index = ScreenId::ALL
            .iter()
            .position(|s| *s == self.screen)
            .unwrap_or(0);
        match action {
            Action::Quit => {
                if self.quit_after_stop {
                    // Asked to stop already and still waiting: a second quit does not wait.
                    self.quit = true;
                } else if self.live.controllable()
                    && self.engine.as_ref().is_some_and(|l| l.detachable())
                {
                    self.confirm = Some(Confirm {
                        kind: ConfirmKind::QuitLeavingRun,
                        question: "Quit? The run trains on. (y: quit, s: stop it first, n: cancel)"
                            .into(),
                    });
                } else if self.live.controllable() {
                    self.confirm = Some(Confirm {
                        kind: ConfirmKind::QuitAndStop,
                        question: "A run is training. Stop it and quit? (y/n)".into(),
                    });
                } else {
                    self.quit = true;
                }
            }
            Action::Help => self.show_help = true,
            Action::NextScreen => self.screen = ScreenId::ALL[(screen_index + 1) % 4],
            Action::PrevScreen => self.screen = ScreenId::ALL[(screen_index + 3) % 4],
            Action::Goto(s) => self.goto(s),
            _ => return self.screen_action(action),
        }
        Effect::None
    }

    fn goto(&mut self, s: ScreenId) {
        // The Monitor key always brings back the live run if there is one.
        if s == ScreenId::Monitor && self.screen == ScreenId::Monitor && self.live.has_run() {
            self.replay = None;
        }
        self.screen = s;
    }

    fn screen_action(&mut self, action: Action) -> Effect {
        match self.screen {
            ScreenId::Monitor => self.monitor_action(action),
            ScreenId::Runs => self.runs_action(action),
            ScreenId::Compare => self.compare_action(action),
            ScreenId::Profiles => return self.profiles_action(action),
        }
        Effect::None
    }

    fn can_command(&mut self) -> bool {
        if self.replay.is_some() {
            self.complain("this is a saved run; press 2 again for the live one");
            false
        } else if !self.live.controllable() {
            self.complain("no run is training");
            false
        } else {
            true
        }
    }

    fn set_period(&mut self, p: f64) {
        if !(p.is_finite() && p > 0.0) {
            self.complain("the period is a number of epochs greater than 0");
            return;
        }
        self.send(
            Command::SetRiflePeriod { period_epochs: p },
            format!("period {} epochs", fmt_epochs(p)),
        );
    }

    fn monitor_action(&mut self, action: Action) {
        let (n_layers, n_log) = (self.shown().layers.len(), self.shown().log.len());
        let v = &mut self.monitor_view;
        match action {
            Action::ToggleRawLoss => v.raw_loss = !v.raw_loss,
            Action::ToggleMarker => v.marker = toggle_marker(v.marker),
            Action::Down => v.layer_scroll = (v.layer_scroll + 1).min(n_layers),
            Action::Up => v.layer_scroll = v.layer_scroll.saturating_sub(1),
            Action::PageDown => v.log_scroll = (v.log_scroll + 5).min(n_log),
            Action::PageUp => v.log_scroll = v.log_scroll.saturating_sub(5),
            Action::Detach if self.replay.is_some() => {
                self.complain("this is a saved run; press 2 again for the live one")
            }
            Action::Detach => self.detach(),
            _ => self.monitor_command(action),
        }
    }

    /// The keys that talk to the engine; only for a live run that has not ended.
    fn monitor_command(&mut self, action: Action) {
        let commands = [
            Action::PeriodUp,
            Action::PeriodDown,
            Action::PeriodExact,
            Action::PauseResume,
            Action::CheckpointNow,
            Action::Stop,
        ];
        if !commands.contains(&action) || !self.can_command() {
            return;
        }
        match action {
            Action::PeriodUp | Action::PeriodDown => {
                let base = self.live.period.unwrap_or(1.0);
                let p = if action == Action::PeriodUp {
                    base * PERIOD_STEP
                } else {
                    base / PERIOD_STEP
                };
                // Two decimals: the value on screen is the value sent.
                self.set_period(((p * 100.0).round() / 100.0).max(0.01));
            }
            Action::PeriodExact => {
                self.prompt = Some(Prompt {
                    kind: PromptKind::Period,
                    text: String::new(),
                })
            }
            Action::PauseResume if self.live.phase == RunPhase::Paused => {
                self.send(Command::Resume, "resume".into())
            }
            Action::PauseResume => self.send(Command::Pause, "pause".into()),
            Action::CheckpointNow => self.send(Command::Checkpoint, "checkpoint".into()),
            _ => {
                self.confirm = Some(Confirm {
                    kind: ConfirmKind::Stop,
                    question: "Stop the run (checkpoint, then end as stopped)? (y/n)".into(),
                })
            }
        }
    }

    fn runs_action(&mut self, action: Action) {
        match action {
            Action::Down => self.runs.move_by(1),
            Action::Up => self.runs.move_by(-1),
            Action::CycleSort => self.runs.cycle_sort(),
            Action::ReverseSort => self.runs.reverse = !self.runs.reverse,
            Action::Mark => self.runs.toggle_mark(),
            Action::Reload => self.runs.reload(&self.store),
            Action::Filter => {
                self.prompt = Some(Prompt {
                    kind: PromptKind::Filter,
                    text: self.runs.filter.clone(),
                })
            }
            Action::Open => {
                let Some(row) = self.runs.selected_row().cloned() else {
                    return;
                };
                if self.live.has_run() && self.live.run == row.name {
                    self.replay = None;
                } else if row.live {
                    if self.live.controllable() {
                        return self.complain(format!(
                            "attached to {} already; detach from it (d on the Monitor) first",
                            self.live.run
                        ));
                    }
                    if let Err(e) = self.attach_run(&row.path) {
                        self.runs.reload(&self.store);
                        return self.complain(e);
                    }
                    self.say(format!("attached to {}", row.name));
                } else {
                    match read_log(&RunDir::open(&row.path)) {
                        Ok(log) => {
                            // A resumed run's history, without what a killed writer had
                            // logged past its last saved epoch.
                            let events: Vec<_> = crate::runs::export::current_history(&log.events)
                                .into_iter()
                                .cloned()
                                .collect();
                            self.replay = Some(MonitorState::replay(&events));
                            if let Some(p) = log.problems.first() {
                                self.complain(p.clone());
                            }
                        }
                        Err(e) => return self.complain(e),
                    }
                }
                self.screen = ScreenId::Monitor;
            }
            Action::Delete => {
                if let Some(row) = self.runs.selected_row() {
                    if row.live || (self.live.controllable() && self.live.run == row.name) {
                        return self.complain("that run is training; stop it first");
                    }
                    self.confirm = Some(Confirm {
                        question: format!("Delete {} and its files? (y/n)", row.name),
                        kind: ConfirmKind::Delete(row.path.clone()),
                    });
                }
            }
            Action::ResumeRun => self.resume_selected(),
            Action::Export => self.export_runs(),
            Action::Compare => {
                let paths = self.runs.marked_paths();
                if paths.len() < 2 {
                    return self.complain("mark two or more runs with space first");
                }
                self.compare = CompareState::load(&paths);
                self.screen = ScreenId::Compare;
            }
            _ => {}
        }
    }

    fn compare_action(&mut self, action: Action) {
        match action {
            Action::Down => self.compare.scroll += 1,
            Action::Up => self.compare.scroll = self.compare.scroll.saturating_sub(1),
            Action::ToggleMarker => {
                self.monitor_view.marker = toggle_marker(self.monitor_view.marker)
            }
            _ => {}
        }
    }

    fn profiles_action(&mut self, action: Action) -> Effect {
        let p = &mut self.profiles;
        match action {
            Action::Down if p.focus_form => p.move_field(1),
            Action::Up if p.focus_form => p.move_field(-1),
            Action::Down => p.select(1),
            Action::Up => p.select(-1),
            Action::SwitchFocus => p.focus_form = !p.focus_form,
            Action::Reload => p.scan(None),
            Action::Revert => {
                p.load_selected();
                self.say("edits undone");
            }
            Action::EditField if p.current().is_some() => {
                p.focus_form = true;
                let key = FIELDS[p.field].0.to_string();
                let text = p.value_of(&key).unwrap_or_default();
                p.set_preview(&key, &text);
                self.prompt = Some(Prompt {
                    kind: PromptKind::Field(key),
                    text,
                });
            }
            Action::Save => match p.save() {
                Ok(m) => self.say(m),
                Err(e) => self.complain(e),
            },
            Action::Duplicate => match p.duplicate() {
                Ok(m) => self.say(m),
                Err(e) => self.complain(e),
            },
            Action::Rename => {
                if let Some(e) = p.current() {
                    let stem = e.path.file_stem().map(|s| s.to_string_lossy().into_owned());
                    self.prompt = Some(Prompt {
                        kind: PromptKind::Rename,
                        text: stem.unwrap_or_default(),
                    });
                }
            }
            Action::ExternalEdit => {
                if let Some(e) = p.current() {
                    if p.dirty() {
                        self.complain("save (w) or undo (u) the edits before opening $EDITOR");
                    } else {
                        return Effect::OpenEditor(e.path.clone());
                    }
                }
            }
            Action::Launch => self.launch(),
            _ => {}
        }
        Effect::None
    }

    /// After `$EDITOR` returns: re-read and re-check the file.
    pub fn editor_done(&mut self, result: Result<(), String>) {
        self.profiles.load_selected();
        self.dirty = true;
        match result {
            Err(e) => self.complain(e),
            Ok(()) if self.profiles.is_valid() => self.say("profile re-read: valid"),
            Ok(()) => self.complain("profile re-read: see the problems below"),
        }
    }

    fn launch(&mut self) {
        if self.live.controllable() {
            return self.complain("a run is already training (one at a time)");
        }
        let loaded = match self.profiles.parse() {
            None => return self.complain("no profile selected"),
            Some(Err(e)) => {
                let first = e.to_string().lines().next().unwrap_or("").to_string();
                return self.complain(format!("cannot launch: {first}"));
            }
            Some(Ok(l)) => l,
        };
        let yaml = loaded.profile.to_yaml();
        self.start_trainer(Job::Train {
            profile_yaml: &yaml,
        });
    }

    /// Starts a detached trainer (it outlives the app) and attaches to it.
    fn start_trainer(&mut self, job: Job<'_>) {
        let resuming = matches!(job, Job::Resume { .. });
        match detach::launch(&self.trainer_exe, job, &self.store.root) {
            Ok(started) => {
                let name = RunDir::open(&started.run_dir).name;
                match self.attach_run(&started.run_dir) {
                    Ok(()) => self.say(format!(
                        "{} {name} in process {} (d detaches; it trains on)",
                        if resuming { "resumed" } else { "launched" },
                        started.pid
                    )),
                    Err(e) => self.complain(e),
                }
                self.runs.reload(&self.store);
            }
            Err(e) => self.complain(format!("cannot start the run: {e}")),
        }
    }

    /// The Runs screen's `x`: the marked runs (or the selected one) get `epochs.csv` and a
    /// TensorBoard log in their own folders.
    fn export_runs(&mut self) {
        let mut paths = self.runs.marked_paths();
        if paths.is_empty() {
            paths.extend(self.runs.selected_row().map(|r| r.path.clone()));
        }
        if paths.is_empty() {
            return self.complain("no run to export");
        }
        for path in &paths {
            if let Err(e) = export_into_run_folder(path) {
                return self.complain(format!("export failed: {e}"));
            }
        }
        let what = match paths.as_slice() {
            [one] => one
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
            many => format!("{} runs", many.len()),
        };
        self.say(format!(
            "exported {what}: {EPOCHS_CSV} and {TENSORBOARD_DIR}/ in the run folder; \
             tensorboard --logdir {} shows them",
            self.store.root.display()
        ));
    }

    /// The Runs screen's `r`: continue the selected run where it stopped.
    fn resume_selected(&mut self) {
        let Some(row) = self.runs.selected_row().cloned() else {
            return;
        };
        if self.live.controllable() {
            return self.complain(format!(
                "attached to {} already; detach from it (d on the Monitor) first",
                self.live.run
            ));
        }
        match row.status {
            Status::Running => {
                self.complain(format!("{} is training; Enter attaches to it", row.name))
            }
            Status::Finished => {
                self.complain(format!("{} has finished; nothing to resume", row.name))
            }
            Status::Stopped | Status::Failed | Status::Interrupted => {
                self.start_trainer(Job::Resume { run: &row.path })
            }
        }
    }

    fn prompt_key(&mut self, key: KeyEvent) {
        let Some(mut p) = self.prompt.take() else {
            return;
        };
        match key.code {
            KeyCode::Esc => {
                if p.kind == PromptKind::Filter {
                    self.runs.filter.clear();
                    self.runs.clamp();
                }
                self.profiles.cancel_preview();
                return;
            }
            KeyCode::Enter => return self.prompt_done(p),
            KeyCode::Backspace => {
                p.text.pop();
            }
            KeyCode::Char(c) => p.text.push(c),
            _ => {}
        }
        // Filter and field values act as they are typed.
        match &p.kind {
            PromptKind::Filter => {
                self.runs.filter = p.text.clone();
                self.runs.clamp();
            }
            PromptKind::Field(k) => self.profiles.set_preview(k, &p.text),
            _ => {}
        }
        self.prompt = Some(p);
    }

    fn prompt_done(&mut self, p: Prompt) {
        match p.kind {
            PromptKind::Period => match p.text.trim().parse::<f64>() {
                Ok(v) => self.set_period(v),
                Err(_) => self.complain(format!("not a number: `{}`", p.text)),
            },
            PromptKind::Filter => {}
            PromptKind::Field(_) => {
                self.profiles.commit_preview();
                self.say("edited (w saves)");
            }
            PromptKind::Rename => match self.profiles.rename(&p.text) {
                Ok(m) => self.say(m),
                Err(e) => self.complain(e),
            },
        }
    }

    fn confirmed(&mut self, kind: ConfirmKind) {
        match kind {
            ConfirmKind::Stop => self.send(Command::Stop, "stop".into()),
            ConfirmKind::QuitLeavingRun => self.quit = true,
            ConfirmKind::QuitAndStop => {
                self.quit_after_stop = true;
                self.send(Command::Stop, "stop, then quit".into());
                if self.engine.is_none() {
                    self.quit = true;
                }
            }
            ConfirmKind::Delete(path) => {
                match std::fs::remove_dir_all(&path) {
                    Ok(()) => self.say(format!("deleted {}", RunDir::open(&path).name)),
                    Err(e) => self.complain(format!("{}: {e}", path.display())),
                }
                self.runs.reload(&self.store);
            }
        }
    }

    pub fn draw(&self, f: &mut Frame) {
        let area = f.area();
        if area.height < 3 || area.width < 20 {
            f.render_widget(Paragraph::new("rifle-tui: window too small"), area);
            return;
        }
        let [tabs, body, footer] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Min(0),
            Constraint::Length(1),
        ])
        .areas(area);
        self.draw_tabs(f, tabs);
        match self.screen {
            ScreenId::Monitor => {
                monitor::draw(f, body, self.shown(), &self.monitor_view, &self.theme)
            }
            ScreenId::Runs => runs::draw(f, body, &self.runs, &self.theme),
            ScreenId::Compare => compare::draw(
                f,
                body,
                &self.compare,
                self.monitor_view.marker,
                &self.theme,
            ),
            ScreenId::Profiles => profiles::draw(f, body, &self.profiles, &self.theme),
        }
        if self.show_help {
            help::draw(f, body, self.screen, &self.theme);
        }
        self.draw_footer(f, footer);
    }

    fn draw_tabs(&self, f: &mut Frame, area: Rect) {
        let mut spans = vec![];
        for (i, s) in ScreenId::ALL.iter().enumerate() {
            let label = format!(" {} {} ", i + 1, s.title());
            spans.push(if *s == self.screen {
                Span::styled(label, self.theme.selected())
            } else {
                Span::raw(label)
            });
        }
        if self.live.has_run() {
            let l = &self.live;
            let text = format!("  ● {} {:.0}%", l.phase.label(), l.progress() * 100.0);
            spans.push(Span::styled(text, self.theme.accent()));
        }
        f.render_widget(Paragraph::new(Line::from(spans)), area);
    }

    fn draw_footer(&self, f: &mut Frame, area: Rect) {
        let line = if let Some(c) = &self.confirm {
            Line::styled(c.question.as_str(), self.theme.warn())
        } else if let Some(p) = &self.prompt {
            let label = match &p.kind {
                PromptKind::Period => "new period in epochs".to_string(),
                PromptKind::Filter => "filter".to_string(),
                PromptKind::Field(k) => k.clone(),
                PromptKind::Rename => "new file name".to_string(),
            };
            Line::from(vec![
                Span::styled(format!("{label}> "), self.theme.accent()),
                Span::raw(format!("{}_", p.text)),
                Span::styled("  Enter ok, Esc cancel", self.theme.dim()),
            ])
        } else if let Some((text, err)) = &self.status {
            let style = if *err {
                self.theme.bad()
            } else {
                self.theme.good()
            };
            Line::styled(text.as_str(), style)
        } else {
            Line::styled(
                keys::hint(self.screen, area.width as usize),
                self.theme.dim(),
            )
        };
        f.render_widget(Paragraph::new(line), area);
    }
}

fn toggle_marker(m: Marker) -> Marker {
    if m == Marker::Braille {
        Marker::HalfBlock
    } else {
        Marker::Braille
    }
}
