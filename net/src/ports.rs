//! Per-core ephemeral port allocator: RSS-steered, collision-free, TIME-WAIT aware.
//!
//! Each core owns one [`PortAllocator`]. A local port is held by at most one connection of
//! the core at a time; released ports rest for the TIME-WAIT period before reuse. Ports need
//! not be unique across cores: for a given remote endpoint every port steers to exactly one
//! queue, so two cores can never pick the same 4-tuple.
//!
//! Time is the caller's monotonic clock in microseconds; this crate reads no clock.

use alloc::vec;
use alloc::vec::Vec;

use corenet_nic::steering::RssConfig;

use crate::rss_ports::PortSolver;

/// Linux's default ephemeral range (`net.ipv4.ip_local_port_range`).
pub const DEFAULT_RANGE: (u16, u16) = (32768, 60999);

/// TCP's TIME-WAIT: 2 * MSL, with Linux's 60 s.
pub const DEFAULT_TIME_WAIT_US: u64 = 60_000_000;

/// Errors from [`PortAllocator::new`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortConfigError {
    /// `lo > hi`, or the range includes port 0.
    BadRange(u16, u16),
    /// The queue does not appear in the indirection table: no reply could ever reach it.
    QueueNotInTable(u16),
}

/// Errors from [`PortAllocator::allocate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllocError {
    /// Every port in range that steers to this core is in use or in TIME-WAIT.
    Exhausted,
}

/// Errors from [`PortAllocator::release`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReleaseError {
    /// The port is outside the range or was not allocated.
    NotAllocated(u16),
}

/// Port state: 0 = never used, `IN_USE`, otherwise the time (µs) it becomes free again.
const IN_USE: u64 = u64::MAX;

/// The ephemeral ports of one core.
#[derive(Debug, Clone)]
pub struct PortAllocator {
    solver: PortSolver,
    queue: u16,
    lo: u16,
    hi: u16,
    time_wait_us: u64,
    state: Vec<u64>,
    /// Where the next search starts in the candidate walk; advances past each pick so
    /// successive connections spread over the range (and a freed port is not reused first).
    cursor: u32,
    in_use: usize,
}

impl PortAllocator {
    /// An allocator for the core that owns RX queue `queue`, handing out ports in
    /// `lo..=hi`. `cursor_key` (a secret from the platform's randomness; the stack derives it
    /// from its seed with a keyed hash of its own, unrelated to the flow table's key) picks
    /// the starting point so port choices are not predictable across boots.
    pub fn new(
        rss: &RssConfig,
        queue: u16,
        (lo, hi): (u16, u16),
        time_wait_us: u64,
        cursor_key: u64,
    ) -> Result<Self, PortConfigError> {
        if lo == 0 || lo > hi {
            return Err(PortConfigError::BadRange(lo, hi));
        }
        if !rss.table.contains(&queue) {
            return Err(PortConfigError::QueueNotInTable(queue));
        }
        Ok(Self {
            solver: PortSolver::new(rss),
            queue,
            lo,
            hi,
            time_wait_us,
            state: vec![0; usize::from(hi - lo) + 1],
            cursor: (cursor_key ^ (cursor_key >> 32)) as u32,
            in_use: 0,
        })
    }

    /// The solver, for predicting where replies land.
    pub fn solver(&self) -> &PortSolver {
        &self.solver
    }

    /// Ports currently held.
    pub fn in_use(&self) -> usize {
        self.in_use
    }

    /// A local port for a connection from `local` to `remote` whose replies steer to this
    /// core's queue, not held and not in TIME-WAIT at `now_us`.
    pub fn allocate(
        &mut self,
        local: [u8; 4],
        remote: ([u8; 4], u16),
        now_us: u64,
    ) -> Result<u16, AllocError> {
        let walk = self
            .solver
            .candidates(local, remote, self.queue, self.cursor);
        Self::take(
            walk,
            (self.lo, self.hi),
            &mut self.state,
            &mut self.in_use,
            &mut self.cursor,
            now_us,
        )
    }

    /// [`allocate`](Self::allocate) for an IPv6 connection. Ports are shared between the
    /// families: one port is held by at most one connection of the core, whatever its family.
    pub fn allocate_v6(
        &mut self,
        local: [u8; 16],
        remote: ([u8; 16], u16),
        now_us: u64,
    ) -> Result<u16, AllocError> {
        let walk = self
            .solver
            .candidates_v6(local, remote, self.queue, self.cursor);
        Self::take(
            walk,
            (self.lo, self.hi),
            &mut self.state,
            &mut self.in_use,
            &mut self.cursor,
            now_us,
        )
    }

    /// The first free candidate of `walk` in range; advances the cursor past it.
    fn take(
        mut walk: crate::rss_ports::Candidates<'_>,
        (lo, hi): (u16, u16),
        state: &mut [u64],
        in_use: &mut usize,
        cursor: &mut u32,
        now_us: u64,
    ) -> Result<u16, AllocError> {
        let total = walk.total();
        let mut steps = 0u32;
        let found = walk.find(|&p| {
            steps += 1;
            p >= lo && p <= hi && {
                let s = state[usize::from(p - lo)];
                s != IN_USE && s <= now_us
            }
        });
        let port = found.ok_or(AllocError::Exhausted)?;
        state[usize::from(port - lo)] = IN_USE;
        *in_use += 1;
        *cursor = cursor.wrapping_add(steps) % total.max(1);
        Ok(port)
    }

    /// Whether `port` is one of this core's: held by a connection, or resting in TIME-WAIT
    /// at `now_us` (late segments of a finished connection are still ours).
    pub fn holds(&self, port: u16, now_us: u64) -> bool {
        port.checked_sub(self.lo)
            .filter(|_| port <= self.hi)
            .and_then(|i| self.state.get(usize::from(i)))
            .is_some_and(|&s| s == IN_USE || s > now_us)
    }

    /// Whether `port` is in this allocator's ephemeral range.
    pub fn in_range(&self, port: u16) -> bool {
        (self.lo..=self.hi).contains(&port)
    }

    /// Gives a port back at `now_us`; it can be handed out again after TIME-WAIT.
    pub fn release(&mut self, port: u16, now_us: u64) -> Result<(), ReleaseError> {
        let i = port
            .checked_sub(self.lo)
            .filter(|_| port <= self.hi)
            .map(usize::from)
            .ok_or(ReleaseError::NotAllocated(port))?;
        if self.state[i] != IN_USE {
            return Err(ReleaseError::NotAllocated(port));
        }
        // A reuse time of 0 reads as "never used", which is equally free: fine.
        self.state[i] = now_us.saturating_add(self.time_wait_us).min(IN_USE - 1);
        self.in_use -= 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::collections::HashSet;

    use crate::testkit::Rng;

    #[test]
    fn ten_thousand_random_tuples_steer_home_without_duplicates() {
        let queues = 4;
        let rss = RssConfig::new(queues).unwrap();
        let local = [10, 0, 0, 2];
        let mut cores: std::vec::Vec<PortAllocator> = (0..queues as u16)
            .map(|q| PortAllocator::new(&rss, q, DEFAULT_RANGE, DEFAULT_TIME_WAIT_US, 99).unwrap())
            .collect();
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut tuples = HashSet::new();
        let mut per_core: std::vec::Vec<HashSet<u16>> = vec![HashSet::new(); queues];
        for _ in 0..10_000 {
            let r = rng.next();
            let remote = ((r as u32).to_be_bytes(), (r >> 32) as u16 | 1);
            let core = (r >> 48) as usize % queues;
            let p = cores[core].allocate(local, remote, 0).unwrap();
            assert!((DEFAULT_RANGE.0..=DEFAULT_RANGE.1).contains(&p));
            assert_eq!(rss.queue_ipv4_l4(remote.0, local, remote.1, p), core as u16);
            assert!(per_core[core].insert(p), "core {core} reused port {p}");
            assert!(tuples.insert((remote, p)), "duplicate 4-tuple");
        }
        let held: usize = cores.iter().map(|c| c.in_use()).sum();
        assert_eq!(held, 10_000);
    }

    #[test]
    fn exhaustion_is_a_typed_error_and_time_wait_is_respected() {
        let rss = RssConfig::new(2).unwrap();
        let range = (40000, 40063);
        let mut a = PortAllocator::new(&rss, 1, range, 1_000, 5).unwrap();
        let local = [10, 0, 0, 2];
        let remote = ([10, 0, 0, 1], 8080);
        let mut got = std::vec::Vec::new();
        while let Ok(p) = a.allocate(local, remote, 0) {
            got.push(p);
        }
        // Exactly the ports in range that steer to queue 1, found by brute force.
        let expect: HashSet<u16> = (range.0..=range.1)
            .filter(|&p| rss.queue_ipv4_l4(remote.0, local, remote.1, p) == 1)
            .collect();
        assert_eq!(got.iter().copied().collect::<HashSet<_>>(), expect);
        assert_eq!(got.len(), expect.len());
        assert_eq!(a.allocate(local, remote, 0), Err(AllocError::Exhausted));

        assert!(a.holds(got[0], 0) && a.in_range(got[0]) && !a.in_range(range.1 + 1));
        a.release(got[0], 100).unwrap();
        assert!(a.holds(got[0], 1_099) && !a.holds(got[0], 1_100));
        assert_eq!(
            a.release(got[0], 100),
            Err(ReleaseError::NotAllocated(got[0]))
        );
        assert_eq!(a.allocate(local, remote, 1_099), Err(AllocError::Exhausted));
        assert_eq!(a.allocate(local, remote, 1_100), Ok(got[0]));
    }

    #[test]
    fn bad_configuration_is_rejected() {
        let mut rss = RssConfig::new(2).unwrap();
        assert_eq!(
            PortAllocator::new(&rss, 0, (10, 9), 0, 0).err(),
            Some(PortConfigError::BadRange(10, 9))
        );
        rss.table = [0; corenet_nic::steering::TABLE_LEN];
        assert_eq!(
            PortAllocator::new(&rss, 1, DEFAULT_RANGE, 0, 0).err(),
            Some(PortConfigError::QueueNotInTable(1))
        );
        let mut a = PortAllocator::new(&rss, 0, (5000, 5001), 0, 0).unwrap();
        assert_eq!(a.release(4999, 0), Err(ReleaseError::NotAllocated(4999)));
    }
}
