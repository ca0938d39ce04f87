//! The parts every chart shares: the SVG root, title, legend, plot area,
//! axes with ticks and labels, the "no data" message.

use crate::scale::{Linear, nice_ticks, tick_label};
use crate::svg::{Svg, num};

/// Overall size of every chart.
pub(crate) const WIDTH: f64 = 760.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 18.0;
const TOP: f64 = 46.0;
const BOTTOM: f64 = 50.0;

/// How many category labels fit under a chart at most.
const MAX_LABELS: usize = 12;

/// A chart being drawn: the SVG and its plot area.
pub(crate) struct Frame {
    pub(crate) svg: Svg,
    pub(crate) x0: f64,
    pub(crate) x1: f64,
    pub(crate) y0: f64,
    pub(crate) y1: f64,
}

impl Frame {
    /// Opens the SVG root with its title (also its accessible name) and a
    /// legend row under it.
    pub(crate) fn new(kind: &str, title: &str, height: f64, legend: &[(String, String)]) -> Frame {
        let mut svg = Svg::default();
        svg.open(
            "svg",
            &[
                ("xmlns", "http://www.w3.org/2000/svg".to_owned()),
                ("class", format!("chart {kind}")),
                ("role", "img".to_owned()),
                ("width", num(WIDTH)),
                ("height", num(height)),
                ("viewBox", format!("0 0 {} {}", num(WIDTH), num(height))),
                ("font-family", "sans-serif".to_owned()),
                ("font-size", "11".to_owned()),
            ],
            false,
        );
        svg.text_el("title", &[], title);
        svg.text_el(
            "text",
            &[
                ("x", num(LEFT)),
                ("y", "16".to_owned()),
                ("font-size", "13".to_owned()),
                ("font-weight", "bold".to_owned()),
            ],
            title,
        );
        let mut x = LEFT;
        let mut y = 25.0;
        for (name, colour) in legend {
            let width = 24.0 + 6.5 * name.chars().count() as f64;
            if x > LEFT && x + width > WIDTH - RIGHT {
                x = LEFT;
                y += 14.0;
            }
            svg.open(
                "rect",
                &[
                    ("x", num(x)),
                    ("y", num(y)),
                    ("width", "10".to_owned()),
                    ("height", "10".to_owned()),
                    ("fill", colour.clone()),
                ],
                true,
            );
            svg.text_el("text", &[("x", num(x + 14.0)), ("y", num(y + 9.0))], name);
            x += width;
        }
        Frame {
            svg,
            x0: LEFT,
            x1: WIDTH - RIGHT,
            // Legend rows past the first push the plot down.
            y0: TOP + (y - 25.0),
            y1: height - BOTTOM,
        }
    }

    /// The y axis from `min` to at least `max`: grid lines, tick labels and
    /// the axis label. Returns the scale.
    pub(crate) fn y_axis(&mut self, min: f64, max: f64, label: &str) -> Linear {
        let (ticks, top) = nice_ticks(min, max, 5);
        let bottom = ticks.first().copied().unwrap_or(min);
        let scale = Linear {
            d0: bottom,
            d1: top,
            r0: self.y1,
            r1: self.y0,
        };
        for t in &ticks {
            let y = scale.at(*t);
            self.svg.open(
                "line",
                &[
                    ("x1", num(self.x0)),
                    ("x2", num(self.x1)),
                    ("y1", num(y)),
                    ("y2", num(y)),
                    ("stroke", "#e3e3e3".to_owned()),
                ],
                true,
            );
            self.svg.text_el(
                "text",
                &[
                    ("x", num(self.x0 - 6.0)),
                    ("y", num(y + 4.0)),
                    ("text-anchor", "end".to_owned()),
                ],
                &tick_label(*t),
            );
        }
        let mid = (self.y0 + self.y1) / 2.0;
        self.svg.text_el(
            "text",
            &[
                ("x", "12".to_owned()),
                ("y", num(mid)),
                ("text-anchor", "middle".to_owned()),
                ("transform", format!("rotate(-90 12 {})", num(mid))),
            ],
            label,
        );
        scale
    }

    /// A numeric x axis over `[min, max]` with its ticks and label.
    pub(crate) fn x_axis(&mut self, min: f64, max: f64, label: &str) -> Linear {
        let (ticks, top) = nice_ticks(min, max, 10);
        let left = ticks.first().copied().unwrap_or(min);
        let scale = Linear {
            d0: left,
            d1: top,
            r0: self.x0,
            r1: self.x1,
        };
        for t in &ticks {
            let x = scale.at(*t);
            self.tick(x);
            self.svg.text_el(
                "text",
                &[
                    ("x", num(x)),
                    ("y", num(self.y1 + 16.0)),
                    ("text-anchor", "middle".to_owned()),
                ],
                &tick_label(*t),
            );
        }
        self.x_label(label);
        scale
    }

    /// A category x axis: the centre of category `i` and the band width;
    /// labels only every k-th category so they never overlap.
    pub(crate) fn categories(&mut self, labels: &[String], label: &str) -> Bands {
        let n = labels.len().max(1);
        let band = (self.x1 - self.x0) / n as f64;
        let bands = Bands { x0: self.x0, band };
        let every = n.div_ceil(MAX_LABELS);
        for (i, l) in labels.iter().enumerate() {
            if !i.is_multiple_of(every) {
                continue;
            }
            let x = bands.centre(i);
            self.tick(x);
            self.svg.text_el(
                "text",
                &[
                    ("x", num(x)),
                    ("y", num(self.y1 + 16.0)),
                    ("text-anchor", "middle".to_owned()),
                ],
                l,
            );
        }
        self.x_label(label);
        bands
    }

    fn tick(&mut self, x: f64) {
        self.svg.open(
            "line",
            &[
                ("x1", num(x)),
                ("x2", num(x)),
                ("y1", num(self.y1)),
                ("y2", num(self.y1 + 4.0)),
                ("stroke", "#555".to_owned()),
            ],
            true,
        );
    }

    fn x_label(&mut self, label: &str) {
        self.svg.text_el(
            "text",
            &[
                ("x", num((self.x0 + self.x1) / 2.0)),
                ("y", num(self.y1 + 36.0)),
                ("text-anchor", "middle".to_owned()),
            ],
            label,
        );
    }

    /// The axis lines, drawn last so data never covers them.
    pub(crate) fn axes(&mut self) {
        for (x1, y1, x2, y2) in [
            (self.x0, self.y1, self.x1, self.y1),
            (self.x0, self.y0, self.x0, self.y1),
        ] {
            self.svg.open(
                "line",
                &[
                    ("x1", num(x1)),
                    ("y1", num(y1)),
                    ("x2", num(x2)),
                    ("y2", num(y2)),
                    ("stroke", "#555".to_owned()),
                ],
                true,
            );
        }
    }

    /// A horizontal reference line at `y` (a budget, say) with its label.
    pub(crate) fn hline(&mut self, y: f64, label: &str, colour: &str) {
        self.svg.open(
            "line",
            &[
                ("class", "reference".to_owned()),
                ("x1", num(self.x0)),
                ("x2", num(self.x1)),
                ("y1", num(y)),
                ("y2", num(y)),
                ("stroke", colour.to_owned()),
                ("stroke-width", "1.5".to_owned()),
                ("stroke-dasharray", "6 3".to_owned()),
            ],
            true,
        );
        self.svg.text_el(
            "text",
            &[
                ("x", num(self.x1 - 4.0)),
                ("y", num(y - 4.0)),
                ("text-anchor", "end".to_owned()),
                ("fill", colour.to_owned()),
            ],
            label,
        );
    }

    /// A note in the plot area (e.g. "no data in window").
    pub(crate) fn note(&mut self, text: &str) {
        self.svg.text_el(
            "text",
            &[
                ("class", "note".to_owned()),
                ("x", num((self.x0 + self.x1) / 2.0)),
                ("y", num((self.y0 + self.y1) / 2.0)),
                ("text-anchor", "middle".to_owned()),
                ("fill", "#777".to_owned()),
            ],
            text,
        );
    }

    pub(crate) fn finish(mut self) -> String {
        self.axes();
        self.svg.end("svg");
        self.svg.finish()
    }
}

/// Category positions on the x axis.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bands {
    x0: f64,
    pub(crate) band: f64,
}

impl Bands {
    pub(crate) fn centre(&self, i: usize) -> f64 {
        self.x0 + self.band * (i as f64 + 0.5)
    }
}
