//! `[[webhooks]]`: HTTP endpoints each stored event is POSTed to, signed, retried and resumed after a restart
//! (`docs/integrations.md`).

use super::{ConfigError, check_id, invalid};
use crate::messages::EventKind;
use serde::Deserialize;

/// One webhook.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Unique id (letters, digits, `-`, `_`): names the hook in the API, the metrics and the store, where its
    /// delivery position is kept (renaming a hook starts it afresh from the newest event). Required.
    pub id: String,
    /// Where events are POSTed, an `http://` or `https://` URL. Required.
    pub url: String,
    /// Environment variable holding the secret the body is signed with (HMAC-SHA256). When unset, or when
    /// the variable is missing, requests go unsigned (and a warning says so). Default none.
    #[serde(default)]
    pub secret_env: Option<String>,
    /// Only events of these cameras. Default every camera.
    #[serde(default)]
    pub cameras: Vec<String>,
    /// Only events raised by rules with these ids. Default every rule.
    #[serde(default)]
    pub rules: Vec<String>,
    /// Only events of these kinds (`intrusion`, `loitering`, `occupancy`, `line_crossing`, `plate`, `fire`,
    /// `smoke`). Default every kind.
    #[serde(default)]
    pub kinds: Vec<EventKind>,
    /// Seconds one request may take before it counts as failed and is retried. Default 10.
    #[serde(default = "default_timeout_sec")]
    pub timeout_sec: f64,
    /// First retry delay in seconds; each further failure doubles it (with jitter) up to `retry_max_sec`.
    /// Default 1.
    #[serde(default = "default_retry_initial_sec")]
    pub retry_initial_sec: f64,
    /// Longest retry delay in seconds. Default 60.
    #[serde(default = "default_retry_max_sec")]
    pub retry_max_sec: f64,
    /// Attempts at one event before it is given up (counted, logged, and the hook moves on); 0 retries for
    /// as long as the event is kept (`[store] retention_days`). Default 0.
    #[serde(default)]
    pub max_attempts: u32,
}

fn default_timeout_sec() -> f64 {
    10.0
}
fn default_retry_initial_sec() -> f64 {
    1.0
}
fn default_retry_max_sec() -> f64 {
    60.0
}

impl WebhookConfig {
    /// Each check names the field (`webhooks.<id>.<field>`).
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_id("webhooks.id", &self.id)?;
        let field = |f: &str| format!("webhooks.{}.{f}", self.id);
        let url = url::Url::parse(&self.url)
            .map_err(|e| invalid(field("url"), format!("`{}` is not a URL: {e}", self.url)))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(invalid(
                field("url"),
                "use an http:// or https:// URL, e.g. https://hooks.example.com/panoptes",
            ));
        }
        if let Some(var) = &self.secret_env
            && (var.is_empty() || var.contains('='))
        {
            return Err(invalid(field("secret_env"), "name an environment variable, e.g. PANOPTES_WEBHOOK_SECRET"));
        }
        for (i, camera) in self.cameras.iter().enumerate() {
            check_id(&format!("{}[{i}]", field("cameras")), camera)?;
        }
        for (i, rule) in self.rules.iter().enumerate() {
            check_id(&format!("{}[{i}]", field("rules")), rule)?;
        }
        let seconds = [
            ("timeout_sec", self.timeout_sec, 0.1, 300.0),
            ("retry_initial_sec", self.retry_initial_sec, 0.01, 3600.0),
            ("retry_max_sec", self.retry_max_sec, 0.01, 86_400.0),
        ];
        for (name, v, lo, hi) in seconds {
            if !(v.is_finite() && (lo..=hi).contains(&v)) {
                return Err(invalid(field(name), format!("must be between {lo} and {hi} seconds")));
            }
        }
        if self.retry_max_sec < self.retry_initial_sec {
            return Err(invalid(field("retry_max_sec"), "must be at least retry_initial_sec"));
        }
        Ok(())
    }

    /// Whether an event of `camera`, raised by `rule`, of `kind`, goes to this hook.
    pub fn wants(&self, camera: &str, rule: &str, kind: EventKind) -> bool {
        (self.cameras.is_empty() || self.cameras.iter().any(|c| c == camera))
            && (self.rules.is_empty() || self.rules.iter().any(|r| r == rule))
            && (self.kinds.is_empty() || self.kinds.contains(&kind))
    }
}

/// Check every hook, and that their ids are unique.
pub fn validate_all(hooks: &[WebhookConfig]) -> Result<(), ConfigError> {
    let mut ids = std::collections::HashSet::new();
    for hook in hooks {
        hook.validate()?;
        if !ids.insert(hook.id.as_str()) {
            return Err(invalid(
                "webhooks.id",
                format!("`{}` is used by two [[webhooks]]; give each its own id", hook.id),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn hook(extra: Value) -> Result<WebhookConfig, String> {
        let mut v = json!({ "id": "ops", "url": "https://hooks.example.com/p" });
        v.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        let h: WebhookConfig = serde_json::from_value(v).map_err(|e| e.to_string())?;
        h.validate().map_err(|e| e.to_string())?;
        Ok(h)
    }

    #[test]
    fn defaults_and_filters() {
        let h = hook(json!({})).unwrap();
        assert_eq!((h.timeout_sec, h.retry_initial_sec, h.retry_max_sec, h.max_attempts), (10.0, 1.0, 60.0, 0));
        assert!(h.wants("gate", "any", EventKind::Fire), "no filter: everything");
        let h = hook(json!({ "cameras": ["gate"], "kinds": ["intrusion", "line_crossing"] })).unwrap();
        assert!(h.wants("gate", "r1", EventKind::LineCrossing));
        assert!(!h.wants("yard", "r1", EventKind::Intrusion), "another camera");
        assert!(!h.wants("gate", "r1", EventKind::Loitering), "another kind");
        let h = hook(json!({ "rules": ["door"] })).unwrap();
        assert!(h.wants("yard", "door", EventKind::Intrusion) && !h.wants("yard", "fence", EventKind::Intrusion));
    }

    #[test]
    fn bad_values_name_the_field() {
        let err = |extra: Value| hook(extra).unwrap_err();
        assert!(err(json!({ "kinds": ["explosion"] })).contains("explosion"));
        assert!(err(json!({ "timeout_sec": 0.0 })).contains("webhooks.ops.timeout_sec"));
        assert!(err(json!({ "retry_initial_sec": 5.0, "retry_max_sec": 2.0 })).contains("webhooks.ops.retry_max_sec"));
        assert!(err(json!({ "cameras": ["a b"] })).contains("webhooks.ops.cameras[0]"));
        assert!(err(json!({ "secret_env": "" })).contains("webhooks.ops.secret_env"));
        assert!(err(json!({ "colour": 1 })).contains("colour"));
        assert!(err(json!({ "url": "ftp://h/p" })).contains("webhooks.ops.url"));
        let two = [hook(json!({})).unwrap(), hook(json!({})).unwrap()];
        assert!(validate_all(&two).unwrap_err().to_string().contains("`ops` is used by two"));
    }
}
