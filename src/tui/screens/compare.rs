//! Compare: two or more saved runs side by side (curves, results, differing keys, how far
//! each layer moved from its pretrained weights).
use super::chart;
use super::monitor::truncate;
use crate::protocol::{EpochMetrics, Event, LayerUpdate};
use crate::runs::compare::{differing_keys, flatten_yaml};
use crate::runs::store::{read_log, read_profile_yaml};
use crate::runs::RunDir;
use crate::tui::theme::Theme;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Row, Table};
use ratatui::Frame;
use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct CompareRun {
    pub name: String,
    pub epochs: Vec<EpochMetrics>,
    pub epochs_total: f64,
    pub reinits: usize,
    /// The last LayerUpdate's conv layers and head.
    pub layers: Vec<LayerUpdate>,
    pub head: Option<LayerUpdate>,
    pub val_acc: Vec<(f64, f64)>,
    pub val_loss: Vec<(f64, f64)>,
}

impl CompareRun {
    pub fn from_events(name: &str, events: &[Event]) -> Self {
        let mut r = CompareRun {
            name: name.to_string(),
            epochs: Vec::new(),
            epochs_total: 0.0,
            reinits: 0,
            layers: Vec::new(),
            head: None,
            val_acc: Vec::new(),
            val_loss: Vec::new(),
        };
        for e in events {
            match e {
                Event::Started {
                    total_steps,
                    steps_per_epoch,
                    ..
                } if *steps_per_epoch > 0 => {
                    r.epochs_total = *total_steps as f64 / *steps_per_epoch as f64;
                }
                Event::Epoch(m) => {
                    r.val_acc.push((m.epoch as f64, m.val_acc));
                    r.val_loss.push((m.epoch as f64, m.val_loss));
                    r.epochs.push(m.clone());
                }
                Event::Reinit { .. } => r.reinits += 1,
                Event::LayerUpdate { layers, head, .. } => {
                    r.layers = layers.clone();
                    r.head = Some(head.clone());
                }
                _ => {}
            }
        }
        r
    }

    pub fn best(&self) -> Option<f64> {
        self.epochs.iter().map(|e| e.val_acc).reduce(f64::max)
    }
    pub fn last(&self) -> Option<f64> {
        self.epochs.last().map(|e| e.val_acc)
    }
}

#[derive(Debug, Clone, Default)]
pub struct CompareState {
    pub runs: Vec<CompareRun>,
    /// Profile keys that differ, with each run's value.
    pub diffs: Vec<(String, Vec<String>)>,
    pub scroll: usize,
    pub problems: Vec<String>,
}

impl CompareState {
    /// Reads each run folder; a run that cannot be read is reported, not fatal.
    pub fn load(paths: &[PathBuf]) -> Self {
        let mut st = CompareState::default();
        let mut flats = Vec::new();
        for p in paths {
            let dir = RunDir::open(p);
            match read_log(&dir) {
                Ok(log) => {
                    let events: Vec<_> = crate::runs::export::current_history(&log.events)
                        .into_iter()
                        .cloned()
                        .collect();
                    st.runs.push(CompareRun::from_events(&dir.name, &events));
                    flats.push(flatten_yaml(&read_profile_yaml(&dir).unwrap_or_default()));
                }
                Err(e) => st.problems.push(e),
            }
        }
        st.diffs = differing_keys(&flats);
        st
    }

    pub fn from_parts(runs: Vec<CompareRun>, profiles: &[String]) -> Self {
        let flats: Vec<_> = profiles.iter().map(|p| flatten_yaml(p)).collect();
        CompareState {
            runs,
            diffs: differing_keys(&flats),
            scroll: 0,
            problems: Vec::new(),
        }
    }
}

fn pct(x: Option<f64>) -> String {
    x.map_or("-".into(), |v| format!("{:.1}", v * 100.0))
}

/// A run name without its `YYYYMMDD-HHMMSS-` time prefix.
fn short_name(name: &str) -> &str {
    let b = name.as_bytes();
    if b.len() > 16 && b[8] == b'-' && b[15] == b'-' {
        &name[16..]
    } else {
        name
    }
}

/// Short run labels for narrow columns: `#1`, `#2`, ... matching the legend.
fn tag(i: usize) -> String {
    format!("#{}", i + 1)
}

pub fn draw(f: &mut Frame, area: Rect, st: &CompareState, marker: Marker, theme: &Theme) {
    if st.runs.len() < 2 {
        let mut lines = vec![Line::from(
            "Mark two or more runs on the Runs screen (3, space), then press C.",
        )];
        lines.extend(
            st.problems
                .iter()
                .map(|p| Line::styled(p.as_str(), theme.bad())),
        );
        f.render_widget(
            Paragraph::new(lines).block(Block::bordered().title("Compare")),
            area,
        );
        return;
    }
    let results_h = (st.runs.len() as u16 + 3).min(area.height / 3);
    let charts_h = if area.height >= 20 {
        (area.height * 2 / 5).clamp(7, 16)
    } else {
        0
    };
    let [charts, results, rest] = Layout::vertical([
        Constraint::Length(charts_h),
        Constraint::Length(results_h),
        Constraint::Min(0),
    ])
    .areas(area);
    if charts_h > 0 {
        let [a, b] = Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)])
            .areas(charts);
        let x_max = st.runs.iter().map(|r| r.epochs_total).fold(1.0, f64::max);
        let acc: Vec<chart::Line> = st
            .runs
            .iter()
            .enumerate()
            .map(|(i, r)| chart::Line {
                name: format!("{} {}", tag(i), short_name(&r.name)),
                points: &r.val_acc,
                style: theme.run(i),
            })
            .collect();
        chart::draw(
            f,
            a,
            "val accuracy",
            &acc,
            &[],
            theme.dim(),
            x_max,
            Some((0.0, 1.0)),
            marker,
        );
        let loss: Vec<chart::Line> = st
            .runs
            .iter()
            .enumerate()
            .map(|(i, r)| chart::Line {
                name: tag(i),
                points: &r.val_loss,
                style: theme.run(i),
            })
            .collect();
        chart::draw(
            f,
            b,
            "val loss",
            &loss,
            &[],
            theme.dim(),
            x_max,
            None,
            marker,
        );
    }
    let rows: Vec<Row> = st
        .runs
        .iter()
        .enumerate()
        .map(|(i, r)| {
            Row::new(vec![
                Line::styled(tag(i), theme.run(i)),
                Line::from(r.name.clone()),
                Line::from(pct(r.best())),
                Line::from(pct(r.last())),
                Line::from(r.epochs.len().to_string()),
                Line::from(r.reinits.to_string()),
            ])
        })
        .collect();
    f.render_widget(
        Table::new(
            rows,
            [
                Constraint::Length(3),
                Constraint::Min(12),
                Constraint::Length(6),
                Constraint::Length(6),
                Constraint::Length(6),
                Constraint::Length(8),
            ],
        )
        .header(
            Row::new(vec!["", "run", "best%", "final%", "epochs", "re-inits"]).style(theme.title()),
        )
        .block(Block::bordered().title("results")),
        results,
    );
    if rest.height < 3 {
        return;
    }
    let [keys, layers] =
        Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(rest);
    draw_diffs(f, keys, st, theme);
    draw_layers(f, layers, st, theme);
}

fn value_cols(st: &CompareState, width: u16, label_w: usize) -> usize {
    let n = st.runs.len().max(1);
    ((width as usize).saturating_sub(label_w + 2) / n).clamp(3, 14)
}

fn draw_diffs(f: &mut Frame, area: Rect, st: &CompareState, theme: &Theme) {
    let block = Block::bordered().title("profile keys that differ");
    let inner = block.inner(area);
    f.render_widget(block, area);
    if st.diffs.is_empty() {
        f.render_widget(Paragraph::new("none: same profile"), inner);
        return;
    }
    let key_w =
        (inner.width as usize / 2).min(st.diffs.iter().map(|d| d.0.len()).max().unwrap_or(4));
    let col = value_cols(st, inner.width, key_w);
    let lines: Vec<Line> = st
        .diffs
        .iter()
        .skip(st.scroll)
        .map(|(k, vals)| {
            let mut spans = vec![Span::raw(format!("{:<key_w$} ", truncate(k, key_w)))];
            for (i, v) in vals.iter().enumerate() {
                spans.push(Span::styled(
                    format!("{:<col$}", truncate(v, col.saturating_sub(1))),
                    theme.run(i),
                ));
            }
            Line::from(spans)
        })
        .collect();
    f.render_widget(Paragraph::new(lines), inner);
}

fn draw_layers(f: &mut Frame, area: Rect, st: &CompareState, theme: &Theme) {
    let block = Block::bordered().title("distance from start ‖W-W0‖/‖W0‖");
    let inner = block.inner(area);
    f.render_widget(block, area);
    // Layers in the first run's network order; a layer missing from a run shows `-`.
    let mut names: Vec<String> = st.runs[0].layers.iter().map(|l| l.name.clone()).collect();
    for r in &st.runs[1..] {
        for l in &r.layers {
            if !names.contains(&l.name) {
                names.push(l.name.clone());
            }
        }
    }
    names.push("head".into());
    let name_w = names.iter().map(|n| n.len()).max().unwrap_or(4).min(14);
    // Two runs get a third column: how far the second moved relative to the first.
    let ratio = st.runs.len() == 2;
    let cols = st.runs.len() + usize::from(ratio);
    let col = ((inner.width as usize).saturating_sub(name_w + 1) / cols).clamp(3, 8);
    let mut header = vec![Span::styled(
        format!("{:<name_w$} ", "layer"),
        theme.title(),
    )];
    for i in 0..st.runs.len() {
        header.push(Span::styled(format!("{:>col$}", tag(i)), theme.run(i)));
    }
    if ratio {
        header.push(Span::styled(format!("{:>col$}", "#2/#1"), theme.title()));
    }
    let mut lines = vec![Line::from(header)];
    for name in names.iter().skip(st.scroll) {
        let mut spans = vec![Span::raw(format!("{:<name_w$} ", truncate(name, name_w)))];
        let values: Vec<Option<f64>> = st
            .runs
            .iter()
            .map(|r| {
                if name == "head" {
                    r.head.as_ref().map(|h| h.rel_distance)
                } else {
                    r.layers
                        .iter()
                        .find(|l| l.name == *name)
                        .map(|l| l.rel_distance)
                }
            })
            .collect();
        for (i, v) in values.iter().enumerate() {
            let text = v.map_or("-".into(), |d| format!("{d:.4}"));
            spans.push(Span::styled(format!("{text:>col$}"), theme.run(i)));
        }
        if ratio {
            let text = match (values[0], values[1]) {
                (Some(a), Some(b)) if a > 0.0 => format!("×{:.2}", b / a),
                _ => "-".into(),
            };
            spans.push(Span::styled(format!("{text:>col$}"), theme.title()));
        }
        lines.push(Line::from(spans));
    }
    f.render_widget(Paragraph::new(lines), inner);
}
