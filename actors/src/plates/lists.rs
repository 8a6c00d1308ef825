//! Known-plate lists, pure: a reading matches an allow or deny entry within a configured edit distance
//! (OCR misreads one or two characters); deny is checked first, so a plate on both lists is denied.

use crate::infer::ocr::plate_text::{closest_match, normalize_plate};
use serde::Serialize;

/// Which list a plate matched.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "list")]
pub enum ListMatch {
    Allow { entry: String, distance: usize },
    Deny { entry: String, distance: usize },
    Unknown,
}

impl ListMatch {
    /// `allow`, `deny` or `unknown`.
    pub fn name(&self) -> &'static str {
        match self {
            ListMatch::Allow { .. } => "allow",
            ListMatch::Deny { .. } => "deny",
            ListMatch::Unknown => "unknown",
        }
    }
}

/// A camera's allow and deny lists.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PlateLists {
    allow: Vec<String>,
    deny: Vec<String>,
    max_distance: usize,
}

impl PlateLists {
    /// Entries are kept as written (events show them so); matching normalises both sides.
    pub fn new(allow: &[String], deny: &[String], max_distance: usize) -> Self {
        Self { allow: allow.to_vec(), deny: deny.to_vec(), max_distance }
    }

    /// Whether the lists have any entry whose normalised form is empty (it would match every short reading).
    pub fn empty_entry(&self) -> Option<&str> {
        self.allow.iter().chain(&self.deny).find(|e| normalize_plate(e).is_empty()).map(String::as_str)
    }

    /// The list `plate` belongs to.
    pub fn check(&self, plate: &str) -> ListMatch {
        let max = self.max_distance;
        if let Some((entry, distance)) = closest_match(plate, self.deny.iter().map(String::as_str), max) {
            return ListMatch::Deny { entry: entry.to_owned(), distance };
        }
        if let Some((entry, distance)) = closest_match(plate, self.allow.iter().map(String::as_str), max) {
            return ListMatch::Allow { entry: entry.to_owned(), distance };
        }
        ListMatch::Unknown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lists(max: usize) -> PlateLists {
        PlateLists::new(&["5AU 5341".into(), "7XYZ123".into()], &["BAD 666".into()], max)
    }

    #[test]
    fn exact_and_near_readings_match_their_entry_as_written() {
        let l = lists(1);
        assert_eq!(l.check("5AU5341"), ListMatch::Allow { entry: "5AU 5341".into(), distance: 0 });
        // One substitution (U read as V).
        assert_eq!(l.check("5AV5341"), ListMatch::Allow { entry: "5AU 5341".into(), distance: 1 });
        // Two edits are beyond a distance of 1.
        assert_eq!(l.check("5AV5841"), ListMatch::Unknown);
        assert_eq!(lists(2).check("5AV5841"), ListMatch::Allow { entry: "5AU 5341".into(), distance: 2 });
    }

    #[test]
    fn deny_wins_and_unknown_plates_are_unknown() {
        let l = PlateLists::new(&["BAD666".into()], &["BAD 666".into()], 0);
        assert_eq!(l.check("bad-666"), ListMatch::Deny { entry: "BAD 666".into(), distance: 0 });
        assert_eq!(l.check("GOOD1"), ListMatch::Unknown);
        assert_eq!(l.check("GOOD1").name(), "unknown");
        assert_eq!(lists(0).check("BAD666").name(), "deny");
    }

    #[test]
    fn an_entry_of_punctuation_only_is_reported() {
        assert_eq!(PlateLists::new(&["--".into()], &[], 1).empty_entry(), Some("--"));
        assert_eq!(lists(1).empty_entry(), None);
    }
}
