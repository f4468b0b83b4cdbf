//! Samples of a timed operation and the figures drawn from them.

use std::future::Future;
use std::time::{Duration, Instant};

/// Durations of repeated runs of one operation.
#[derive(Clone, Debug, Default)]
pub struct Samples {
    times: Vec<Duration>,
}

impl Samples {
    /// Samples from measured durations.
    pub fn from_times(times: Vec<Duration>) -> Samples {
        Samples { times }
    }

    /// Runs `op` `n` times one after another, timing each run.
    pub async fn collect<F, Fut>(n: usize, mut op: F) -> anyhow::Result<Samples>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = anyhow::Result<()>>,
    {
        let mut times = Vec::with_capacity(n);
        for _ in 0..n {
            let start = Instant::now();
            op().await?;
            times.push(start.elapsed());
        }
        Ok(Samples { times })
    }

    /// How many samples there are.
    pub fn len(&self) -> usize {
        self.times.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.times.is_empty()
    }

    /// The median.
    pub fn p50(&self) -> Duration {
        self.percentile(50.0)
    }

    /// The 95th percentile.
    pub fn p95(&self) -> Duration {
        self.percentile(95.0)
    }

    /// The `p`th percentile (nearest rank); zero when there are no samples.
    pub fn percentile(&self, p: f64) -> Duration {
        let mut sorted = self.times.clone();
        sorted.sort();
        let Some(last) = sorted.len().checked_sub(1) else {
            return Duration::ZERO;
        };
        let rank = ((p / 100.0) * last as f64).round() as usize;
        sorted[rank.min(last)]
    }
}

/// A duration in milliseconds: one decimal (`3.2 ms`), two below a millisecond (`0.06 ms`).
pub fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 1.0 {
        format!("{ms:.2} ms")
    } else {
        format!("{ms:.1} ms")
    }
}

/// A duration in milliseconds below a second (see [`ms`]), else in seconds (`2.41 s`).
pub fn ms_or_s(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        ms(d)
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}

/// How many times `slow` is longer than `fast` (`57×`; `-` when `fast` is zero).
pub fn times_faster(fast: Duration, slow: Duration) -> String {
    if fast.is_zero() {
        return "-".into();
    }
    ratio(slow.as_secs_f64() / fast.as_secs_f64())
}

/// A ratio with precision suited to its size: `1.07×`, `12.3×`, `250×`.
pub fn ratio(r: f64) -> String {
    if r >= 100.0 {
        format!("{r:.0}×")
    } else if r >= 10.0 {
        format!("{r:.1}×")
    } else {
        format!("{r:.2}×")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples(ms: &[u64]) -> Samples {
        Samples::from_times(ms.iter().map(|m| Duration::from_millis(*m)).collect())
    }

    #[test]
    fn percentiles_use_the_nearest_rank_of_the_sorted_samples() {
        let s = samples(&[
            9, 1, 5, 3, 7, 2, 8, 4, 6, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20,
        ]);
        assert_eq!(s.p50(), Duration::from_millis(11));
        assert_eq!(s.p95(), Duration::from_millis(19));
        assert_eq!(s.percentile(100.0), Duration::from_millis(20));
        assert_eq!(Samples::default().p50(), Duration::ZERO);
    }

    #[test]
    fn ratios_are_rounded_to_their_size() {
        let fast = Duration::from_millis(4);
        assert_eq!(times_faster(fast, Duration::from_millis(1000)), "250×");
        assert_eq!(times_faster(fast, Duration::from_millis(50)), "12.5×");
        assert_eq!(times_faster(fast, Duration::from_millis(5)), "1.25×");
        assert_eq!(times_faster(Duration::ZERO, fast), "-");
        assert_eq!(ms(Duration::from_micros(3_260)), "3.3 ms");
        assert_eq!(ms(Duration::from_micros(57)), "0.06 ms");
        assert_eq!(ms_or_s(Duration::from_micros(999_940)), "999.9 ms");
        assert_eq!(ms_or_s(Duration::from_millis(2_414)), "2.41 s");
    }
}
