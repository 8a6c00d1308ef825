//! Request bodies: JSON parsed with the path of the bad field in the error (`zones[0].polygon`), so every
//! 400 names what to fix. An object with a key given twice is refused (JSON parsers disagree on which one
//! wins, so the body is ambiguous), naming the key.

use super::ApiError;
use serde::de::{self, DeserializeOwned, Deserializer, MapAccess, SeqAccess, Visitor};
use std::collections::HashSet;

/// Any JSON value, read only to find an object with a key twice.
struct NoDuplicates;

impl<'de> serde::Deserialize<'de> for NoDuplicates {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NoDuplicatesVisitor)
    }
}

struct NoDuplicatesVisitor;

impl<'de> Visitor<'de> for NoDuplicatesVisitor {
    type Value = NoDuplicates;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }
    fn visit_i64<E>(self, _: i64) -> Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }
    fn visit_u64<E>(self, _: u64) -> Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }
    fn visit_f64<E>(self, _: f64) -> Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }
    fn visit_str<E>(self, _: &str) -> Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }
    fn visit_unit<E>(self) -> Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<NoDuplicates, A::Error> {
        while seq.next_element::<NoDuplicates>()?.is_some() {}
        Ok(NoDuplicates)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<NoDuplicates, A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(de::Error::custom(format!("the key `{key}` is given twice; give each key once")));
            }
            map.next_value::<NoDuplicates>()?;
        }
        Ok(NoDuplicates)
    }
}

/// Parse a JSON body; errors name the field (`.` when the body as a whole is wrong).
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize::<_, NoDuplicates>(de).map_err(|e| {
        let field = e.path().to_string();
        ApiError::Invalid { field, reason: e.into_inner().to_string() }
    })?;
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(de).map_err(|e| {
        let field = e.path().to_string();
        ApiError::Invalid { field, reason: e.into_inner().to_string() }
    })?;
    Ok(value)
}

/// Parse a JSON object body and fill its `id` from the URL: an `id` in the body must match it.
pub fn parse_with_id<T: DeserializeOwned>(bytes: &[u8], id: &str) -> Result<T, ApiError> {
    parse_object(bytes, Some(id), &[])
}

/// Parse a JSON object body, leaving out the read-only keys `ignore` (e.g. the `status` a GET answered), and
/// with `id` (from the URL) filled in or checked.
pub fn parse_object<T: DeserializeOwned>(bytes: &[u8], id: Option<&str>, ignore: &[&str]) -> Result<T, ApiError> {
    let mut value: serde_json::Value = parse(bytes)?;
    let Some(obj) = value.as_object_mut() else {
        return Err(ApiError::Invalid { field: ".".into(), reason: "the body must be a JSON object".into() });
    };
    for key in ignore {
        obj.remove(*key);
    }
    let Some(id) = id else {
        let bytes = serde_json::to_vec(&value).map_err(|e| ApiError::Internal(e.to_string()))?;
        return parse(&bytes);
    };
    match obj.get("id") {
        None => {
            obj.insert("id".into(), id.into());
        }
        Some(serde_json::Value::String(s)) if s == id => {}
        Some(other) => {
            return Err(ApiError::Invalid {
                field: "id".into(),
                reason: format!("{other} differs from the id in the URL (`{id}`); leave it out or make them equal"),
            });
        }
    }
    let bytes = serde_json::to_vec(&value).map_err(|e| ApiError::Internal(e.to_string()))?;
    parse(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use panoptes_actors::config::CameraConfig;

    fn field(r: Result<CameraConfig, ApiError>) -> String {
        match r {
            Err(ApiError::Invalid { field, reason }) => format!("{field}: {reason}"),
            other => panic!("expected an invalid field, got {other:?}"),
        }
    }

    #[test]
    fn errors_name_the_nested_field() {
        let e = field(parse(br#"{"id":"a","file":"x.mp4","zones":[{"id":"z","polygon":[[0,0],[1,"x"]]}]}"#));
        assert!(e.starts_with("zones[0].polygon[1][1]: invalid type"), "{e}");
        let e = field(parse(br#"{"id":"a","file":"x.mp4","detect_fps":"fast"}"#));
        assert!(e.starts_with("detect_fps: invalid type"), "{e}");
        let e = field(parse(br#"{"id":"a","file":"x.mp4","colour":1}"#));
        assert!(e.contains("unknown field `colour`"), "{e}");
        let e = field(parse(br#"{"file":"x.mp4"}"#));
        assert!(e.contains("missing field `id`"), "{e}");
    }

    #[test]
    fn a_key_given_twice_is_refused_naming_it() {
        let e = field(parse(br#"{"id":"dk1","id":"dk2","file":"x.mp4"}"#));
        assert!(e.contains("the key `id` is given twice"), "{e}");
        let e = field(parse(br#"{"id":"a","file":"x.mp4","zones":[{"id":"z","id":"y","polygon":[]}]}"#));
        assert!(e.starts_with("zones[0]") && e.contains("`id` is given twice"), "{e}");
        let ok: CameraConfig = parse(br#"{"id":"a","file":"x.mp4","zones":[{"id":"z","polygon":[]}]}"#).unwrap();
        assert_eq!(ok.id, "a", "the same key in two objects is fine");
    }

    #[test]
    fn the_url_id_fills_or_must_match_the_body() {
        let c: CameraConfig = parse_with_id(br#"{"file":"x.mp4"}"#, "gate").unwrap();
        assert_eq!(c.id, "gate");
        let e = field(parse_with_id(br#"{"id":"door","file":"x.mp4"}"#, "gate"));
        assert!(e.starts_with("id: ") && e.contains("gate"), "{e}");
        let e = field(parse_with_id(b"[1]", "gate"));
        assert!(e.contains("JSON object"), "{e}");
        let c: CameraConfig =
            parse_object(br#"{"id":"a","file":"x.mp4","status":{"state":"streaming"}}"#, None, &["status"]).unwrap();
        assert_eq!(c.id, "a", "a GET answer can be sent back");
        let e = field(parse_object(br#"{"id":"a","file":"x.mp4","status":{}}"#, None, &[]));
        assert!(e.contains("unknown field `status`"), "{e}");
    }
}
