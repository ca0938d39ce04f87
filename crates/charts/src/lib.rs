//! Small, deterministic SVG charts from plain numbers: bars (stacked or
//! grouped, with reference lines and marks), histograms with shaded bands,
//! lines over categories, scatter plots and status grids. Each renders to
//! one `<svg>` element that a self-contained HTML report inlines. This
//! crate never does I/O, never emits script, styles or external
//! references, and never panics on odd numbers (NaN, infinities and
//! mismatched lengths are drawn as nothing).
//!
//! Why not a plotting crate: the reports need hover tooltips (an SVG
//! `<title>` per data element, shown by the browser without script), a
//! class on every data element (`class="datum"`) so tests can tell a plot
//! with data from empty axes, output that is byte-for-byte the same for the
//! same data (insta snapshots), markup escaped so the page stays
//! well-formed XML, and no font machinery for laying out text. That is
//! a few hundred lines with no dependencies; the five chart kinds are
//! the only ones the reports draw.
//!
//! Every chart is 760 px wide; its height is given. Colours are CSS colour
//! strings chosen by the caller (see [`PALETTE`]).
//!
//! ```
//! let chart = charts::Bars {
//!     title: "runs".into(),
//!     y_label: "runs".into(),
//!     x_label: "cycle".into(),
//!     categories: vec!["00:05".into(), "00:10".into()],
//!     series: vec![charts::Series::new("OK", "#2e7d32", vec![3.0, 4.0])],
//!     stacked: true,
//!     lines: vec![],
//! };
//! let svg = chart.render();
//! assert!(svg.starts_with("<svg"));
//! assert_eq!(svg.matches("class=\"datum\"").count(), 2);
//! ```

mod frame;
mod scale;
mod svg;

use frame::Frame;
pub use svg::escape;
use svg::num;

/// Ten distinct colours (Tableau 10) for series without a meaning of their
/// own.
pub const PALETTE: [&str; 10] = [
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#bab0ac",
];

/// Colour `i` of [`PALETTE`], cycling.
pub fn palette(i: usize) -> &'static str {
    PALETTE[i % PALETTE.len()]
}

fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

/// One named series of values, one per category.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend text.
    pub name: String,
    /// CSS colour.
    pub colour: String,
    /// One value per category (missing ones are drawn as nothing).
    pub values: Vec<f64>,
    /// Optional marks, one per category: a short black line across the bar
    /// at that value (red when it differs from the bar), e.g. what another
    /// table says the bar should be.
    pub marks: Vec<Option<f64>>,
}

impl Series {
    /// A series without marks.
    pub fn new(name: impl Into<String>, colour: impl Into<String>, values: Vec<f64>) -> Series {
        Series {
            name: name.into(),
            colour: colour.into(),
            values,
            marks: Vec::new(),
        }
    }
}

/// A horizontal reference line, e.g. a budget.
#[derive(Debug, Clone, PartialEq)]
pub struct RefLine {
    /// Where, in y units.
    pub value: f64,
    /// What it is.
    pub label: String,
}

/// Bars over categories: stacked (one bar per category) or grouped (one
/// bar per series side by side).
#[derive(Debug, Clone, PartialEq)]
pub struct Bars {
    /// Title, also the accessible name.
    pub title: String,
    /// Y axis label.
    pub y_label: String,
    /// X axis label.
    pub x_label: String,
    /// The categories, left to right.
    pub categories: Vec<String>,
    /// The series.
    pub series: Vec<Series>,
    /// Stacked or grouped.
    pub stacked: bool,
    /// Reference lines. One above the data stretches the axis only when it
    /// is within 4 times the data's top; otherwise it is named in a note
    /// at the top of the plot (so a 60 s budget does not flatten 1 s bars).
    pub lines: Vec<RefLine>,
}

impl Bars {
    /// The chart as one `<svg>` element.
    pub fn render(&self) -> String {
        let legend = legend(self.series.iter().map(|s| (&s.name, &s.colour)));
        let mut f = Frame::new("bars", &self.title, 300.0, &legend);
        let n = self.categories.len();
        let value = |s: &Series, i: usize| s.values.get(i).copied().and_then(finite).unwrap_or(0.0);
        let mark = |s: &Series, i: usize| s.marks.get(i).copied().flatten().and_then(finite);
        let data_top = (0..n)
            .map(|i| {
                let bar = if self.stacked {
                    self.series.iter().map(|s| value(s, i).max(0.0)).sum()
                } else {
                    self.series.iter().map(|s| value(s, i)).fold(0.0, f64::max)
                };
                self.series
                    .iter()
                    .filter_map(|s| mark(s, i))
                    .fold(bar, f64::max)
            })
            .fold(0.0, f64::max);
        let (shown, off_scale): (Vec<&RefLine>, Vec<&RefLine>) = self
            .lines
            .iter()
            .filter(|l| l.value.is_finite())
            .partition(|l| data_top == 0.0 || l.value <= data_top * 4.0);
        let top = shown.iter().map(|l| l.value).fold(data_top, f64::max);
        let y = f.y_axis(0.0, top, &self.y_label);
        let bands = f.categories(&self.categories, &self.x_label);
        let has_data = data_top > 0.0;
        let groups = if self.stacked {
            1
        } else {
            self.series.len().max(1)
        };
        let width = bands.band * 0.8 / groups as f64;
        for i in 0..n {
            let left = bands.centre(i) - bands.band * 0.4;
            let mut base = 0.0;
            for (k, s) in self.series.iter().enumerate() {
                let v = value(s, i);
                let x = if self.stacked {
                    left
                } else {
                    left + width * k as f64
                };
                let (lo, hi) = if self.stacked {
                    (base, base + v.max(0.0))
                } else {
                    (0.0, v.max(0.0))
                };
                if v > 0.0 {
                    f.svg.datum(
                        "rect",
                        &[
                            ("x", num(x)),
                            ("y", num(y.at(hi))),
                            ("width", num(width.max(1.0))),
                            ("height", num((y.at(lo) - y.at(hi)).max(0.5))),
                            ("fill", s.colour.clone()),
                        ],
                        &format!("{} {}: {}", self.categories[i], s.name, scale_label(v)),
                    );
                }
                if let Some(m) = mark(s, i) {
                    let differs = (m - v).abs() > 1e-9;
                    let my = y.at(if self.stacked { base + m } else { m });
                    f.svg.datum(
                        "line",
                        &[
                            ("x1", num(x - 1.0)),
                            ("x2", num(x + width.max(1.0) + 1.0)),
                            ("y1", num(my)),
                            ("y2", num(my)),
                            (
                                "stroke",
                                if differs { "#c62828" } else { "#222" }.to_owned(),
                            ),
                            ("stroke-width", "2".to_owned()),
                        ],
                        &format!(
                            "{} {}: mark {}{}",
                            self.categories[i],
                            s.name,
                            scale_label(m),
                            if differs { " (differs)" } else { "" }
                        ),
                    );
                }
                base = hi;
            }
        }
        for l in shown {
            f.hline(y.at(l.value), &l.label, "#c62828");
        }
        if !off_scale.is_empty() {
            let names: Vec<&str> = off_scale.iter().map(|l| l.label.as_str()).collect();
            f.svg.text_el(
                "text",
                &[
                    ("class", "reference".to_owned()),
                    ("x", num(f.x1 - 4.0)),
                    ("y", num(f.y0 + 12.0)),
                    ("text-anchor", "end".to_owned()),
                    ("fill", "#c62828".to_owned()),
                ],
                &format!("{} (above the plot)", names.join(", ")),
            );
        }
        if !has_data {
            f.note("no data in window");
        }
        f.finish()
    }
}

/// A shaded band of the x axis, e.g. a score range.
#[derive(Debug, Clone, PartialEq)]
pub struct Band {
    /// Start, in x units.
    pub from: f64,
    /// End, in x units.
    pub to: f64,
    /// What it means.
    pub label: String,
    /// CSS colour (drawn translucent).
    pub colour: String,
}

/// A histogram on a numeric x axis.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    /// Title.
    pub title: String,
    /// X axis label.
    pub x_label: String,
    /// Y axis label.
    pub y_label: String,
    /// `(lower, upper, count)` per bin.
    pub bins: Vec<(f64, f64, f64)>,
    /// Shaded bands with their boundaries marked.
    pub bands: Vec<Band>,
    /// The x range drawn.
    pub x_range: (f64, f64),
    /// Colour of the bars.
    pub colour: String,
}

impl Histogram {
    /// The chart as one `<svg>` element.
    pub fn render(&self) -> String {
        let legend = legend(self.bands.iter().map(|b| (&b.label, &b.colour)));
        let mut f = Frame::new("histogram", &self.title, 300.0, &legend);
        let top = self
            .bins
            .iter()
            .filter_map(|b| finite(b.2))
            .fold(0.0, f64::max);
        let y = f.y_axis(0.0, top, &self.y_label);
        let x = f.x_axis(self.x_range.0, self.x_range.1, &self.x_label);
        for b in &self.bands {
            let (x0, x1) = (x.at(b.from), x.at(b.to));
            f.svg.open(
                "rect",
                &[
                    ("class", "band".to_owned()),
                    ("x", num(x0)),
                    ("y", num(f.y0)),
                    ("width", num((x1 - x0).max(0.0))),
                    ("height", num(f.y1 - f.y0)),
                    ("fill", b.colour.clone()),
                    ("fill-opacity", "0.15".to_owned()),
                ],
                true,
            );
            f.svg.open(
                "line",
                &[
                    ("x1", num(x0)),
                    ("x2", num(x0)),
                    ("y1", num(f.y0)),
                    ("y2", num(f.y1)),
                    ("stroke", b.colour.clone()),
                    ("stroke-dasharray", "4 3".to_owned()),
                ],
                true,
            );
        }
        for &(lo, hi, count) in &self.bins {
            let (Some(lo), Some(hi), Some(count)) = (finite(lo), finite(hi), finite(count)) else {
                continue;
            };
            if count <= 0.0 {
                continue;
            }
            let (x0, x1) = (x.at(lo), x.at(hi));
            f.svg.datum(
                "rect",
                &[
                    ("x", num(x0 + 0.5)),
                    ("y", num(y.at(count))),
                    ("width", num((x1 - x0 - 1.0).max(1.0))),
                    ("height", num((y.at(0.0) - y.at(count)).max(0.5))),
                    ("fill", self.colour.clone()),
                ],
                &format!(
                    "({}, {}]: {}",
                    scale_label(lo),
                    scale_label(hi),
                    scale_label(count)
                ),
            );
        }
        if top <= 0.0 {
            f.note("no data in window");
        }
        f.finish()
    }
}

/// A line of values over categories; `None` is a gap.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// Legend text.
    pub name: String,
    /// CSS colour.
    pub colour: String,
    /// One per category.
    pub values: Vec<Option<f64>>,
}

/// Lines over categories (e.g. cycles), each point marked.
#[derive(Debug, Clone, PartialEq)]
pub struct Lines {
    /// Title.
    pub title: String,
    /// Y axis label.
    pub y_label: String,
    /// X axis label.
    pub x_label: String,
    /// The categories, left to right.
    pub categories: Vec<String>,
    /// The lines.
    pub lines: Vec<Line>,
    /// A fixed y range (e.g. `[0, 1]` for ratios); else from 0 to the data.
    pub y_range: Option<(f64, f64)>,
}

impl Lines {
    /// The chart as one `<svg>` element.
    pub fn render(&self) -> String {
        let legend = legend(self.lines.iter().map(|l| (&l.name, &l.colour)));
        let mut f = Frame::new("lines", &self.title, 300.0, &legend);
        let values = || {
            self.lines
                .iter()
                .flat_map(|l| l.values.iter().copied().flatten().filter_map(finite))
        };
        let (lo, hi) = self
            .y_range
            .unwrap_or_else(|| (0.0, values().fold(0.0, f64::max)));
        let y = f.y_axis(lo, hi, &self.y_label);
        let bands = f.categories(&self.categories, &self.x_label);
        let mut points = 0usize;
        for l in &self.lines {
            let mut path = String::new();
            let mut pen_down = false;
            for (i, v) in l.values.iter().enumerate().take(self.categories.len()) {
                match v.and_then(finite) {
                    Some(v) => {
                        let cmd = if pen_down { 'L' } else { 'M' };
                        path.push_str(&format!("{cmd}{} {} ", num(bands.centre(i)), num(y.at(v))));
                        pen_down = true;
                    }
                    None => pen_down = false,
                }
            }
            if !path.is_empty() {
                f.svg.open(
                    "path",
                    &[
                        ("d", path.trim_end().to_owned()),
                        ("fill", "none".to_owned()),
                        ("stroke", l.colour.clone()),
                        ("stroke-width", "2".to_owned()),
                    ],
                    true,
                );
            }
            for (i, v) in l.values.iter().enumerate().take(self.categories.len()) {
                if let Some(v) = v.and_then(finite) {
                    points += 1;
                    f.svg.datum(
                        "circle",
                        &[
                            ("cx", num(bands.centre(i))),
                            ("cy", num(y.at(v))),
                            ("r", "3".to_owned()),
                            ("fill", l.colour.clone()),
                        ],
                        &format!("{} {}: {}", self.categories[i], l.name, scale_label(v)),
                    );
                }
            }
        }
        if points == 0 {
            f.note("no data in window");
        }
        f.finish()
    }
}

/// One point of a [`Scatter`].
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// X.
    pub x: f64,
    /// Y.
    pub y: f64,
    /// How many observations it stands for (1 or more): the circle's area
    /// grows with it, so a thousand equal pairs do not look like one.
    pub weight: f64,
    /// Hover text.
    pub tooltip: String,
}

/// A group of points of one colour.
#[derive(Debug, Clone, PartialEq)]
pub struct Points {
    /// Legend text.
    pub name: String,
    /// CSS colour.
    pub colour: String,
    /// The points.
    pub points: Vec<Point>,
}

/// A scatter plot, optionally with the `y = x` diagonal.
#[derive(Debug, Clone, PartialEq)]
pub struct Scatter {
    /// Title.
    pub title: String,
    /// X axis label.
    pub x_label: String,
    /// Y axis label.
    pub y_label: String,
    /// The ranges of both axes.
    pub range: (f64, f64),
    /// The point groups.
    pub groups: Vec<Points>,
    /// Draw `y = x`.
    pub diagonal: bool,
}

impl Scatter {
    /// The chart as one `<svg>` element.
    pub fn render(&self) -> String {
        let legend = legend(self.groups.iter().map(|g| (&g.name, &g.colour)));
        let mut f = Frame::new("scatter", &self.title, 360.0, &legend);
        let y = f.y_axis(self.range.0, self.range.1, &self.y_label);
        let x = f.x_axis(self.range.0, self.range.1, &self.x_label);
        if self.diagonal {
            f.svg.open(
                "line",
                &[
                    ("class", "reference".to_owned()),
                    ("x1", num(x.at(self.range.0))),
                    ("y1", num(y.at(self.range.0))),
                    ("x2", num(x.at(self.range.1))),
                    ("y2", num(y.at(self.range.1))),
                    ("stroke", "#999".to_owned()),
                    ("stroke-dasharray", "4 3".to_owned()),
                ],
                true,
            );
        }
        let mut points = 0usize;
        for g in &self.groups {
            for p in &g.points {
                let (Some(px), Some(py)) = (finite(p.x), finite(p.y)) else {
                    continue;
                };
                // Area proportional to the weight: 3 px for one, 12 at most.
                let r = (3.0 * finite(p.weight).unwrap_or(1.0).max(1.0).sqrt()).min(12.0);
                points += 1;
                f.svg.datum(
                    "circle",
                    &[
                        ("cx", num(x.at(px))),
                        ("cy", num(y.at(py))),
                        ("r", num(r)),
                        ("fill", g.colour.clone()),
                        ("fill-opacity", "0.6".to_owned()),
                    ],
                    &p.tooltip,
                );
            }
        }
        if points == 0 {
            f.note("no data in window");
        }
        f.finish()
    }
}

/// One cell of a [`Grid`].
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    /// CSS colour.
    pub colour: String,
    /// Hover text.
    pub tooltip: String,
}

/// A grid of coloured cells: rows (e.g. versions) by columns (e.g. cycles).
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    /// Title.
    pub title: String,
    /// X axis label.
    pub x_label: String,
    /// Row labels, top to bottom.
    pub rows: Vec<String>,
    /// Column labels, left to right.
    pub columns: Vec<String>,
    /// `cells[row][column]`; `None` is an empty cell.
    pub cells: Vec<Vec<Option<Cell>>>,
    /// What the colours mean.
    pub legend: Vec<(String, String)>,
}

impl Grid {
    const ROW: f64 = 18.0;

    /// The chart as one `<svg>` element.
    pub fn render(&self) -> String {
        let height = 46.0 + Self::ROW * self.rows.len().max(1) as f64 + 50.0;
        let mut f = Frame::new("grid", &self.title, height, &self.legend);
        // Row labels need more room than numbers do: about 6.2 px a
        // character at 11 px, within a third and a half of the width.
        let longest = self
            .rows
            .iter()
            .map(|r| r.chars().count())
            .max()
            .unwrap_or(0);
        let labels = (longest as f64 * 6.2 + 12.0).clamp(f.x0, frame::WIDTH / 2.0);
        f.x0 = labels;
        let bands = f.categories(&self.columns, &self.x_label);
        let mut cells = 0usize;
        for (r, label) in self.rows.iter().enumerate() {
            let top = f.y0 + Self::ROW * r as f64;
            f.svg.text_el(
                "text",
                &[
                    ("x", num(labels - 6.0)),
                    ("y", num(top + Self::ROW * 0.7)),
                    ("text-anchor", "end".to_owned()),
                ],
                label,
            );
            let row = self.cells.get(r).map_or(&[][..], Vec::as_slice);
            for (c, cell) in row.iter().enumerate().take(self.columns.len()) {
                let Some(cell) = cell else { continue };
                cells += 1;
                f.svg.datum(
                    "rect",
                    &[
                        ("x", num(bands.centre(c) - bands.band / 2.0 + 0.5)),
                        ("y", num(top + 1.0)),
                        ("width", num((bands.band - 1.0).max(1.0))),
                        ("height", num(Self::ROW - 2.0)),
                        ("fill", cell.colour.clone()),
                    ],
                    &cell.tooltip,
                );
            }
        }
        if cells == 0 {
            f.note("no data in window");
        }
        f.finish()
    }
}

fn legend<'a>(items: impl Iterator<Item = (&'a String, &'a String)>) -> Vec<(String, String)> {
    items.map(|(n, c)| (n.clone(), c.clone())).collect()
}

/// A value in a tooltip: integers as such, others with up to 4 decimals.
fn scale_label(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 && v.abs() < 1e15 {
        format!("{}", v.round() as i64)
    } else {
        let s = format!("{v:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

#[cfg(test)]
mod tests;
