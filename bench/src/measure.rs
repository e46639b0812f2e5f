//! What the benchmarks read off the operating system: CPU time of the calling thread
//! (`getrusage(RUSAGE_THREAD)`) and the process's resident memory (`/proc/self/status`).

use std::time::{Duration, Instant};

use nix::sys::resource::{getrusage, UsageWho};
use nix::sys::time::TimeValLike;

/// User plus system CPU time the calling thread has used so far.
///
/// # Errors
/// When the kernel refuses `getrusage` (not expected on Linux).
pub fn thread_cpu() -> Result<Duration, nix::Error> {
    cpu_of(UsageWho::RUSAGE_THREAD)
}

/// User plus system CPU time the whole process (every thread) has used so far.
///
/// # Errors
/// When the kernel refuses `getrusage` (not expected on Linux).
pub fn process_cpu() -> Result<Duration, nix::Error> {
    cpu_of(UsageWho::RUSAGE_SELF)
}

fn cpu_of(who: UsageWho) -> Result<Duration, nix::Error> {
    let usage = getrusage(who)?;
    let micros = usage.user_time().num_microseconds() + usage.system_time().num_microseconds();
    Ok(Duration::from_micros(
        u64::try_from(micros).unwrap_or_default(),
    ))
}

/// Wall-clock and thread CPU time of a stretch of work.
#[derive(Debug, Clone, Copy, Default)]
pub struct Spent {
    /// Elapsed real time.
    pub wall: Duration,
    /// CPU time of the measuring thread (user + system).
    pub cpu: Duration,
}

impl std::ops::AddAssign for Spent {
    fn add_assign(&mut self, other: Spent) {
        self.wall += other.wall;
        self.cpu += other.cpu;
    }
}

/// Starts measuring on the calling thread.
#[derive(Debug)]
pub struct Stopwatch {
    started: Instant,
    cpu_at_start: Duration,
}

impl Stopwatch {
    /// Starts now.
    ///
    /// # Errors
    /// When the thread's CPU time cannot be read.
    pub fn start() -> Result<Self, nix::Error> {
        Ok(Self {
            cpu_at_start: thread_cpu()?,
            started: Instant::now(),
        })
    }

    /// Time spent since [`start`](Self::start); call it on the same thread.
    ///
    /// # Errors
    /// When the thread's CPU time cannot be read.
    pub fn stop(self) -> Result<Spent, nix::Error> {
        let wall = self.started.elapsed();
        let cpu = thread_cpu()?.saturating_sub(self.cpu_at_start);
        Ok(Spent { wall, cpu })
    }
}

/// A `kB` field of `/proc/self/status`, e.g. `VmHWM` (peak resident set) or `VmRSS`.
pub fn proc_status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        rest.trim().strip_suffix("kB")?.trim().parse().ok()
    })
}

/// Per second, from a count and a duration (0 for an empty duration).
pub fn per_second(count: u64, elapsed: Duration) -> f64 {
    let seconds = elapsed.as_secs_f64();
    if seconds > 0.0 {
        count as f64 / seconds
    } else {
        0.0
    }
}

/// Microseconds per item.
pub fn micros_each(total: Duration, count: u64) -> f64 {
    if count == 0 {
        0.0
    } else {
        total.as_secs_f64() * 1e6 / count as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_work_shows_up_as_thread_cpu_and_rss_is_readable() {
        let watch = Stopwatch::start().expect("getrusage");
        let mut accumulator = 0u64;
        let started = Instant::now();
        while started.elapsed() < Duration::from_millis(50) {
            accumulator = accumulator.wrapping_mul(31).wrapping_add(7);
        }
        std::hint::black_box(accumulator);
        let spent = watch.stop().expect("getrusage");
        assert!(spent.cpu > Duration::ZERO);
        assert!(spent.wall >= Duration::from_millis(50));
        assert!(proc_status_kib("VmHWM").is_some_and(|kib| kib > 0));
        assert!(proc_status_kib("VmRSS").is_some_and(|kib| kib > 0));
        assert_eq!(proc_status_kib("NoSuchField"), None);
    }
}
