//! The host's TSC rate, told to a TCG guest's kernel.
//!
//! Under TCG the guest's TSC is the host's (QEMU returns the host's `rdtsc`), but the guest
//! kernel must measure its rate against the emulated PIT, and on a busy host that fails
//! ("tsc: Fast TSC calibration failed … Unable to calibrate against PIT"); the kernel then
//! never gets past calibrating its delay loop (about one TCG boot in three on a loaded
//! two-core host). `tsc_early_khz=` on the command line skips the measurement.

use std::time::{Duration, Instant};

/// The shortest interval [`TscMark::khz`] measures over (shorter gives no rate).
const MIN_INTERVAL: Duration = Duration::from_millis(5);

/// A moment on both the monotonic clock and the TSC.
pub(crate) struct TscMark {
    at: Instant,
    tsc: u64,
}

impl TscMark {
    /// Now, or `None` on a host without a TSC to read.
    pub(crate) fn now() -> Option<Self> {
        Some(Self {
            at: Instant::now(),
            tsc: read_tsc()?,
        })
    }

    /// The TSC's rate in kHz from this mark until now, or `None` when under
    /// [`MIN_INTERVAL`] has passed (too short to be accurate) or the TSC went backwards.
    pub(crate) fn khz(&self) -> Option<u64> {
        let tsc = read_tsc()?;
        let elapsed = self.at.elapsed();
        if elapsed < MIN_INTERVAL {
            return None;
        }
        let ticks = tsc.checked_sub(self.tsc)?;
        let khz = u128::from(ticks) * 1_000 / elapsed.as_micros();
        u64::try_from(khz).ok().filter(|&k| k > 0)
    }
}

#[cfg(target_arch = "x86_64")]
fn read_tsc() -> Option<u64> {
    // SAFETY: `rdtsc` only reads the time-stamp counter, which every x86-64 CPU has.
    Some(unsafe { core::arch::x86_64::_rdtsc() })
}

#[cfg(not(target_arch = "x86_64"))]
fn read_tsc() -> Option<u64> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_is_plausible_once_enough_time_passed() {
        let Some(mark) = TscMark::now() else { return };
        // Busy work, not a wait on anything: the interval only has to be long enough.
        while mark.at.elapsed() < MIN_INTERVAL * 2 {
            std::hint::spin_loop();
        }
        let khz = mark.khz();
        assert!(
            khz.is_some_and(|k| (100_000..20_000_000).contains(&k)),
            "{khz:?} kHz"
        );
    }
}
