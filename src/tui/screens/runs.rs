//! The Runs screen: saved runs, sortable, filterable, marked for comparison.
use crate::runs::{RunStore, Status};
use crate::tui::monitor_state::fmt_duration;
use crate::tui::theme::Theme;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table, TableState};
use ratatui::Frame;
use std::collections::BTreeSet;
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq)]
pub struct RunRow {
    pub name: String,
    pub path: PathBuf,
    pub profile: String,
    pub status: Status,
    pub best: Option<f64>,
    pub last: Option<f64>,
    pub reinits: usize,
    pub seconds: f64,
    pub started: String,
    /// Why it stopped or failed.
    pub reason: Option<String>,
    /// A process trains it now and serves it: Enter attaches.
    pub live: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortBy {
    Start,
    Name,
    Best,
    Final,
    Status,
}

impl SortBy {
    fn next(self) -> Self {
        match self {
            SortBy::Start => SortBy::Name,
            SortBy::Name => SortBy::Best,
            SortBy::Best => SortBy::Final,
            SortBy::Final => SortBy::Status,
            SortBy::Status => SortBy::Start,
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            SortBy::Start => "start",
            SortBy::Name => "name",
            SortBy::Best => "best",
            SortBy::Final => "final",
            SortBy::Status => "status",
        }
    }
}

#[derive(Debug, Clone)]
pub struct RunsState {
    pub rows: Vec<RunRow>,
    pub sort: SortBy,
    pub reverse: bool,
    pub filter: String,
    /// Index into `visible()`.
    pub selected: usize,
    /// Run names marked for comparison, in marking order.
    pub marked: Vec<String>,
    pub error: Option<String>,
}

impl Default for RunsState {
    fn default() -> Self {
        Self {
            rows: Vec::new(),
            sort: SortBy::Start,
            // Newest first: the run just made is the one wanted.
            reverse: true,
            filter: String::new(),
            selected: 0,
            marked: Vec::new(),
            error: None,
        }
    }
}

impl RunsState {
    pub fn reload(&mut self, store: &RunStore) {
        match store.list() {
            Ok(runs) => {
                self.error = None;
                self.rows = runs
                    .into_iter()
                    .map(|r| RunRow {
                        name: r.dir.name.clone(),
                        path: r.dir.path.clone(),
                        profile: r.summary.profile.clone(),
                        status: r.summary.status,
                        best: r.summary.best_val_acc,
                        last: r.summary.final_val_acc,
                        reinits: r.summary.reinit_epochs.len(),
                        seconds: r.summary.wall_seconds,
                        started: r.summary.started_at.clone(),
                        reason: r.summary.reason.clone(),
                        live: r.is_live(),
                    })
                    .collect();
            }
            Err(e) => self.error = Some(e.to_string()),
        }
        let names: BTreeSet<&str> = self.rows.iter().map(|r| r.name.as_str()).collect();
        self.marked.retain(|m| names.contains(m.as_str()));
        self.clamp();
    }

    /// Rows that pass the filter, in display order.
    pub fn visible(&self) -> Vec<&RunRow> {
        let f = self.filter.to_lowercase();
        let mut v: Vec<&RunRow> = self
            .rows
            .iter()
            .filter(|r| {
                f.is_empty()
                    || r.name.to_lowercase().contains(&f)
                    || r.profile.to_lowercase().contains(&f)
                    || r.status.to_string().contains(&f)
            })
            .collect();
        let key = |a: &&RunRow, b: &&RunRow| match self.sort {
            SortBy::Start => a.name.cmp(&b.name),
            SortBy::Name => a
                .name
                .get(16..)
                .unwrap_or(&a.name)
                .cmp(b.name.get(16..).unwrap_or(&b.name)),
            SortBy::Best => a
                .best
                .partial_cmp(&b.best)
                .unwrap_or(std::cmp::Ordering::Equal),
            SortBy::Final => a
                .last
                .partial_cmp(&b.last)
                .unwrap_or(std::cmp::Ordering::Equal),
            SortBy::Status => a.status.to_string().cmp(&b.status.to_string()),
        };
        v.sort_by(|a, b| {
            let o = key(a, b);
            if self.reverse {
                o.reverse()
            } else {
                o
            }
        });
        v
    }

    pub fn selected_row(&self) -> Option<&RunRow> {
        self.visible().get(self.selected).copied()
    }

    pub fn clamp(&mut self) {
        let n = self.visible().len();
        self.selected = self.selected.min(n.saturating_sub(1));
    }

    pub fn move_by(&mut self, d: isize) {
        let n = self.visible().len();
        if n > 0 {
            self.selected = (self.selected as isize + d).clamp(0, n as isize - 1) as usize;
        }
    }

    pub fn cycle_sort(&mut self) {
        self.sort = self.sort.next();
        self.clamp();
    }

    pub fn toggle_mark(&mut self) {
        if let Some(name) = self.selected_row().map(|r| r.name.clone()) {
            if let Some(i) = self.marked.iter().position(|m| *m == name) {
                self.marked.remove(i);
            } else {
                self.marked.push(name);
            }
        }
    }

    pub fn marked_paths(&self) -> Vec<PathBuf> {
        self.marked
            .iter()
            .filter_map(|m| self.rows.iter().find(|r| r.name == *m))
            .map(|r| r.path.clone())
            .collect()
    }
}

fn pct(x: Option<f64>) -> String {
    x.map_or("-".into(), |v| format!("{:.1}", v * 100.0))
}

pub fn draw(f: &mut Frame, area: Rect, st: &RunsState, theme: &Theme) {
    let filter = if st.filter.is_empty() {
        String::new()
    } else {
        format!(" filter \"{}\"", st.filter)
    };
    let title = format!(
        "runs ({}) sort {}{}{}  {} marked",
        st.visible().len(),
        st.sort.label(),
        if st.reverse { "↓" } else { "↑" },
        filter,
        st.marked.len()
    );
    let block = Block::bordered().title(title);
    if let Some(e) = &st.error {
        f.render_widget(
            Paragraph::new(Line::styled(e.as_str(), theme.bad())).block(block),
            area,
        );
        return;
    }
    let visible = st.visible();
    if visible.is_empty() {
        let msg = if st.rows.is_empty() {
            "No saved runs yet. Launch one from Profiles (1)."
        } else {
            "No run matches the filter (/ to change it)."
        };
        f.render_widget(Paragraph::new(msg).block(block), area);
        return;
    }
    // Wide terminals get every column; narrow ones keep the ones that tell runs apart.
    let wide = area.width >= 110;
    let mid = area.width >= 90;
    let mut header = vec!["", "run", "status", "best%", "final%", "re-inits", "time"];
    let mut widths = vec![
        Constraint::Length(1),
        Constraint::Min(16),
        Constraint::Length(11),
        Constraint::Length(6),
        Constraint::Length(6),
        Constraint::Length(8),
        Constraint::Length(6),
    ];
    if mid {
        header.insert(2, "profile");
        widths.insert(2, Constraint::Length(12));
    }
    if wide {
        header.push("started");
        widths.push(Constraint::Length(16));
    }
    let rows: Vec<Row> = visible
        .iter()
        .map(|r| {
            let mark = if st.marked.contains(&r.name) {
                "*"
            } else {
                " "
            };
            let status_style = match r.status {
                Status::Finished => theme.good(),
                Status::Running => theme.accent(),
                Status::Failed => theme.bad(),
                _ => theme.warn(),
            };
            let mut cells = vec![
                Cell::from(mark).style(theme.reinit()),
                Cell::from(r.name.clone()),
                Cell::from(if r.live {
                    "● live".to_string()
                } else {
                    r.status.to_string()
                })
                .style(status_style),
                Cell::from(pct(r.best)),
                Cell::from(pct(r.last)),
                Cell::from(r.reinits.to_string()),
                Cell::from(fmt_duration(r.seconds)),
            ];
            if mid {
                cells.insert(2, Cell::from(r.profile.clone()));
            }
            if wide {
                // `2026-12-04T14:00:00+00:00` -> `2026-12-04 14:00`.
                let started: String = r.started.replacen('T', " ", 1).chars().take(16).collect();
                cells.push(Cell::from(started));
            }
            Row::new(cells)
        })
        .collect();
    // Why the selected run ended early, if it did: the table has no room for it.
    let block = match st.selected_row() {
        Some(r) if r.live => block.title_bottom(Line::styled(
            " training now: Enter attaches ",
            theme.accent(),
        )),
        Some(RunRow {
            reason: Some(reason),
            ..
        }) => block.title_bottom(Line::styled(format!(" {reason} "), theme.warn())),
        _ => block,
    };
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(theme.title()))
        .block(block)
        .row_highlight_style(theme.selected());
    let mut state = TableState::default().with_selected(Some(st.selected));
    f.render_stateful_widget(table, area, &mut state);
}
