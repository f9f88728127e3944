//! The sender's SACK scoreboard (RFC 6675 section 3): what the remote has selectively
//! acknowledged above `SND.UNA`, so that loss recovery retransmits the holes, not the window.

use crate::wire::TcpSeqNumber;

/// How many disjoint SACKed ranges are remembered. A receiver reports at most four blocks
/// per segment and the most recent first; when more ranges are outstanding, the highest
/// ones are dropped, which only makes the sender retransmit more than needed.
const SCOREBOARD_LEN: usize = 6;

#[derive(Debug, Clone, Copy, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub(super) struct Scoreboard {
    /// Disjoint, non-adjacent `[left, right)` ranges, sorted, the first `len` valid.
    ranges: [(TcpSeqNumber, TcpSeqNumber); SCOREBOARD_LEN],
    len: usize,
}

impl Scoreboard {
    pub(super) fn clear(&mut self) {
        self.len = 0;
    }

    fn ranges(&self) -> &[(TcpSeqNumber, TcpSeqNumber)] {
        &self.ranges[..self.len]
    }

    /// Records a SACK block `[left, right)`, clipped to `[snd_una, snd_nxt)`. Blocks outside
    /// that span (stale, or acknowledging data never sent) are ignored.
    pub(super) fn add(
        &mut self,
        left: TcpSeqNumber,
        right: TcpSeqNumber,
        snd_una: TcpSeqNumber,
        snd_nxt: TcpSeqNumber,
    ) {
        let left = left.max(snd_una);
        let right = right.min(snd_nxt);
        if left >= right {
            return;
        }
        // Merge with every range it overlaps or touches, then insert in order.
        let (mut l, mut r) = (left, right);
        let mut kept = [(TcpSeqNumber::default(), TcpSeqNumber::default()); SCOREBOARD_LEN];
        let mut n = 0;
        for &(a, b) in self.ranges() {
            if b < l || a > r {
                kept[n] = (a, b);
                n += 1;
            } else {
                l = l.min(a);
                r = r.max(b);
            }
        }
        let at = kept[..n].iter().position(|&(a, _)| a > l).unwrap_or(n);
        if n == SCOREBOARD_LEN {
            if at == n {
                // Higher than everything and no room: keep the lower (older) holes known.
                return;
            }
            n -= 1;
        }
        kept.copy_within(at..n, at + 1);
        kept[at] = (l, r);
        self.ranges = kept;
        self.len = n + 1;
    }

    /// Forgets everything the cumulative acknowledgment `snd_una` covers.
    pub(super) fn advance(&mut self, snd_una: TcpSeqNumber) {
        let mut n = 0;
        for i in 0..self.len {
            let (a, b) = self.ranges[i];
            if b > snd_una {
                self.ranges[n] = (a.max(snd_una), b);
                n += 1;
            }
        }
        self.len = n;
    }

    /// Octets SACKed at or above `seq`.
    pub(super) fn sacked_above(&self, seq: TcpSeqNumber) -> usize {
        self.ranges()
            .iter()
            .filter(|&&(_, b)| b > seq)
            .map(|&(a, b)| b - a.max(seq))
            .sum()
    }

    /// Octets SACKed in all.
    pub(super) fn sacked(&self) -> usize {
        self.ranges().iter().map(|&(a, b)| b - a).sum()
    }

    /// The first hole at or above `from` that lies below SACKed data (RFC 6675's `IsLost`
    /// with the SACKed data as evidence): its start and length. Holes above the highest
    /// SACKed octet are not known to be lost.
    pub(super) fn next_hole(&self, from: TcpSeqNumber) -> Option<(TcpSeqNumber, usize)> {
        let mut at = from;
        for &(a, b) in self.ranges() {
            if b <= at {
                continue;
            }
            if a > at {
                return Some((at, a - at));
            }
            at = b;
        }
        None
    }

    /// The end of the SACKed range `seq` lies in, if it lies in one.
    pub(super) fn sacked_until(&self, seq: TcpSeqNumber) -> Option<TcpSeqNumber> {
        self.ranges()
            .iter()
            .find(|&&(a, b)| a <= seq && seq < b)
            .map(|&(_, b)| b)
    }
}

#[cfg(test)]
mod test {
    use super::*;

    fn s(n: i32) -> TcpSeqNumber {
        TcpSeqNumber(n)
    }

    #[test]
    fn merges_and_finds_holes() {
        let mut b = Scoreboard::default();
        b.add(s(300), s(400), s(100), s(1000));
        b.add(s(600), s(700), s(100), s(1000));
        b.add(s(400), s(450), s(100), s(1000));
        assert_eq!(b.ranges(), &[(s(300), s(450)), (s(600), s(700))]);
        assert_eq!(b.next_hole(s(100)), Some((s(100), 200)));
        assert_eq!(b.next_hole(s(300)), Some((s(450), 150)));
        assert_eq!(b.next_hole(s(600)), None);
        assert_eq!(b.sacked_above(s(100)), 250);
        assert_eq!(b.sacked_until(s(610)), Some(s(700)));
        b.advance(s(420));
        assert_eq!(b.ranges(), &[(s(420), s(450)), (s(600), s(700))]);
        b.add(s(50), s(2000), s(420), s(1000));
        assert_eq!(b.ranges(), &[(s(420), s(1000))]);
    }

    #[test]
    fn full_board_keeps_the_lowest() {
        let mut b = Scoreboard::default();
        for i in 0..10 {
            b.add(s(100 * i + 50), s(100 * i + 60), s(0), s(10_000));
        }
        assert_eq!(b.len, SCOREBOARD_LEN);
        assert_eq!(b.next_hole(s(0)), Some((s(0), 50)));
        b.add(s(5), s(6), s(0), s(10_000));
        assert_eq!(b.ranges()[0], (s(5), s(6)));
    }
}
