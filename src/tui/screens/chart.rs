//! Line charts shared by the Monitor and Compare screens.
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::symbols::Marker;
use ratatui::text::Span;
use ratatui::widgets::{Axis, Block, Chart, Dataset, GraphType, LegendPosition};
use ratatui::Frame;

pub struct Line<'a> {
    pub name: String,
    pub points: &'a [(f64, f64)],
    pub style: Style,
}

/// Draws `lines` over x in [0, x_max]; `vlines` are vertical markers (re-inits).
#[allow(clippy::too_many_arguments)]
pub fn draw(
    f: &mut Frame,
    area: Rect,
    title: &str,
    lines: &[Line],
    vlines: &[f64],
    vline_style: Style,
    x_max: f64,
    y_fixed: Option<(f64, f64)>,
    marker: Marker,
) {
    let (y_lo, y_hi) = y_fixed.unwrap_or_else(|| {
        let mut lo = f64::INFINITY;
        let mut hi = f64::NEG_INFINITY;
        for l in lines {
            for &(_, y) in l.points {
                if y.is_finite() {
                    lo = lo.min(y);
                    hi = hi.max(y);
                }
            }
        }
        if !lo.is_finite() {
            (0.0, 1.0)
        } else if hi - lo < 1e-9 {
            (lo - 0.5, hi + 0.5)
        } else {
            let pad = (hi - lo) * 0.05;
            (
                (lo - pad).max(if lo >= 0.0 { 0.0 } else { f64::MIN }),
                hi + pad,
            )
        }
    });
    let x_max = if x_max > 0.0 { x_max } else { 1.0 };
    let vpoints: Vec<[(f64, f64); 2]> = vlines.iter().map(|&x| [(x, y_lo), (x, y_hi)]).collect();
    let mut datasets: Vec<Dataset> = vpoints
        .iter()
        .map(|pts| {
            Dataset::default()
                .graph_type(GraphType::Line)
                .marker(marker)
                .style(vline_style)
                .data(pts)
        })
        .collect();
    for l in lines {
        datasets.push(
            Dataset::default()
                .name(l.name.clone())
                .graph_type(GraphType::Line)
                .marker(marker)
                .style(l.style)
                .data(l.points),
        );
    }
    let label = |v: f64| Span::raw(short_number(v));
    let chart = Chart::new(datasets)
        .block(Block::bordered().title(title.to_string()))
        .legend_position(Some(LegendPosition::TopRight))
        .hidden_legend_constraints((
            ratatui::layout::Constraint::Percentage(60),
            ratatui::layout::Constraint::Percentage(60),
        ))
        .x_axis(
            Axis::default()
                .bounds([0.0, x_max])
                .labels(vec![label(0.0), label(x_max)]),
        )
        .y_axis(
            Axis::default()
                .bounds([y_lo, y_hi])
                .labels(vec![label(y_lo), label(y_hi)]),
        );
    f.render_widget(chart, area);
}

/// At most 5 characters: `0.123`, `12.5`, `1.2e-4`.
pub fn short_number(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 {
        "0".into()
    } else if v.fract() == 0.0 && a < 100_000.0 {
        format!("{v:.0}")
    } else if !(0.001..1000.0).contains(&a) {
        format!("{v:.0e}")
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else {
        let s = format!("{v:.2}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}
