//! HyStart++ (RFC 9406): leave slow start when the round trip starts to rise, before a
//! bounded queue on the path overflows, rather than at the first loss.
//!
//! The RTT estimator times one segment per flight, too few for a per-round minimum; this
//! times up to `SAMPLE_SLOTS` new segments in flight (their send times, in order of
//! sequence), so a round yields several samples, most of them early in the round.

use crate::time::Instant;
use crate::wire::TcpSeqNumber;

/// RFC 9406 MIN_RTT_THRESH and MAX_RTT_THRESH (µs): bounds of the rise that ends slow start.
const MIN_RTT_THRESH: u64 = 4_000;
const MAX_RTT_THRESH: u64 = 16_000;
/// RFC 9406 MIN_RTT_DIVISOR: the rise that ends slow start is a fraction of the last round's
/// minimum.
const MIN_RTT_DIVISOR: u64 = 8;
/// RFC 9406 N_RTT_SAMPLE: samples a round needs before its minimum is compared.
const N_RTT_SAMPLE: u8 = 8;
/// RFC 9406 CSS_GROWTH_DIVISOR: Conservative Slow Start grows at this fraction of the rate.
pub(super) const CSS_GROWTH_DIVISOR: usize = 4;
/// RFC 9406 CSS_ROUNDS: rounds of Conservative Slow Start before congestion avoidance.
const CSS_ROUNDS: u8 = 5;
/// How many segments in flight are timed at once.
const SAMPLE_SLOTS: usize = 16;

/// What the congestion controller should do after an acknowledgment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub(super) enum Phase {
    /// Standard slow start.
    SlowStart,
    /// Conservative Slow Start: grow at `1 / CSS_GROWTH_DIVISOR` of slow start's rate.
    Conservative,
    /// Slow start is over: set the slow-start threshold to the window.
    Exit,
}

#[derive(Debug, Clone, Copy)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub(super) struct HyStart {
    enabled: bool,
    /// Slow start ended (a delay exit, a loss or a timeout): nothing more to do until reset.
    done: bool,
    phase: Phase,
    /// `windowEnd`: the round ends when this is acknowledged.
    window_end: Option<TcpSeqNumber>,
    /// `lastRoundMinRTT` and `currentRoundMinRTT` (µs, `u64::MAX`: none yet), with
    /// `last_round_min` the lowest of all rounds so far (see `on_ack`).
    last_round_min: u64,
    current_round_min: u64,
    /// `rttSampleCount` of the current round.
    samples: u8,
    /// `cssBaselineMinRtt` (µs).
    css_baseline: u64,
    /// Rounds spent in Conservative Slow Start.
    css_rounds: u8,
    /// Timed segments: the sequence number that acknowledges each, and its send time
    /// (µs, truncated to 32 bits; only differences are used). A FIFO in sequence order.
    slots: [(TcpSeqNumber, u32); SAMPLE_SLOTS],
    head: usize,
    len: usize,
    /// The highest sequence number sent (a segment ending at or below it is a retransmission).
    max_sent: Option<TcpSeqNumber>,
    /// Rounds whose round trip rose past the threshold (entries into Conservative Slow
    /// Start), and slow starts ended that way, since the socket was created (kept by `reset`).
    rises: u32,
    exits: u32,
}

impl Default for HyStart {
    fn default() -> Self {
        Self {
            enabled: false,
            done: false,
            phase: Phase::SlowStart,
            window_end: None,
            last_round_min: u64::MAX,
            current_round_min: u64::MAX,
            samples: 0,
            css_baseline: u64::MAX,
            css_rounds: 0,
            slots: [(TcpSeqNumber::default(), 0); SAMPLE_SLOTS],
            head: 0,
            len: 0,
            max_sent: None,
            rises: 0,
            exits: 0,
        }
    }
}

fn micros(t: Instant) -> u32 {
    t.total_micros() as u32
}

impl HyStart {
    /// Turns HyStart++ on or off; the state of the slow start under way is cleared.
    pub(super) fn set_enabled(&mut self, enabled: bool) {
        *self = Self {
            enabled,
            ..Self::default()
        };
    }

    pub(super) fn enabled(&self) -> bool {
        self.enabled
    }

    /// For a new connection: slow start begins again.
    pub(super) fn reset(&mut self) {
        *self = Self {
            enabled: self.enabled,
            rises: self.rises,
            exits: self.exits,
            ..Self::default()
        };
    }

    /// Rounds whose round trip rose past the threshold, and slow starts ended by it.
    pub(super) fn events(&self) -> (u32, u32) {
        (self.rises, self.exits)
    }

    fn active(&self) -> bool {
        self.enabled && !self.done
    }

    /// Slow start ended by a loss or a timeout: HyStart++ applies to the first slow start
    /// only (RFC 9406 section 4.3), and a retransmission makes the timed segments ambiguous.
    pub(super) fn stop(&mut self) {
        self.done = true;
        self.len = 0;
    }

    /// A retransmission: its acknowledgment cannot be told from the original's (Karn), so
    /// nothing in flight is timed.
    pub(super) fn on_retransmit(&mut self) {
        self.len = 0;
    }

    /// A segment ending at `end` left at `now`: timed if it is new and a slot is free.
    pub(super) fn on_send(&mut self, now: Instant, end: TcpSeqNumber) {
        if !self.active() {
            return;
        }
        if self.max_sent.is_some_and(|max| end <= max) {
            return;
        }
        self.max_sent = Some(end);
        if self.len < SAMPLE_SLOTS {
            let at = (self.head + self.len) % SAMPLE_SLOTS;
            self.slots[at] = (end, micros(now));
            self.len += 1;
        }
    }

    /// An acknowledgment of new data up to `ack` arrived at `now`, with `snd_nxt` sent so
    /// far, while the controller is in slow start (`in_slow_start`). Returns the phase the
    /// controller should be in, or `None` once HyStart++ has nothing to say.
    pub(super) fn on_ack(
        &mut self,
        now: Instant,
        ack: TcpSeqNumber,
        snd_nxt: TcpSeqNumber,
        in_slow_start: bool,
    ) -> Option<Phase> {
        if !self.active() {
            return None;
        }
        if !in_slow_start {
            // The controller left slow start on its own (it reached its threshold).
            self.stop();
            return None;
        }
        // Samples first: the segments acknowledged here were sent in the round this ACK
        // may end.
        let now_us = micros(now);
        while self.len > 0 && self.slots[self.head].0 <= ack {
            let rtt = now_us.wrapping_sub(self.slots[self.head].1);
            self.current_round_min = self.current_round_min.min(u64::from(rtt));
            self.samples = self.samples.saturating_add(1);
            self.head = (self.head + 1) % SAMPLE_SLOTS;
            self.len -= 1;
        }
        if self.window_end.is_none() {
            // The first round ends with the data sent before its first ACK.
            self.window_end = Some(snd_nxt);
        } else if self.window_end.is_some_and(|end| ack >= end) {
            // A new round (RFC 9406 section 4.2).
            self.window_end = Some(snd_nxt);
            // RFC 9406 compares with the previous round's minimum; a queue that grows by
            // less than the threshold each round (pacing spreads a round's data over the
            // round trip) then moves the baseline up with it and is never caught. The lowest
            // round minimum so far is the path's own delay, as in Linux's HyStart.
            self.last_round_min = self.last_round_min.min(self.current_round_min);
            self.current_round_min = u64::MAX;
            self.samples = 0;
            if self.phase == Phase::Conservative {
                self.css_rounds += 1;
                if self.css_rounds >= CSS_ROUNDS {
                    self.exits = self.exits.wrapping_add(1);
                    self.stop();
                    return Some(Phase::Exit);
                }
            }
        }
        if self.samples < N_RTT_SAMPLE || self.current_round_min == u64::MAX {
            return Some(self.phase);
        }
        match self.phase {
            Phase::SlowStart if self.last_round_min != u64::MAX => {
                let thresh = (self.last_round_min / MIN_RTT_DIVISOR)
                    .clamp(MIN_RTT_THRESH, MAX_RTT_THRESH);
                if self.current_round_min >= self.last_round_min.saturating_add(thresh) {
                    self.css_baseline = self.current_round_min;
                    self.css_rounds = 0;
                    self.phase = Phase::Conservative;
                    self.rises = self.rises.wrapping_add(1);
                }
            }
            Phase::Conservative if self.current_round_min < self.css_baseline => {
                // The rise was spurious: back to slow start.
                self.css_baseline = u64::MAX;
                self.phase = Phase::SlowStart;
            }
            _ => {}
        }
        Some(self.phase)
    }
}

#[cfg(test)]
mod test {
    use super::*;

    fn ms(t: u64) -> Instant {
        Instant::from_millis(t as i64)
    }

    fn seq(n: u32) -> TcpSeqNumber {
        TcpSeqNumber(n as i32)
    }

    /// Slow start from ten segments of 1000 octets, each ACK sending two more, round `k`
    /// taking `rtts[k]` ms: the last phase HyStart++ reported in each round.
    fn slow_start(h: &mut HyStart, rtts: &[u64]) -> Vec<Option<Phase>> {
        let mut nxt = 0;
        let mut t = 0;
        let mut round = Vec::new();
        for _ in 0..10 {
            nxt += 1000;
            h.on_send(ms(t), seq(nxt));
            round.push(nxt);
        }
        let mut phases = Vec::new();
        for &rtt in rtts {
            t += rtt;
            let mut next = Vec::new();
            let mut last = None;
            for &end in &round {
                if let Some(p) = h.on_ack(ms(t), seq(end), seq(nxt), true) {
                    last = Some(p);
                }
                for _ in 0..2 {
                    nxt += 1000;
                    h.on_send(ms(t), seq(nxt));
                    next.push(nxt);
                }
            }
            phases.push(last);
            round = next;
        }
        phases
    }

    #[test]
    fn a_rising_round_trip_ends_slow_start() {
        use Phase::*;
        let mut h = HyStart::default();
        h.set_enabled(true);
        // 50 ms / 8 = 6.25 ms: a rise of 2 ms is not enough, one of 8 ms is; then five
        // rounds of Conservative Slow Start. A round ends when its last segment is
        // acknowledged, and the segments timed are the first sent after that (here all of a
        // round leaves at once), so the first round of 60 ms is only seen whole in the next.
        assert_eq!(
            slow_start(&mut h, &[50, 50, 52, 60, 60, 60, 60, 60, 60, 60]),
            [
                Some(SlowStart),
                Some(SlowStart),
                Some(SlowStart),
                Some(SlowStart),
                Some(Conservative),
                Some(Conservative),
                Some(Conservative),
                Some(Conservative),
                Some(Exit),
                None
            ]
        );
    }

    #[test]
    fn a_round_trip_that_falls_back_resumes_slow_start() {
        use Phase::*;
        let mut h = HyStart::default();
        h.set_enabled(true);
        assert_eq!(
            slow_start(&mut h, &[50, 60, 50]),
            [Some(SlowStart), Some(Conservative), Some(SlowStart)]
        );
    }

    #[test]
    fn off_or_after_a_loss_it_says_nothing() {
        let mut h = HyStart::default();
        assert_eq!(slow_start(&mut h, &[50, 90]), [None, None]);
        h.set_enabled(true);
        h.stop();
        assert_eq!(slow_start(&mut h, &[50, 90]), [None, None]);
    }
}
