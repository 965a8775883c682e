//! A bounded series for charts: past `cap` points it halves itself (keeping every other
//! point) and from then on keeps one point in `stride`, so folding one event is O(1)
//! amortised and memory stays bounded however long the run.
#[derive(Debug, Clone)]
pub struct Series {
    points: Vec<(f64, f64)>,
    cap: usize,
    stride: usize,
    skipped: usize,
}

impl Series {
    pub fn new(cap: usize) -> Self {
        Self {
            points: Vec::new(),
            cap: cap.max(4),
            stride: 1,
            skipped: 0,
        }
    }

    pub fn push(&mut self, x: f64, y: f64) {
        self.skipped += 1;
        if self.skipped < self.stride {
            return;
        }
        self.skipped = 0;
        self.points.push((x, y));
        if self.points.len() >= self.cap {
            let mut i = 0;
            self.points.retain(|_| {
                i += 1;
                i % 2 == 1
            });
            self.stride *= 2;
        }
    }

    pub fn points(&self) -> &[(f64, f64)] {
        &self.points
    }

    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    pub fn last(&self) -> Option<(f64, f64)> {
        self.points.last().copied()
    }

    /// (min, max) of y, if any point.
    pub fn y_range(&self) -> Option<(f64, f64)> {
        self.points.iter().fold(None, |acc, &(_, y)| match acc {
            None => Some((y, y)),
            Some((lo, hi)) => Some((lo.min(y), hi.max(y))),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stays_bounded_and_spans_the_whole_run() {
        let mut s = Series::new(100);
        for i in 0..100_000 {
            s.push(i as f64, 1.0);
        }
        assert!(s.points().len() < 100);
        assert_eq!(s.points()[0].0, 0.0);
        assert!(s.last().unwrap().0 > 90_000.0);
    }
}
