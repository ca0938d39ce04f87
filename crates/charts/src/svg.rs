//! The one place that writes markup: elements with escaped attributes and
//! text, numbers with a fixed number of decimals (so the same data always
//! gives the same bytes).

use std::fmt::Write as _;

/// Escapes `s` for XML text and attribute values (both quotes included), so
/// the output is well-formed XML and HTML alike. Control characters other
/// than tab and newline, which XML 1.0 forbids, become U+FFFD.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' => out.push(c),
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// A coordinate or length: one decimal, no `-0.0`, no exponent.
pub(crate) fn num(v: f64) -> String {
    let v = if v.is_finite() { v } else { 0.0 };
    let s = format!("{v:.1}");
    let s = if s == "-0.0" { "0.0".to_owned() } else { s };
    s.strip_suffix(".0").map_or(s.clone(), str::to_owned)
}

/// An SVG document being written.
#[derive(Debug, Default)]
pub(crate) struct Svg {
    out: String,
}

impl Svg {
    /// Opens `<name attr="value" ...>`; `close` ends it with `/>`.
    pub(crate) fn open(&mut self, name: &str, attrs: &[(&str, String)], close: bool) {
        self.out.push('<');
        self.out.push_str(name);
        for (k, v) in attrs {
            let _ = write!(self.out, " {k}=\"{}\"", escape(v));
        }
        self.out.push_str(if close { "/>" } else { ">" });
    }

    /// `</name>`.
    pub(crate) fn end(&mut self, name: &str) {
        let _ = write!(self.out, "</{name}>");
    }

    /// An element holding only text.
    pub(crate) fn text_el(&mut self, name: &str, attrs: &[(&str, String)], text: &str) {
        self.open(name, attrs, false);
        self.out.push_str(&escape(text));
        self.end(name);
    }

    /// A data element (`class="datum"`) with a hover tooltip: the browser
    /// shows its `<title>` child, no script needed.
    pub(crate) fn datum(&mut self, name: &str, attrs: &[(&str, String)], tooltip: &str) {
        let mut all = vec![("class", "datum".to_owned())];
        all.extend(attrs.iter().cloned());
        self.open(name, &all, false);
        self.text_el("title", &[], tooltip);
        self.end(name);
    }

    pub(crate) fn finish(self) -> String {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_quotes_and_control_characters() {
        assert_eq!(
            escape("a<b & \"c\" 'd'>\u{0}"),
            "a&lt;b &amp; &quot;c&quot; &#39;d&#39;&gt;\u{FFFD}"
        );
    }

    #[test]
    fn numbers_are_short_and_stable() {
        assert_eq!(num(1.0), "1");
        assert_eq!(num(1.25), "1.2");
        assert_eq!(num(-0.01), "0");
        assert_eq!(num(f64::NAN), "0");
        assert_eq!(num(1e12), "1000000000000");
    }
}
