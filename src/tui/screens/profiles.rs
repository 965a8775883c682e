//! Profiles: the YAML profiles on disk, one shown as a form validated as you type.
use crate::profile::{parse_profile, LoadedProfile, ProfileError};
use crate::runs::compare::flatten_yaml;
use crate::tui::profile_edit::set_value;
use crate::tui::screens::monitor::truncate;
use crate::tui::theme::Theme;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, List, ListItem, ListState, Paragraph, Wrap};
use ratatui::Frame;
use std::path::{Path, PathBuf};

/// The form: the keys most runs change, in the order of the file.
pub const FIELDS: &[(&str, &str)] = &[
    ("model.arch", "arch"),
    ("model.weights", "weights"),
    ("data.source", "data source"),
    ("data.root", "data root"),
    ("data.image_size", "image size"),
    ("train.epochs", "epochs"),
    ("train.batch_size", "batch size"),
    ("train.optimizer.kind", "optimizer"),
    ("train.optimizer.lr", "lr"),
    ("train.schedule.kind", "schedule"),
    ("rifle.enabled", "RIFLE"),
    ("rifle.period_epochs", "period (ep)"),
    ("rifle.cycles", "cycles"),
    ("train.seed", "seed"),
    ("train.device", "device"),
];

#[derive(Debug, Clone, PartialEq)]
pub struct ProfileEntry {
    pub path: PathBuf,
    /// From the user's config folder rather than ./profiles.
    pub user: bool,
}

impl ProfileEntry {
    pub fn file_name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

/// One problem, placed: beside its field when the form has it, else in the list below.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub key: String,
    pub message: String,
    /// `demo.yaml:12:5: key: message`.
    pub full: String,
}

#[derive(Debug, Clone, Default)]
pub struct ProfilesState {
    pub dirs: Vec<(PathBuf, bool)>,
    pub entries: Vec<ProfileEntry>,
    pub selected: usize,
    pub field: usize,
    pub focus_form: bool,
    /// The selected profile's text, with unsaved edits.
    pub text: String,
    pub saved_text: String,
    pub problems: Vec<Problem>,
    pub warnings: Vec<String>,
    /// Every key of the last valid parse, defaults filled in, to show what a missing key means.
    pub resolved: std::collections::BTreeMap<String, String>,
    pub read_error: Option<String>,
    /// A field being typed: (key, text so far); the check then runs on this value.
    pub preview: Option<(String, String)>,
}

impl ProfilesState {
    pub fn new(dirs: Vec<(PathBuf, bool)>) -> Self {
        Self {
            dirs,
            ..Self::default()
        }
    }

    /// Rescans the folders; `extra` (a profile named on the command line) is added if it
    /// lives elsewhere, and selected.
    pub fn scan(&mut self, extra: Option<&Path>) {
        let keep = self.current().map(|e| e.path.clone());
        let mut entries = Vec::new();
        for (dir, user) in &self.dirs {
            let Ok(rd) = std::fs::read_dir(dir) else {
                continue;
            };
            let mut files: Vec<PathBuf> = rd
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
                .collect();
            files.sort();
            entries.extend(
                files
                    .into_iter()
                    .map(|path| ProfileEntry { path, user: *user }),
            );
        }
        let same = |a: &Path, b: &Path| {
            a == b
                || std::fs::canonicalize(a)
                    .ok()
                    .is_some_and(|x| Some(x) == std::fs::canonicalize(b).ok())
        };
        let want = extra.map(Path::to_path_buf).or(keep);
        if let Some(p) = &extra {
            if !entries.iter().any(|e| same(&e.path, p)) {
                entries.push(ProfileEntry {
                    path: p.to_path_buf(),
                    user: false,
                });
            }
        }
        self.entries = entries;
        self.selected = want
            .and_then(|w| self.entries.iter().position(|e| same(&e.path, &w)))
            .unwrap_or(0);
        self.load_selected();
    }

    pub fn current(&self) -> Option<&ProfileEntry> {
        self.entries.get(self.selected)
    }

    pub fn dirty(&self) -> bool {
        self.text != self.saved_text
    }

    /// Reads the selected file from disk, dropping unsaved edits.
    pub fn load_selected(&mut self) {
        self.preview = None;
        self.resolved.clear();
        self.read_error = None;
        let Some(e) = self.current() else {
            self.text.clear();
            self.saved_text.clear();
            self.problems.clear();
            return;
        };
        match std::fs::read_to_string(&e.path) {
            Ok(t) => {
                self.text = t.clone();
                self.saved_text = t;
            }
            Err(err) => {
                self.read_error = Some(format!("{}: {err}", e.path.display()));
                self.text.clear();
                self.saved_text.clear();
            }
        }
        self.check();
    }

    pub fn select(&mut self, d: isize) {
        if self.entries.is_empty() {
            return;
        }
        let n = self.entries.len() as isize;
        let next = (self.selected as isize + d).clamp(0, n - 1) as usize;
        if next != self.selected {
            self.selected = next;
            self.load_selected();
        }
    }

    pub fn move_field(&mut self, d: isize) {
        self.field = (self.field as isize + d).clamp(0, FIELDS.len() as isize - 1) as usize;
    }

    /// The text the check runs on: with the field being typed, if any.
    fn candidate(&self) -> String {
        match &self.preview {
            Some((k, v)) => set_value(&self.text, k, v),
            None => self.text.clone(),
        }
    }

    /// Parses the text as `rifle-tui train` would.
    pub fn parse(&self) -> Option<Result<LoadedProfile, ProfileError>> {
        let e = self.current()?;
        Some(parse_profile(&self.candidate(), &e.path, &[]))
    }

    pub fn check(&mut self) {
        self.problems.clear();
        self.warnings.clear();
        let Some(e) = self.current() else { return };
        let shown = Path::new(&e.file_name()).to_path_buf();
        match self.parse() {
            None => {}
            Some(Ok(loaded)) => {
                self.resolved = flatten_yaml(&loaded.profile.to_yaml());
                // The period the run will use, when it comes from `cycles`.
                if let Some(p) = loaded.profile.rifle_period_epochs() {
                    self.resolved
                        .entry("rifle.period_epochs".into())
                        .or_insert_with(|| crate::tui::monitor_state::fmt_epochs(p));
                }
                self.warnings = loaded.warnings;
            }
            Some(Err(ProfileError::Invalid { errors, .. })) => {
                self.problems = errors
                    .iter()
                    .map(|fe| Problem {
                        key: fe.key.clone(),
                        message: fe.message.clone(),
                        full: fe.render(&shown),
                    })
                    .collect();
            }
            Some(Err(other)) => {
                let full = other
                    .to_string()
                    .replace(&e.path.display().to_string(), &e.file_name());
                self.problems = vec![Problem {
                    key: String::new(),
                    message: full.clone(),
                    full,
                }];
            }
        }
    }

    pub fn is_valid(&self) -> bool {
        self.read_error.is_none() && self.problems.is_empty() && self.current().is_some()
    }

    pub fn set_preview(&mut self, key: &str, value: &str) {
        self.preview = Some((key.to_string(), value.to_string()));
        self.check();
    }

    pub fn commit_preview(&mut self) {
        if let Some((k, v)) = self.preview.take() {
            self.text = set_value(&self.text, &k, &v);
        }
        self.check();
    }

    pub fn cancel_preview(&mut self) {
        self.preview = None;
        self.check();
    }

    /// The value the file gives a field (None when it relies on the default).
    pub fn value_of(&self, key: &str) -> Option<String> {
        flatten_yaml(&self.candidate()).get(key).cloned()
    }

    pub fn save(&mut self) -> Result<String, String> {
        let e = self.current().ok_or("no profile selected")?.clone();
        std::fs::write(&e.path, &self.text)
            .map_err(|err| format!("{}: {err}", e.path.display()))?;
        self.saved_text = self.text.clone();
        Ok(format!("saved {}", e.file_name()))
    }

    pub fn duplicate(&mut self) -> Result<String, String> {
        let e = self.current().ok_or("no profile selected")?.clone();
        let dir = e.path.parent().unwrap_or(Path::new("."));
        let stem = e
            .path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut n = 1;
        let target = loop {
            let name = if n == 1 {
                format!("{stem}-copy.yaml")
            } else {
                format!("{stem}-copy{n}.yaml")
            };
            let p = dir.join(name);
            if !p.exists() {
                break p;
            }
            n += 1;
        };
        std::fs::write(&target, &self.text)
            .map_err(|err| format!("{}: {err}", target.display()))?;
        self.scan(Some(&target));
        Ok(format!(
            "duplicated to {}",
            self.current().map(|e| e.file_name()).unwrap_or_default()
        ))
    }

    pub fn rename(&mut self, new_stem: &str) -> Result<String, String> {
        let new_stem = new_stem.trim().trim_end_matches(".yaml");
        if new_stem.is_empty() || new_stem.contains('/') {
            return Err("a file name, without folder".into());
        }
        let e = self.current().ok_or("no profile selected")?.clone();
        let target = e.path.with_file_name(format!("{new_stem}.yaml"));
        if target.exists() {
            return Err(format!("{} exists already", target.display()));
        }
        std::fs::rename(&e.path, &target).map_err(|err| format!("{}: {err}", e.path.display()))?;
        let text = self.text.clone();
        self.scan(Some(&target));
        // Unsaved edits survive a rename.
        self.text = text;
        self.check();
        Ok(format!("renamed to {new_stem}.yaml"))
    }
}

pub fn draw(f: &mut Frame, area: Rect, st: &ProfilesState, theme: &Theme) {
    let list_w = (area.width / 4).clamp(12, 28);
    let [list, right] =
        Layout::horizontal([Constraint::Length(list_w), Constraint::Min(0)]).areas(area);
    let items: Vec<ListItem> = st
        .entries
        .iter()
        .map(|e| {
            let mut name = e.file_name();
            if e.user {
                name.push_str(" ~");
            }
            ListItem::new(name)
        })
        .collect();
    let list_block = Block::bordered().title(if st.focus_form {
        "profiles"
    } else {
        "[profiles]"
    });
    if items.is_empty() {
        f.render_widget(
            Paragraph::new("none: put .yaml files in ./profiles")
                .wrap(Wrap { trim: true })
                .block(list_block),
            list,
        );
    } else {
        let mut ls = ListState::default().with_selected(Some(st.selected));
        f.render_stateful_widget(
            List::new(items)
                .block(list_block)
                .highlight_style(theme.selected()),
            list,
            &mut ls,
        );
    }
    let form_h = (FIELDS.len() as u16 + 2).min(right.height.saturating_sub(3));
    let [form, msgs] =
        Layout::vertical([Constraint::Length(form_h), Constraint::Min(0)]).areas(right);
    let title = match st.current() {
        Some(e) => {
            format!(
                "{}{}{}",
                if st.focus_form { "[" } else { "" },
                e.file_name(),
                if st.dirty() {
                    " (modified, w saves)"
                } else {
                    ""
                },
            ) + if st.focus_form { "]" } else { "" }
        }
        None => "profile".into(),
    };
    let block = Block::bordered().title(title);
    let inner = block.inner(form);
    f.render_widget(block, form);
    let label_w = 12usize;
    let val_w = ((inner.width as usize).saturating_sub(label_w + 1) / 2).clamp(8, 30);
    let err_w = (inner.width as usize).saturating_sub(label_w + val_w + 2);
    let rows_h = inner.height as usize;
    let scroll = st.field.saturating_sub(rows_h.saturating_sub(1));
    let lines: Vec<Line> = FIELDS
        .iter()
        .enumerate()
        .skip(scroll)
        .take(rows_h)
        .map(|(i, (key, label))| {
            let typing = st
                .preview
                .as_ref()
                .filter(|(k, _)| k == key)
                .map(|(_, v)| v.clone());
            let value = match (&typing, st.value_of(key)) {
                (Some(v), _) => Span::styled(format!("{v}_"), theme.accent()),
                (None, Some(v)) => Span::raw(v),
                (None, None) => match st.resolved.get(*key) {
                    Some(v) => Span::styled(format!("{v} (default)"), theme.dim()),
                    None => Span::styled("-", theme.dim()),
                },
            };
            let err = st
                .problems
                .iter()
                .find(|p| p.key == *key)
                .map(|p| Span::styled(truncate(&p.message, err_w), theme.bad()))
                .unwrap_or_else(|| Span::raw(""));
            let label_style = if st.focus_form && i == st.field {
                theme.selected()
            } else {
                theme.title()
            };
            let value_text = truncate(&value.content, val_w);
            Line::from(vec![
                Span::styled(
                    format!("{:<label_w$}", truncate(label, label_w)),
                    label_style,
                ),
                Span::raw(" "),
                Span::styled(format!("{value_text:<val_w$}"), value.style),
                Span::raw(" "),
                err,
            ])
        })
        .collect();
    f.render_widget(Paragraph::new(lines), inner);
    if msgs.height == 0 {
        return;
    }
    let form_keys: Vec<&str> = FIELDS.iter().map(|f| f.0).collect();
    let mut lines: Vec<Line> = Vec::new();
    if let Some(e) = &st.read_error {
        lines.push(Line::styled(e.as_str(), theme.bad()));
    } else if st.current().is_none() {
        lines.push(Line::from("No profile selected."));
    } else if st.problems.is_empty() {
        lines.push(Line::styled("valid: Enter launches a run", theme.good()));
    } else {
        lines.push(Line::styled(
            format!("{} problem(s): fix them to launch", st.problems.len()),
            theme.bad(),
        ));
        for p in st.problems.iter() {
            if !form_keys.contains(&p.key.as_str()) || p.key.is_empty() {
                lines.push(Line::styled(p.full.as_str(), theme.bad()));
            } else {
                lines.push(Line::styled(p.full.as_str(), theme.dim()));
            }
        }
    }
    for w in &st.warnings {
        lines.push(Line::styled(format!("warning: {w}"), theme.warn()));
    }
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::bordered().title("check")),
        msgs,
    );
}
