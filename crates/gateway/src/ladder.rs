//! The bitrate ladder: when a viewer's video steps down to a lower bitrate, and back up.

use std::time::Duration;

use cloudphone_protocol::quality::{ladder_step_above, ladder_step_at_most};

/// How long after a bitrate change the gateway waits before stepping up again.
const STEP_UP_AFTER: Duration = Duration::from_secs(10);

/// The loss-based bandwidth estimate (GCC's loss controller): over 10 % lost, the link carries
/// what was sent less half the loss; otherwise nothing says it is short (`u64::MAX`).
pub(crate) fn loss_based_estimate_bps(sent_kbps: f64, loss: f32) -> u64 {
    if loss > 0.10 { (sent_kbps * (1.0 - 0.5 * f64::from(loss)) * 1000.0).round() as u64 } else { u64::MAX }
}

/// The step below `current` for a viewer that fell behind; `None` at the lowest step.
pub(crate) fn lower_step(current: u32) -> Option<u32> {
    let lower = ladder_step_at_most(current.saturating_sub(1));
    (lower < current).then_some(lower)
}

/// What the bitrate ladder looks at, every statistics interval.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LinkReport {
    /// The bandwidth estimate, bit/s.
    pub(crate) estimate_bps: u64,
    /// What was actually sent over the interval (video and sound), kbit/s.
    pub(crate) sent_kbps: f64,
    /// The fraction of packets the viewer reports lost.
    pub(crate) loss: f32,
}

/// The bitrate ladder's decision for a viewer streamed at `current` kbit/s who chose `chosen`:
/// `None` to stay.
///
/// A damage-driven stream is mostly application-limited (a still screen sends almost nothing),
/// and then the estimate only follows what is sent: it says nothing about the link. So the
/// viewer steps **down** only on evidence of congestion, when it is actually sent more than 85 %
/// of the estimate allows (at once, to the step that fits), and steps **up** one step at a time,
/// `STEP_UP_AFTER` after the last change, when loss is low and either the estimate has room for
/// the next step or the stream is too idle to tell (the next burst of changes will show).
pub(crate) fn next_bitrate(current: u32, chosen: u32, link: LinkReport, since_change: Duration) -> Option<u32> {
    // Leave room for the estimate's error.
    let usable = u32::try_from((link.estimate_bps / 1000).saturating_mul(85) / 100).unwrap_or(u32::MAX);
    if usable < current && link.sent_kbps > f64::from(usable) {
        let lower = ladder_step_at_most(usable).min(chosen);
        return (lower < current).then_some(lower);
    }
    if current >= chosen || since_change < STEP_UP_AFTER || link.loss > 0.02 {
        return None;
    }
    let next = ladder_step_above(current)?.min(chosen);
    let idle = link.sent_kbps < f64::from(current) / 2.0;
    (next <= usable || idle).then_some(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lagging_viewer_steps_one_down_until_the_lowest() {
        assert_eq!(lower_step(4000), Some(3000));
        assert_eq!(lower_step(3500), Some(3000));
        assert_eq!(lower_step(200), None);
    }

    #[test]
    fn loss_means_a_short_link() {
        assert_eq!(loss_based_estimate_bps(3000.0, 0.2), 2_700_000);
        assert_eq!(loss_based_estimate_bps(3000.0, 0.05), u64::MAX, "some loss is no evidence");
        // With the ladder: 20 % loss at 3.5 Mbit/s sent steps a 4 Mbit/s viewer down to 2 Mbit/s.
        let link = LinkReport { estimate_bps: loss_based_estimate_bps(3500.0, 0.2), sent_kbps: 3500.0, loss: 0.2 };
        assert_eq!(next_bitrate(4000, 4000, link, Duration::from_secs(1)), Some(2000));
        let calm = LinkReport { estimate_bps: loss_based_estimate_bps(1900.0, 0.0), sent_kbps: 1900.0, loss: 0.0 };
        assert_eq!(next_bitrate(2000, 4000, calm, Duration::from_secs(60)), Some(3000), "and back up when calm");
    }

    #[test]
    fn the_bitrate_steps_down_on_congestion_and_up_slowly() {
        let (long_ago, just_now) = (Duration::from_secs(60), Duration::from_secs(1));
        let link = |estimate_kbps: u64, sent_kbps: f64, loss: f32| LinkReport {
            estimate_bps: estimate_kbps * 1000,
            sent_kbps,
            loss,
        };
        // Plenty of room: stay at the chosen 4 Mbit/s.
        assert_eq!(next_bitrate(4000, 4000, link(6000, 3500.0, 0.0), long_ago), None);
        // A still screen: the estimate follows the little that is sent; that is no congestion.
        assert_eq!(next_bitrate(4000, 4000, link(300, 20.0, 0.0), just_now), None);
        // Sending 3.5 Mbit/s into an estimate of 2.5: 85 % of it is 2125, the ladder's 2000.
        assert_eq!(next_bitrate(4000, 4000, link(2500, 3500.0, 0.0), just_now), Some(2000));
        // Very little: the lowest step.
        assert_eq!(next_bitrate(2000, 4000, link(100, 1900.0, 0.1), just_now), Some(200));
        // Recovered, but too soon after the last change.
        assert_eq!(next_bitrate(2000, 4000, link(6000, 1900.0, 0.0), just_now), None);
        // Later: one step up (2000 -> 3000), then the next, never above the choice.
        assert_eq!(next_bitrate(2000, 4000, link(6000, 1900.0, 0.0), long_ago), Some(3000));
        assert_eq!(next_bitrate(3000, 4000, link(6000, 2900.0, 0.0), long_ago), Some(4000));
        assert_eq!(next_bitrate(3000, 3500, link(6000, 2900.0, 0.0), long_ago), Some(3500));
        // Busy and the next step does not fit: stay. Idle: try it. Lossy: stay.
        assert_eq!(next_bitrate(2000, 4000, link(3000, 1900.0, 0.0), long_ago), None);
        assert_eq!(next_bitrate(2000, 4000, link(300, 50.0, 0.0), long_ago), Some(3000));
        assert_eq!(next_bitrate(2000, 4000, link(6000, 1900.0, 0.05), long_ago), None);
    }
}
