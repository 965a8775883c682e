//! The Monitor: one run, live or replayed. Panels drop out as the terminal shrinks.
use super::chart;
use crate::tui::monitor_state::{
    fmt_duration, fmt_epochs, LayerRow, LogKind, MonitorState, RunPhase,
};
use crate::tui::theme::Theme;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Sparkline};
use ratatui::Frame;

/// How the Monitor is shown (not what it shows).
#[derive(Debug, Clone)]
pub struct MonitorView {
    pub raw_loss: bool,
    pub marker: Marker,
    pub layer_scroll: usize,
    pub log_scroll: usize,
}

impl Default for MonitorView {
    fn default() -> Self {
        Self {
            raw_loss: false,
            marker: Marker::HalfBlock,
            layer_scroll: 0,
            log_scroll: 0,
        }
    }
}

/// How much `+`/`-` multiply or divide the period by.
pub const PERIOD_STEP: f64 = 1.25;

pub fn draw(f: &mut Frame, area: Rect, st: &MonitorState, view: &MonitorView, theme: &Theme) {
    if !st.has_run() {
        let text = vec![
            Line::from("No run yet."),
            Line::from(""),
            Line::from(
                "Launch one from Profiles (1, then Enter), or open a saved run from Runs (3).",
            ),
        ];
        f.render_widget(
            Paragraph::new(text).block(Block::bordered().title("Monitor")),
            area,
        );
        return;
    }
    if area.height < 4 || area.width < 30 {
        f.render_widget(Paragraph::new(header_line(st, theme)), area);
        return;
    }
    let [head, rest] = Layout::vertical([Constraint::Length(2), Constraint::Min(0)]).areas(area);
    draw_header(f, head, st, theme);
    if st.total_steps == 0 {
        // Ended (or still loading) before training began: the log says why, in full.
        let lines: Vec<Line> = st
            .log
            .iter()
            .map(|l| Line::styled(l.text.as_str(), log_style(l.kind, theme)))
            .collect();
        f.render_widget(
            Paragraph::new(lines)
                .wrap(ratatui::widgets::Wrap { trim: false })
                .block(Block::bordered().title("events")),
            rest,
        );
        return;
    }
    let [strip, rest] = Layout::vertical([Constraint::Length(2), Constraint::Min(0)]).areas(rest);
    draw_rifle_strip(f, strip, st, theme);
    let r = rest.height;
    let charts_h = if r >= 14 { (r * 2 / 5).clamp(7, 16) } else { 0 };
    let [charts, bottom] =
        Layout::vertical([Constraint::Length(charts_h), Constraint::Min(0)]).areas(rest);
    if charts_h > 0 {
        draw_charts(f, charts, st, view, theme);
    }
    if bottom.height < 3 {
        return;
    }
    if bottom.width >= 70 {
        let [layers, log] =
            Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)])
                .areas(bottom);
        draw_layers(f, layers, st, view, theme);
        draw_log(f, log, st, view, theme);
    } else if bottom.height >= 10 {
        let [layers, log] =
            Layout::vertical([Constraint::Min(5), Constraint::Length(5)]).areas(bottom);
        draw_layers(f, layers, st, view, theme);
        draw_log(f, log, st, view, theme);
    } else {
        draw_layers(f, bottom, st, view, theme);
    }
}

fn phase_style(phase: RunPhase, theme: &Theme) -> Style {
    match phase {
        RunPhase::Running | RunPhase::Finished => theme.good(),
        RunPhase::Paused | RunPhase::Stopped | RunPhase::Waiting => theme.warn(),
        RunPhase::Failed => theme.bad(),
    }
}

fn header_line<'a>(st: &'a MonitorState, theme: &Theme) -> Line<'a> {
    let mut spans = vec![
        Span::styled(st.run.as_str(), theme.title()),
        Span::raw("  "),
        Span::styled(st.phase.label(), phase_style(st.phase, theme)),
    ];
    if !st.live {
        spans.push(Span::styled(" (replay)", theme.dim()));
    }
    spans.push(Span::raw(format!("  {}", st.device)));
    if st.images_per_sec > 0.0 && !st.phase.is_over() {
        spans.push(Span::raw(format!("  {:.0} img/s", st.images_per_sec)));
    }
    if let Some(p) = &st.pending {
        spans.push(Span::styled(format!("  sent: {p}…"), theme.warn()));
    }
    Line::from(spans)
}

fn draw_header(f: &mut Frame, area: Rect, st: &MonitorState, theme: &Theme) {
    let w = area.width as usize;
    let epochs = fmt_epochs(st.epochs_total);
    let mut left = format!(
        "epoch {:.2}/{epochs}  step {}/{}",
        st.epoch_pos, st.step, st.total_steps
    );
    let tail = match (st.phase.is_over(), st.seconds, st.eta_seconds()) {
        (true, Some(s), _) => format!("  took {}", fmt_duration(s)),
        (_, _, Some(eta)) => format!("  ETA {}", fmt_duration(eta)),
        _ => String::new(),
    };
    let acc = match (st.last_val_acc, st.best_val_acc) {
        (Some(l), Some(b)) => format!("  val {:.1}% best {:.1}%", l * 100.0, b * 100.0),
        _ => String::new(),
    };
    left.push_str(&tail);
    let pct = st.progress();
    let used = left.chars().count() + acc.chars().count() + 8;
    let bar_w = w.saturating_sub(used).min(30);
    let mut line = vec![Span::raw(left)];
    if bar_w >= 5 {
        let done = (pct * bar_w as f64).round() as usize;
        line.push(Span::raw("  "));
        line.push(Span::styled("█".repeat(done), theme.accent()));
        line.push(Span::styled("░".repeat(bar_w - done), theme.dim()));
        line.push(Span::raw(format!(" {:>3.0}%", pct * 100.0)));
    }
    line.push(Span::raw(acc));
    f.render_widget(
        Paragraph::new(vec![header_line(st, theme), Line::from(line)]),
        area,
    );
}

/// The run's timeline with a mark at each re-init done (█), to come (┆), and now (▲).
fn draw_rifle_strip(f: &mut Frame, area: Rect, st: &MonitorState, theme: &Theme) {
    let label = "RIFLE ";
    let w = (area.width as usize).saturating_sub(label.len());
    let total = st.epochs_total.max(1e-9);
    let col = |x: f64| {
        (((x / total) * (w.saturating_sub(1)) as f64).round() as usize).min(w.saturating_sub(1))
    };
    let mut cells: Vec<(char, Style)> = vec![('─', theme.dim()); w];
    if w > 0 {
        for &x in &st.upcoming {
            cells[col(x)] = ('┆', theme.warn());
        }
        for &(x, _) in &st.reinits {
            cells[col(x)] = ('█', theme.reinit());
        }
        cells[col(st.epoch_pos)] = ('▲', theme.accent());
    }
    let mut spans = vec![Span::styled(label, theme.title())];
    spans.extend(
        cells
            .into_iter()
            .map(|(c, s)| Span::styled(c.to_string(), s)),
    );
    let status = match st.period {
        None => Span::styled("off: no re-inits in this run", theme.dim()),
        Some(p) => {
            let next = match st.next_reinit() {
                Some(n) => {
                    let left = (n - st.epoch_pos).max(0.0);
                    let steps = (left * st.steps_per_epoch as f64).ceil() as u64;
                    format!("next @{} in {left:.2} ep ({steps} steps)", fmt_epochs(n))
                }
                None => "no more re-inits".into(),
            };
            let mut text = format!(
                "period {} ep · {} done · {next}",
                fmt_epochs(p),
                st.reinits.len()
            );
            // The keys, when they fit and can act.
            let keys = "  +/- ×1.25, p sets";
            if st.controllable() && text.chars().count() + keys.len() + 6 <= area.width as usize {
                text.push_str(keys);
            }
            Span::raw(text)
        }
    };
    f.render_widget(
        Paragraph::new(vec![
            Line::from(spans),
            Line::from(vec![Span::raw("      "), status]),
        ]),
        area,
    );
}

fn draw_charts(f: &mut Frame, area: Rect, st: &MonitorState, view: &MonitorView, theme: &Theme) {
    let [a, b] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(area);
    let reinits: Vec<f64> = st.reinits.iter().map(|r| r.0).collect();
    let (series, name) = if view.raw_loss {
        (&st.loss_raw, "raw")
    } else {
        (&st.loss_ema, "EMA")
    };
    let title = format!("train loss ({name}, r toggles)");
    chart::draw(
        f,
        a,
        &title,
        &[chart::Line {
            name: "train".into(),
            points: series.points(),
            style: theme.series(0),
        }],
        &reinits,
        theme.reinit(),
        st.epochs_total,
        None,
        view.marker,
    );
    chart::draw(
        f,
        b,
        "accuracy per epoch",
        &[
            chart::Line {
                name: "train".into(),
                points: st.train_acc.points(),
                style: theme.series(0),
            },
            chart::Line {
                name: "val".into(),
                points: st.val_acc.points(),
                style: theme.series(1),
            },
        ],
        &reinits,
        theme.reinit(),
        st.epochs_total,
        Some((0.0, 1.0)),
        view.marker,
    );
}

fn draw_layers(f: &mut Frame, area: Rect, st: &MonitorState, view: &MonitorView, theme: &Theme) {
    // One scale for every row, so the rows compare: the largest update shown.
    // The head moves far more than any conv layer, so it gets its own scale.
    let max_of = |rows: &mut dyn Iterator<Item = &LayerRow>| {
        rows.flat_map(|l| l.changes.iter().copied())
            .fold(0.0_f64, f64::max)
    };
    let max = max_of(&mut st.layers.iter());
    let head_max = max_of(&mut st.head.iter());
    let title = format!(
        "update ▁..█ 0..{} (head 0..{}), dist",
        chart::short_number(max),
        chart::short_number(head_max)
    );
    let block = Block::bordered().title(title);
    let inner = block.inner(area);
    f.render_widget(block, area);
    if inner.height == 0 || inner.width < 20 {
        return;
    }
    let stage_w = st
        .layers
        .iter()
        .map(|l| l.info.stage.len())
        .max()
        .unwrap_or(4)
        .clamp(4, 10);
    let name_w = st
        .layers
        .iter()
        .chain(st.head.iter())
        .map(|l| l.info.name.len())
        .max()
        .unwrap_or(4)
        .clamp(4, 14);
    let dist_w = 7;
    let spark_w = (inner.width as usize).saturating_sub(stage_w + name_w + dist_w + 3);
    // The head's row stays at the bottom; conv rows scroll above it.
    let rows_h = inner.height.saturating_sub(1) as usize;
    let scroll = view
        .layer_scroll
        .min(st.layers.len().saturating_sub(rows_h));
    let mut prev_stage: Option<&str> = if scroll > 0 {
        Some(st.layers[scroll - 1].info.stage.as_str())
    } else {
        None
    };
    let mut draw_row = |y: u16, stage: &str, row: &LayerRow, style: Style, max: f64| {
        let text = format!(
            "{:<sw$} {:<nw$} ",
            truncate(stage, stage_w),
            truncate(&row.info.name, name_w),
            sw = stage_w,
            nw = name_w
        );
        let x0 = inner.x;
        f.render_widget(
            Paragraph::new(Span::styled(text, style)),
            Rect::new(x0, y, (stage_w + name_w + 2) as u16, 1),
        );
        if spark_w > 0 {
            let take = row.changes.len().min(spark_w);
            let data: Vec<u64> = row
                .changes
                .iter()
                .skip(row.changes.len() - take)
                .map(|v| {
                    if max > 0.0 {
                        (v / max * 1000.0).round() as u64
                    } else {
                        0
                    }
                })
                .collect();
            f.render_widget(
                Sparkline::default()
                    .data(&data)
                    .max(1000)
                    .style(theme.accent()),
                Rect::new(x0 + (stage_w + name_w + 2) as u16, y, spark_w as u16, 1),
            );
        }
        let dist = row.distance.map_or("-".into(), |d| format!("{d:.4}"));
        f.render_widget(
            Paragraph::new(format!("{:>w$}", truncate(&dist, dist_w), w = dist_w)),
            Rect::new(inner.x + inner.width - dist_w as u16, y, dist_w as u16, 1),
        );
    };
    for (y, row) in (inner.y..).zip(st.layers.iter().skip(scroll).take(rows_h)) {
        let stage = if prev_stage == Some(row.info.stage.as_str()) {
            ""
        } else {
            row.info.stage.as_str()
        };
        prev_stage = Some(row.info.stage.as_str());
        draw_row(y, stage, row, Style::default(), max);
    }
    if let Some(h) = &st.head {
        draw_row(
            inner.y + inner.height - 1,
            "head",
            h,
            theme.reinit(),
            head_max,
        );
    }
}

fn draw_log(f: &mut Frame, area: Rect, st: &MonitorState, view: &MonitorView, theme: &Theme) {
    let block = Block::bordered().title("events");
    let inner = block.inner(area);
    f.render_widget(block, area);
    let h = inner.height as usize;
    let end = st.log.len().saturating_sub(view.log_scroll);
    let start = end.saturating_sub(h);
    let lines: Vec<Line> = st
        .log
        .iter()
        .skip(start)
        .take(end - start)
        .map(|l| Line::styled(l.text.as_str(), log_style(l.kind, theme)))
        .collect();
    f.render_widget(Paragraph::new(lines), inner);
}

fn log_style(kind: LogKind, theme: &Theme) -> Style {
    match kind {
        LogKind::Info => Style::default(),
        LogKind::Reinit => theme.reinit(),
        LogKind::Warning => theme.warn(),
        LogKind::Error => theme.bad(),
    }
}

pub fn truncate(s: &str, w: usize) -> String {
    if s.chars().count() <= w {
        s.to_string()
    } else if w <= 1 {
        s.chars().take(w).collect()
    } else {
        let mut t: String = s.chars().take(w - 1).collect();
        t.push('…');
        t
    }
}
