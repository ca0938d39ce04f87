//! Linear scales and "nice" ticks (1, 2, 5 times a power of ten).

/// Ticks from 0 (or `min`) to at least `max`, about `target` of them, on
/// a 1/2/5 step. Returns the ticks and the axis top (the last tick).
pub(crate) fn nice_ticks(min: f64, max: f64, target: usize) -> (Vec<f64>, f64) {
    let (min, max) = if max > min {
        (min, max)
    } else {
        (min, min + 1.0)
    };
    let raw = (max - min) / target.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let first = (min / step).floor() * step;
    let mut ticks = Vec::new();
    let mut i = 0.0;
    loop {
        let t = first + i * step;
        ticks.push(t);
        if t >= max - step * 1e-9 || ticks.len() > 50 {
            break;
        }
        i += 1.0;
    }
    let top = *ticks.last().unwrap_or(&max);
    (ticks, top)
}

/// A tick label: integers without decimals, others with as few as the
/// step needs (at most 3).
pub(crate) fn tick_label(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        if v.abs() >= 10_000.0 {
            return thousands(v.round() as i64);
        }
        return format!("{}", v.round() as i64);
    }
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// `12345` as `12 345` (a thin space would not survive every font).
fn thousands(v: i64) -> String {
    let digits = v.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(c);
    }
    if v < 0 { format!("-{out}") } else { out }
}

/// Maps a value of `[d0, d1]` onto `[r0, r1]`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Linear {
    pub(crate) d0: f64,
    pub(crate) d1: f64,
    pub(crate) r0: f64,
    pub(crate) r1: f64,
}

impl Linear {
    pub(crate) fn at(&self, v: f64) -> f64 {
        let span = self.d1 - self.d0;
        if span == 0.0 {
            return self.r0;
        }
        self.r0 + (v.clamp(self.d0, self.d1) - self.d0) / span * (self.r1 - self.r0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_nice_and_cover_the_range() {
        assert_eq!(
            nice_ticks(0.0, 1.0, 5).0,
            vec![0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]
        );
        let (t, top) = nice_ticks(0.0, 73.0, 5);
        assert_eq!(t, vec![0.0, 20.0, 40.0, 60.0, 80.0]);
        assert_eq!(top, 80.0);
        let (t, _) = nice_ticks(0.0, 0.0, 5);
        assert_eq!(t.first(), Some(&0.0));
        assert!(t.len() >= 2);
    }

    #[test]
    fn labels_are_short() {
        assert_eq!(tick_label(0.6000000000000001), "0.6");
        assert_eq!(tick_label(20.0), "20");
        assert_eq!(tick_label(60000.0), "60 000");
        assert_eq!(tick_label(0.25), "0.25");
    }

    #[test]
    fn linear_maps_and_clamps() {
        let s = Linear {
            d0: 0.0,
            d1: 10.0,
            r0: 100.0,
            r1: 0.0,
        };
        assert_eq!(s.at(0.0), 100.0);
        assert_eq!(s.at(5.0), 50.0);
        assert_eq!(s.at(20.0), 0.0);
    }
}
