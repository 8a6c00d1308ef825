//! Plate-text helpers, pure: normalisation of what OCR read, a per-deployment format check, and edit
//! distance for matching a read plate against allow/deny lists despite one or two misread characters.

use regex::Regex;

/// Upper-case and keep only letters and digits: `"5au 5341"` and `"5AU-5341"` both become `"5AU5341"`.
/// Works on Unicode (a plate may carry non-Latin letters); upper-casing may change the length (`ß` → `SS`).
pub fn normalize_plate(raw: &str) -> String {
    raw.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_uppercase).collect()
}

/// A deployment's plate format: a regular expression that a *normalised* plate must match in full
/// (anchors are added), e.g. `[0-9][A-Z]{2}[0-9]{4}` or `[0-9]{2}[A-Z]{1,2}[0-9]{4,6}`.
#[derive(Clone, Debug)]
pub struct PlatePattern {
    regex: Regex,
    source: String,
}

/// A plate format that is not a valid regular expression.
#[derive(Debug, thiserror::Error)]
#[error("plate format `{pattern}` is not a valid regular expression: {reason}; fix the deployment's plate pattern")]
pub struct PatternError {
    pub pattern: String,
    pub reason: String,
}

impl PlatePattern {
    pub fn new(pattern: &str) -> Result<Self, PatternError> {
        Regex::new(&format!("^(?:{pattern})$"))
            .map(|regex| Self { regex, source: pattern.to_owned() })
            .map_err(|e| PatternError { pattern: pattern.to_owned(), reason: e.to_string() })
    }

    /// Whether the plate, once normalised, matches the whole pattern.
    pub fn matches(&self, plate: &str) -> bool {
        self.regex.is_match(&normalize_plate(plate))
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }
}

/// Levenshtein distance in characters (insertions, deletions, substitutions cost 1).
pub fn levenshtein(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

/// The closest entry of `list` to `plate` within `max_distance` edits, both sides normalised; ties go to the
/// earlier entry. Returns the entry as written in the list and its distance.
pub fn closest_match<'a>(
    plate: &str,
    list: impl IntoIterator<Item = &'a str>,
    max_distance: usize,
) -> Option<(&'a str, usize)> {
    let plate = normalize_plate(plate);
    let mut best: Option<(&'a str, usize)> = None;
    for entry in list {
        let d = levenshtein(&plate, &normalize_plate(entry));
        if d <= max_distance && best.is_none_or(|(_, bd)| d < bd) {
            best = Some((entry, d));
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalise_strips_separators_and_upper_cases() {
        assert_eq!(normalize_plate("5au 5341"), "5AU5341");
        assert_eq!(normalize_plate(" 30-e6.53·73 "), "30E65373");
        assert_eq!(normalize_plate("ab·ß"), "ABSS");
        assert_eq!(normalize_plate("京A·12345"), "京A12345");
        assert_eq!(normalize_plate("--"), "");
    }

    #[test]
    fn pattern_matches_whole_normalised_plates() {
        let p = PlatePattern::new("[0-9][A-Z]{2}[0-9]{4}").unwrap();
        assert!(p.matches("5AU 5341"));
        assert!(p.matches("5au-5341"));
        assert!(!p.matches("5AU53411"), "anchored at the end");
        assert!(!p.matches("X5AU5341"), "anchored at the start");
        // An alternation stays inside the anchors.
        let alt = PlatePattern::new("[0-9]{2}[A-Z][0-9]{5}|[0-9]{2}[A-Z]{2}[0-9]{5}").unwrap();
        assert!(alt.matches("29BK04366") && !alt.matches("29BK043667"));
        let err = PlatePattern::new("[A-Z").unwrap_err().to_string();
        assert!(err.contains("[A-Z") && err.contains("plate pattern"), "{err}");
    }

    #[test]
    fn levenshtein_textbook_cases() {
        assert_eq!(levenshtein("kitten", "sitting"), 3);
        assert_eq!(levenshtein("flaw", "lawn"), 2);
        assert_eq!(levenshtein("", "abc"), 3);
        assert_eq!(levenshtein("abc", ""), 3);
        assert_eq!(levenshtein("5AU5341", "5AU5341"), 0);
        assert_eq!(levenshtein("5AU5341", "SAU5341"), 1);
        assert_eq!(levenshtein("ab", "ba"), 2, "a transposition is two edits");
        assert_eq!(levenshtein("京A1", "京B1"), 1, "counts characters, not bytes");
    }

    #[test]
    fn levenshtein_is_symmetric_and_bounded() {
        let words = ["", "a", "30E65373", "30F25654", "29BK04366", "99H141390"];
        for a in words {
            for b in words {
                let d = levenshtein(a, b);
                assert_eq!(d, levenshtein(b, a));
                assert!(d >= a.chars().count().abs_diff(b.chars().count()));
                assert!(d <= a.chars().count().max(b.chars().count()));
            }
        }
    }

    #[test]
    fn closest_match_within_budget() {
        let deny = ["5AU-5341", "30E 65373", "ABC123"];
        assert_eq!(closest_match("5au5341", deny, 0), Some(("5AU-5341", 0)));
        assert_eq!(closest_match("SAU5341", deny, 1), Some(("5AU-5341", 1)));
        assert_eq!(closest_match("SAU5347", deny, 1), None);
        assert_eq!(closest_match("SAU5347", deny, 2), Some(("5AU-5341", 2)));
        assert_eq!(closest_match("anything", [], 5), None);
        // Ties go to the earlier entry.
        assert_eq!(closest_match("AB", ["AC", "AD"], 1), Some(("AC", 1)));
    }
}
