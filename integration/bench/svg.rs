//! Minimal SVG charts (no plotting dependency): a latency CDF and a log-x line chart.

use std::fmt::Write as _;

const W: f64 = 640.0;
const H: f64 = 360.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 50.0;
const COLOURS: [&str; 6] = [
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b",
];

pub struct Series {
    pub label: String,
    /// (x, y) points in data units.
    pub points: Vec<(f64, f64)>,
}

fn header(title: &str, x_label: &str, y_label: &str) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">
<rect width="{W}" height="{H}" fill="white"/>
<text x="{cx}" y="20" text-anchor="middle" font-size="14">{title}</text>
<text x="{cx}" y="{xl}" text-anchor="middle">{x_label}</text>
<text x="15" y="{cy}" text-anchor="middle" transform="rotate(-90 15 {cy})">{y_label}</text>
"#,
        cx = LEFT + (W - LEFT - RIGHT) / 2.0,
        cy = TOP + (H - TOP - BOTTOM) / 2.0,
        xl = H - 10.0,
    );
    s
}

/// Lines through `series`; `log_x` plots x on a log10 scale.
pub fn line_chart(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
    log_x: bool,
) -> String {
    let fx = |x: f64| if log_x { x.max(1e-9).log10() } else { x };
    let all: Vec<(f64, f64)> = series
        .iter()
        .flat_map(|s| s.points.iter().copied())
        .collect();
    let mut s = header(title, x_label, y_label);
    if all.is_empty() {
        s.push_str("<text x=\"320\" y=\"180\" text-anchor=\"middle\">no data</text></svg>\n");
        return s;
    }
    let (mut x0, mut x1) = (f64::MAX, f64::MIN);
    let mut y1: f64 = 0.0;
    for (x, y) in &all {
        x0 = x0.min(fx(*x));
        x1 = x1.max(fx(*x));
        y1 = y1.max(*y);
    }
    if x1 <= x0 {
        x1 = x0 + 1.0;
    }
    let y1 = if y1 <= 0.0 { 1.0 } else { y1 * 1.1 };
    let px = |x: f64| LEFT + (fx(x) - x0) / (x1 - x0) * (W - LEFT - RIGHT);
    let py = |y: f64| H - BOTTOM - y / y1 * (H - TOP - BOTTOM);
    // Axes and ticks.
    let _ = writeln!(
        s,
        r#"<line x1="{LEFT}" y1="{b}" x2="{r}" y2="{b}" stroke="black"/><line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{b}" stroke="black"/>"#,
        b = H - BOTTOM,
        r = W - RIGHT
    );
    for i in 0..=4 {
        let y = y1 * f64::from(i) / 4.0;
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="end">{}</text><line x1="{LEFT}" y1="{py}" x2="{r}" y2="{py}" stroke="lightgray"/>"#,
            LEFT - 5.0,
            py(y) + 4.0,
            short(y),
            py = py(y),
            r = W - RIGHT
        );
    }
    let mut xs: Vec<f64> = all.iter().map(|(x, _)| *x).collect();
    xs.sort_by(f64::total_cmp);
    xs.dedup();
    if xs.len() > 8 {
        let step = xs.len() / 6;
        xs = xs.iter().step_by(step.max(1)).copied().collect();
    }
    for x in xs {
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
            px(x),
            H - BOTTOM + 16.0,
            short(x)
        );
    }
    for (i, series) in series.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let path: Vec<String> = series
            .points
            .iter()
            .map(|(x, y)| format!("{:.1},{:.1}", px(*x), py(*y)))
            .collect();
        let _ = writeln!(
            s,
            r#"<polyline fill="none" stroke="{colour}" stroke-width="2" points="{}"/>"#,
            path.join(" ")
        );
        for (x, y) in &series.points {
            let _ = writeln!(
                s,
                r#"<circle cx="{:.1}" cy="{:.1}" r="2.5" fill="{colour}"/>"#,
                px(*x),
                py(*y)
            );
        }
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" fill="{colour}">{}</text>"#,
            LEFT + 10.0,
            TOP + 14.0 + 16.0 * i as f64,
            escape(&series.label)
        );
    }
    s.push_str("</svg>\n");
    s
}

/// Empirical CDF of each series' samples (x = value, y = share ≤ x, in %).
pub fn cdf_chart(title: &str, x_label: &str, samples: &[(String, Vec<f64>)]) -> String {
    let series: Vec<Series> = samples
        .iter()
        .map(|(label, values)| {
            let mut v = values.clone();
            v.sort_by(f64::total_cmp);
            let n = v.len() as f64;
            Series {
                label: label.clone(),
                points: v
                    .iter()
                    .enumerate()
                    .map(|(i, x)| (*x, (i + 1) as f64 / n * 100.0))
                    .collect(),
            }
        })
        .collect();
    line_chart(title, x_label, "share of events ≤ x (%)", &series, false)
}

fn short(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
