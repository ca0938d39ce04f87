use quick_xml::Reader;
use quick_xml::events::Event;

use super::*;

/// Parses `svg` strictly (balanced, matching end tags, well-formed
/// attributes and entities) and counts the elements with `class="datum"`.
fn parse(svg: &str) -> usize {
    let mut reader = Reader::from_str(svg);
    let mut depth = 0i32;
    let mut datums = 0;
    loop {
        let event = reader.read_event().expect("well-formed XML");
        let attrs = match &event {
            Event::Start(e) | Event::Empty(e) => Some(e.attributes()),
            _ => None,
        };
        for a in attrs.into_iter().flatten() {
            let a = a.expect("well-formed attribute");
            a.unescape_value().expect("attribute entities");
            if a.key.as_ref() == b"class" && a.value.as_ref() == b"datum" {
                datums += 1;
            }
        }
        match event {
            Event::Start(_) => depth += 1,
            Event::End(_) => depth -= 1,
            Event::Text(t) => {
                t.decode().expect("text");
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(depth, 0, "every element is closed");
    datums
}

fn bars() -> Bars {
    Bars {
        title: "stage durations <per cycle>".into(),
        y_label: "ms".into(),
        x_label: "cycle".into(),
        categories: vec!["00:05".into(), "00:10".into(), "00:15".into()],
        series: vec![
            Series::new("load_window", palette(0), vec![10.0, 12.0, 8.0]),
            Series::new("model_registry", palette(1), vec![100.0, f64::NAN, 90.0]),
        ],
        stacked: true,
        lines: vec![RefLine {
            value: 150.0,
            label: "budget 150 ms".into(),
        }],
    }
}

#[test]
fn stacked_bars_are_well_formed_and_deterministic() {
    let svg = bars().render();
    // 3 + 2 (the NaN is drawn as nothing).
    assert_eq!(parse(&svg), 5);
    assert!(
        svg.contains("budget 150 ms"),
        "the reference line is labelled"
    );
    assert!(svg.contains("&lt;per cycle&gt;"), "titles are escaped");
    assert_eq!(svg, bars().render());
    insta::assert_snapshot!("stacked_bars", svg);
}

#[test]
fn a_reference_line_far_above_the_data_is_named_not_drawn() {
    let mut b = bars();
    b.lines[0].value = 60_000.0;
    let svg = b.render();
    assert!(svg.contains("budget 150 ms (above the plot)"), "{svg}");
    assert!(!svg.contains("class=\"reference\" x1"), "{svg}");
}

#[test]
fn grouped_bars_with_marks_flag_differences() {
    let mut s = Series::new("SPOOFING", palette(0), vec![3.0, 2.0]);
    s.marks = vec![Some(3.0), Some(5.0)];
    let b = Bars {
        title: "drift".into(),
        y_label: "events".into(),
        x_label: "hour".into(),
        categories: vec!["00:00".into(), "01:00".into()],
        series: vec![s, Series::new("SPEED_ANOMALY", palette(1), vec![1.0, 0.0])],
        stacked: false,
        lines: vec![],
    };
    let svg = b.render();
    // 3 bars (a 0 is no bar) and 2 marks.
    assert_eq!(parse(&svg), 5);
    assert_eq!(svg.matches("(differs)").count(), 1);
    assert_eq!(svg.matches("#c62828").count(), 1);
}

#[test]
fn empty_charts_say_so_and_have_no_data_elements() {
    let b = Bars {
        categories: vec![],
        series: vec![],
        ..bars()
    };
    let svg = b.render();
    assert_eq!(parse(&svg), 0);
    assert!(svg.contains("no data in window"));
    let g = Grid {
        title: "runs".into(),
        x_label: "cycle".into(),
        rows: vec![],
        columns: vec![],
        cells: vec![],
        legend: vec![],
    };
    assert_eq!(parse(&g.render()), 0);
}

#[test]
fn histogram_draws_bins_and_bands() {
    let h = Histogram {
        title: "scores".into(),
        x_label: "score".into(),
        y_label: "vessels".into(),
        bins: vec![(0.0, 0.1, 5.0), (0.1, 0.2, 0.0), (0.5, 0.6, 2.0)],
        bands: vec![Band {
            from: 0.5,
            to: 0.7,
            label: "> 0.5".into(),
            colour: "#f28e2b".into(),
        }],
        x_range: (0.0, 1.0),
        colour: palette(0).into(),
    };
    let svg = h.render();
    assert_eq!(parse(&svg), 2);
    assert!(svg.contains("class=\"band\""));
}

#[test]
fn lines_break_at_gaps_and_mark_every_point() {
    let l = Lines {
        title: "agreement".into(),
        y_label: "fraction".into(),
        x_label: "cycle".into(),
        categories: vec!["a".into(), "b".into(), "c".into()],
        lines: vec![Line {
            name: "shadow".into(),
            colour: palette(0).into(),
            values: vec![Some(1.0), None, Some(0.5)],
        }],
        y_range: Some((0.0, 1.0)),
    };
    let svg = l.render();
    assert_eq!(parse(&svg), 2);
    assert_eq!(svg.matches(" M").count() + svg.matches("\"M").count(), 2);
}

#[test]
fn scatter_and_grid_count_their_points() {
    let s = Scatter {
        title: "scores".into(),
        x_label: "PRIMARY".into(),
        y_label: "SHADOW".into(),
        range: (0.0, 1.0),
        groups: vec![Points {
            name: "entities".into(),
            colour: palette(0).into(),
            points: [
                (0.1, 0.2, 1.0),
                (f64::INFINITY, 0.0, 1.0),
                (0.9, 0.8, 400.0),
            ]
            .into_iter()
            .map(|(x, y, weight)| Point {
                x,
                y,
                weight,
                tooltip: format!("{x} {y}"),
            })
            .collect(),
        }],
        diagonal: true,
    };
    let svg = s.render();
    assert_eq!(parse(&svg), 2);
    assert!(
        svg.contains("r=\"12\""),
        "a heavy point is drawn larger: {svg}"
    );
    let g = Grid {
        title: "runs".into(),
        x_label: "cycle".into(),
        rows: vec!["a 1.0".into(), "b 2.0".into()],
        columns: vec!["00:05".into(), "00:10".into()],
        cells: vec![
            vec![
                Some(Cell {
                    colour: "#2e7d32".into(),
                    tooltip: "OK".into(),
                }),
                None,
            ],
            vec![Some(Cell {
                colour: "#c62828".into(),
                tooltip: "FAILED".into(),
            })],
        ],
        legend: vec![("OK".into(), "#2e7d32".into())],
    };
    assert_eq!(parse(&g.render()), 2);
}
