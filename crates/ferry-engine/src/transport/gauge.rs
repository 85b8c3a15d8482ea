//! How far a file's bytes have got on their way to the server, between confirmations: what
//! the server confirmed, plus what was handed to the network since and not lost. Bars move
//! with this instead of jumping a chunk at a time. Pure arithmetic over a byte counter; knows
//! nothing of protocols, sockets or who shows the figure.

use std::time::Duration;

/// How often a transport says how far its bytes got (an [`crate::Event::Sent`]).
pub(crate) const SENT_EVERY: Duration = Duration::from_millis(250);

/// The position of a file's bytes on the wire, from a counter of body bytes handed to the
/// network in this run.
#[derive(Debug, Clone)]
pub(crate) struct Gauge {
    /// What the server held when the run began (the counter's zero).
    start: u64,
    size: u64,
    /// Bytes counted that will never be confirmed: sent in requests that failed, or before
    /// the server took an upload back to an earlier offset.
    wasted: u64,
    /// The last position reported.
    reported: Option<u64>,
}

impl Gauge {
    /// A gauge for a file of `size` bytes whose upload begins with `start` bytes on the server.
    pub(crate) fn new(start: u64, size: u64) -> Self {
        Self {
            start,
            size,
            wasted: 0,
            reported: None,
        }
    }

    /// Where the bytes are with `counter` bytes handed over and `confirmed` confirmed:
    /// never below what is confirmed, never past the end.
    pub(crate) fn position(&self, counter: u64, confirmed: u64) -> u64 {
        let floor = confirmed.min(self.size);
        self.start
            .saturating_add(counter)
            .saturating_sub(self.wasted)
            .clamp(floor, self.size)
    }

    /// What was sent and not confirmed by now is lost (a request failed, the server went
    /// back): the position falls back to `confirmed` and goes on from there.
    pub(crate) fn lost_in_flight(&mut self, counter: u64, confirmed: u64) {
        self.wasted = self
            .start
            .saturating_add(counter)
            .saturating_sub(confirmed.min(self.size));
    }

    /// The position to report now, if it changed since the last report.
    pub(crate) fn report(&mut self, counter: u64, confirmed: u64) -> Option<u64> {
        let now = self.position(counter, confirmed);
        (self.reported != Some(now)).then(|| {
            self.reported = Some(now);
            now
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Gauge;

    #[test]
    fn bytes_handed_over_move_the_position_between_confirmations() {
        let mut gauge = Gauge::new(0, 100);
        assert_eq!(gauge.report(0, 0), Some(0));
        assert_eq!(gauge.report(0, 0), None, "nothing moved");
        assert_eq!(gauge.report(30, 0), Some(30));
        assert_eq!(gauge.report(40, 40), Some(40));
        assert_eq!(gauge.position(100, 40), 100);
    }

    #[test]
    fn a_resumed_upload_starts_where_the_server_stood() {
        let gauge = Gauge::new(60, 100);
        assert_eq!(gauge.position(0, 60), 60);
        assert_eq!(gauge.position(10, 60), 70);
        assert_eq!(gauge.position(500, 60), 100, "never past the end");
    }

    #[test]
    fn bytes_lost_in_a_failed_request_are_not_counted_again() {
        let mut gauge = Gauge::new(0, 100);
        assert_eq!(gauge.position(50, 20), 50);
        // The request carrying bytes 20..50 failed: back to what the server holds.
        gauge.lost_in_flight(50, 20);
        assert_eq!(gauge.position(50, 20), 20);
        // They are sent again, then further.
        assert_eq!(gauge.position(80, 20), 50);
        assert_eq!(gauge.position(110, 90), 90);
    }

    #[test]
    fn a_server_that_goes_back_takes_the_position_with_it() {
        let mut gauge = Gauge::new(40, 100);
        gauge.lost_in_flight(10, 0);
        assert_eq!(gauge.position(10, 0), 0);
        assert_eq!(gauge.position(35, 0), 25);
    }

    #[test]
    fn never_below_what_is_confirmed() {
        let mut gauge = Gauge::new(0, 100);
        gauge.lost_in_flight(50, 50);
        assert_eq!(gauge.position(50, 70), 70);
    }
}
