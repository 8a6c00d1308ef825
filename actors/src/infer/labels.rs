//! Class names of a model: the Ultralytics `names` metadata (a Python dict literal such as
//! `{0: 'person', 1: "dog's bed"}`), a labels file (one name a line), or `class<N>` placeholders.

use std::path::Path;

/// Parse a Python dict literal mapping class ids `0..n` to names. Keys may be bare or quoted integers;
/// values are `'…'` or `"…"` strings with Python escapes; a trailing comma is accepted. The ids must be
/// exactly `0..n`, each once.
pub fn parse_names(text: &str) -> Result<Vec<String>, String> {
    let mut p = Parser { chars: text.chars().collect(), pos: 0 };
    p.skip_ws();
    p.expect('{')?;
    let mut pairs: Vec<(usize, String)> = Vec::new();
    loop {
        p.skip_ws();
        if p.eat('}') {
            break;
        }
        let key = p.key()?;
        p.skip_ws();
        p.expect(':')?;
        p.skip_ws();
        let value = p.string()?;
        pairs.push((key, value));
        p.skip_ws();
        if p.eat(',') {
            continue;
        }
        p.skip_ws();
        p.expect('}')?;
        break;
    }
    p.skip_ws();
    if p.pos != p.chars.len() {
        return Err(format!("unexpected text after the closing brace at character {}", p.pos));
    }
    let mut names = vec![None; pairs.len()];
    for (key, value) in pairs {
        match names.get_mut(key) {
            Some(slot @ None) => *slot = Some(value),
            Some(Some(_)) => return Err(format!("class id {key} appears twice")),
            None => return Err(format!("class ids must be 0..{} but {key} is out of range", names.len())),
        }
    }
    Ok(names.into_iter().map(|n| n.expect("every id 0..n is filled")).collect())
}

/// Read a labels file: one class name a line; surrounding whitespace is trimmed and blank lines skipped.
pub fn read_labels_file(path: &Path) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read labels file {}: {e}", path.display()))?;
    let names: Vec<String> = text.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect();
    if names.is_empty() {
        return Err(format!("labels file {} has no names", path.display()));
    }
    Ok(names)
}

/// `class0`, `class1`, … for models that carry no names.
pub fn placeholder_names(classes: usize) -> Vec<String> {
    (0..classes).map(|i| format!("class{i}")).collect()
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, c: char) -> bool {
        let hit = self.peek() == Some(c);
        if hit {
            self.pos += 1;
        }
        hit
    }

    fn expect(&mut self, c: char) -> Result<(), String> {
        if self.eat(c) {
            Ok(())
        } else {
            let found = self.peek().map_or("the end".to_owned(), |f| format!("`{f}`"));
            Err(format!("expected `{c}` at character {} but found {found}", self.pos))
        }
    }

    fn key(&mut self) -> Result<usize, String> {
        let digits = if matches!(self.peek(), Some('\'' | '"')) { self.string()? } else { self.digits() };
        digits.trim().parse().map_err(|_| format!("class id `{digits}` before character {} is not a number", self.pos))
    }

    fn digits(&mut self) -> String {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        self.chars[start..self.pos].iter().collect()
    }

    fn string(&mut self) -> Result<String, String> {
        let start = self.pos;
        let quote = match self.peek() {
            Some(q @ ('\'' | '"')) => q,
            _ => return Err(format!("expected a quoted name at character {start}")),
        };
        self.pos += 1;
        let mut out = String::new();
        loop {
            let c = self.peek().ok_or_else(|| format!("unterminated string starting at character {start}"))?;
            self.pos += 1;
            match c {
                c if c == quote => return Ok(out),
                '\\' => {
                    let e = self.peek().ok_or_else(|| format!("unterminated string starting at character {start}"))?;
                    self.pos += 1;
                    match e {
                        'n' => out.push('\n'),
                        't' => out.push('\t'),
                        'r' => out.push('\r'),
                        'x' => out.push(self.hex(2)?),
                        'u' => out.push(self.hex(4)?),
                        'U' => out.push(self.hex(8)?),
                        other => out.push(other), // \\ \' \" and anything else stand for themselves
                    }
                }
                c => out.push(c),
            }
        }
    }

    fn hex(&mut self, len: usize) -> Result<char, String> {
        let end = self.pos + len;
        let digits: String = self.chars.get(self.pos..end).ok_or("truncated escape")?.iter().collect();
        self.pos = end;
        u32::from_str_radix(&digits, 16)
            .ok()
            .and_then(char::from_u32)
            .ok_or_else(|| format!("bad escape `{digits}` before character {end}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ultralytics_names() {
        assert_eq!(parse_names("{0: 'Normal', 1: 'Fall'}").unwrap(), ["Normal", "Fall"]);
        assert_eq!(parse_names("{}").unwrap(), Vec::<String>::new());
    }

    #[test]
    fn handles_both_quotes_escapes_order_and_trailing_comma() {
        let got = parse_names(" {1: \"dog's bed\", 0: 'traffic light',\n 2: 'a\\'b\\\\c', 3: 'caf\\xe9', '4': 'x',} ")
            .unwrap();
        assert_eq!(got, ["traffic light", "dog's bed", "a'b\\c", "café", "x"]);
        assert_eq!(parse_names("{0: 'a, b: {c}'}").unwrap(), ["a, b: {c}"]);
    }

    #[test]
    fn rejects_gaps_duplicates_and_garbage() {
        assert!(parse_names("{0: 'a', 2: 'c'}").unwrap_err().contains("out of range"));
        assert!(parse_names("{0: 'a', 0: 'b'}").unwrap_err().contains("twice"));
        assert!(parse_names("{0: 'a'").unwrap_err().contains("expected `}`"));
        assert!(parse_names("{0: 'a} ").unwrap_err().contains("unterminated"));
        assert!(parse_names("{x: 'a'}").unwrap_err().contains("not a number"));
        assert!(parse_names("['a', 'b']").unwrap_err().contains("expected `{`"));
        assert!(parse_names("{0: 'a'} extra").unwrap_err().contains("after the closing brace"));
    }

    #[test]
    fn labels_file_and_placeholders() {
        let path = std::env::temp_dir().join(format!("panoptes-labels-{}.names", std::process::id()));
        std::fs::write(&path, "person\r\nbicycle\n\n  car \n").unwrap();
        assert_eq!(read_labels_file(&path).unwrap(), ["person", "bicycle", "car"]);
        std::fs::write(&path, "\n \n").unwrap();
        assert!(read_labels_file(&path).unwrap_err().contains("no names"));
        std::fs::remove_file(&path).unwrap();
        assert!(read_labels_file(&path).unwrap_err().contains(&*path.to_string_lossy()));
        assert_eq!(placeholder_names(2), ["class0", "class1"]);
    }
}
