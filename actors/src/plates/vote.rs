//! Per-track plate voting, pure: every reading of a track's plate votes for its normalised text with its OCR
//! confidence; the text with the most confidence wins once it has enough readings and enough of the track's
//! total confidence. The caller raises `start` the first time a winner qualifies and `update` when the
//! qualified winner changes.

use std::collections::HashMap;

/// When a winning text is trusted.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VoteParams {
    /// Readings the winner needs.
    pub min_votes: u32,
    /// Share of the track's summed confidence the winner needs, 0–1.
    pub min_share: f32,
}

/// The readings of one text.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Tally {
    pub votes: u32,
    /// Sum of the readings' confidences.
    pub weight: f32,
    /// The best single reading's confidence.
    pub best: f32,
}

impl Tally {
    /// Mean confidence of the readings.
    pub fn mean(&self) -> f32 {
        if self.votes == 0 { 0.0 } else { self.weight / self.votes as f32 }
    }
}

/// What one more reading changed.
#[derive(Clone, Debug, PartialEq)]
pub enum VoteOutcome {
    /// Nothing to report (no qualified winner yet, or the same winner).
    None,
    /// A winner qualified for the first time.
    Start(String),
    /// The qualified winner is now another text.
    Changed(String),
}

/// The votes of one track.
#[derive(Clone, Debug, Default)]
pub struct TrackVotes {
    tallies: HashMap<String, Tally>,
    total: f32,
    reported: Option<String>,
}

impl TrackVotes {
    /// Count a reading of `text` (already normalised and checked) with confidence `confidence`.
    pub fn add(&mut self, text: &str, confidence: f32, params: &VoteParams) -> VoteOutcome {
        let c = confidence.clamp(0.0, 1.0);
        let t = self.tallies.entry(text.to_owned()).or_default();
        t.votes += 1;
        t.weight += c;
        t.best = t.best.max(c);
        self.total += c;
        let Some((winner, _)) = self.qualified(params) else { return VoteOutcome::None };
        let winner = winner.to_owned();
        match &self.reported {
            None => {
                self.reported = Some(winner.clone());
                VoteOutcome::Start(winner)
            }
            Some(r) if *r != winner => {
                self.reported = Some(winner.clone());
                VoteOutcome::Changed(winner)
            }
            Some(_) => VoteOutcome::None,
        }
    }

    /// The text with the most confidence (ties: more votes, then the smaller text), qualified or not.
    pub fn leader(&self) -> Option<(&str, &Tally)> {
        self.tallies
            .iter()
            .max_by(|(a, ta), (b, tb)| {
                ta.weight.total_cmp(&tb.weight).then(ta.votes.cmp(&tb.votes)).then_with(|| b.cmp(a))
            })
            .map(|(k, t)| (k.as_str(), t))
    }

    /// The leader when it has `min_votes` readings and `min_share` of the total confidence.
    pub fn qualified(&self, params: &VoteParams) -> Option<(&str, &Tally)> {
        self.leader().filter(|(_, t)| {
            t.votes >= params.min_votes && self.total > 0.0 && t.weight / self.total + 1e-6 >= params.min_share
        })
    }

    /// The text last reported by a `Start` or `Changed`.
    pub fn reported(&self) -> Option<&str> {
        self.reported.as_deref()
    }

    /// All readings counted.
    pub fn readings(&self) -> u32 {
        self.tallies.values().map(|t| t.votes).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: VoteParams = VoteParams { min_votes: 3, min_share: 0.5 };

    #[test]
    fn a_winner_needs_enough_votes_then_starts_once() {
        let mut v = TrackVotes::default();
        assert_eq!(v.add("5AU5341", 0.9, &P), VoteOutcome::None);
        assert_eq!(v.add("5AU5341", 0.8, &P), VoteOutcome::None);
        assert_eq!(v.add("5AU5341", 0.7, &P), VoteOutcome::Start("5AU5341".into()));
        assert_eq!(v.add("5AU5341", 0.9, &P), VoteOutcome::None, "the same winner is not reported again");
        let (text, t) = v.leader().unwrap();
        assert_eq!((text, t.votes), ("5AU5341", 4));
        assert!((t.mean() - 0.825).abs() < 1e-6 && (t.best - 0.9).abs() < 1e-6);
    }

    #[test]
    fn a_misreading_does_not_win_and_a_contested_leader_waits_for_its_share() {
        let mut v = TrackVotes::default();
        // Equal confidences: the leader's share is its share of the readings. It holds 2/3, 2/4, 3/5 and 4/6
        // of them, all below 70 %; the misreading never leads.
        let p = VoteParams { min_votes: 2, min_share: 0.7 };
        let (au, av) = ("5AU5341", "5AV5341");
        for (i, text) in [au, av, au, av, au, au].into_iter().enumerate() {
            assert_eq!(v.add(text, 0.9, &p), VoteOutcome::None, "reading {i} ({text}): no text holds 70 %");
        }
        assert_eq!(v.add(au, 0.9, &p), VoteOutcome::Start(au.into()), "5 of 7 readings: 71 %");
    }

    #[test]
    fn the_winner_changes_when_another_text_overtakes_it() {
        let mut v = TrackVotes::default();
        let p = VoteParams { min_votes: 2, min_share: 0.5 };
        v.add("ABC123", 0.6, &p);
        assert_eq!(v.add("ABC123", 0.6, &p), VoteOutcome::Start("ABC123".into()));
        assert_eq!(v.add("ABC128", 0.9, &p), VoteOutcome::None, "one vote is not enough");
        assert_eq!(v.add("ABC128", 0.9, &p), VoteOutcome::Changed("ABC128".into()), "1.8 beats 1.2");
        assert_eq!(v.reported(), Some("ABC128"));
        assert_eq!(v.readings(), 4);
    }

    #[test]
    fn low_confidence_readings_weigh_less_than_many_votes() {
        let mut v = TrackVotes::default();
        let p = VoteParams { min_votes: 1, min_share: 0.0 };
        v.add("AAA111", 0.2, &p);
        v.add("AAA111", 0.2, &p);
        v.add("BBB222", 0.9, &p);
        assert_eq!(v.leader().unwrap().0, "BBB222", "0.9 outweighs 2 x 0.2");
    }
}
