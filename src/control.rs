//! The control loop: the one owner of the running [`Pipeline`] and of the [`AdminStore`], reached by the HTTP
//! handlers through a [`ControlHandle`]. It runs on the actix system's arbiter (where the pipeline's actors
//! live) and takes one command at a time, so changes never interleave.
//!
//! Every change is validated fully, written in one store transaction, applied to the pipeline, and only then
//! committed: a change the pipeline refuses is rolled back, and nothing is half-stored.

use panoptes_actors::config::{CameraConfig, ConfigError};
use panoptes_actors::pipeline::{Pipeline, PipelineError};
use panoptes_actors::rules::spec::{self, RulesConfig};
use panoptes_actors::rules::{GetRuleStatus, RuleStatus, UpdateRules};
use panoptes_actors::store::StoreError;
use panoptes_actors::store::admin::AdminStore;
use panoptes_actors::store::tokens::TokenCache;
use panoptes_actors::store::tokens::{self, Role, TokenInfo};
use tokio::sync::{mpsc, oneshot};

/// Why a command failed; the HTTP layer maps each to a status code.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("`{field}`: {reason}")]
    Invalid { field: String, reason: String },
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("pipeline: {0}")]
    Pipeline(String),
    #[error("the server is shutting down")]
    Stopped,
}

impl From<ConfigError> for ControlError {
    fn from(e: ConfigError) -> Self {
        match e {
            ConfigError::Invalid { field, reason } => ControlError::Invalid { field, reason },
        }
    }
}

impl From<PipelineError> for ControlError {
    fn from(e: PipelineError) -> Self {
        match e {
            PipelineError::UnknownClass { camera, class, known } => ControlError::Invalid {
                field: format!("cameras.{camera}.classes"),
                reason: format!("the model has no class `{class}`; known classes: {known}"),
            },
            PipelineError::Config(c) => c.into(),
            PipelineError::DuplicateCamera(id) => ControlError::Conflict(format!("camera `{id}` already exists")),
            PipelineError::NoSuchCamera(id) => ControlError::NotFound(format!("camera `{id}` does not exist")),
            e @ PipelineError::Placement { .. } => ControlError::Conflict(e.to_string()),
            other => ControlError::Pipeline(other.to_string()),
        }
    }
}

fn no_camera(id: &str) -> ControlError {
    ControlError::NotFound(format!("camera `{id}` does not exist; GET /api/cameras lists them"))
}

/// A change of one camera's zones, lines or rules (run on a copy; the result is validated before it is kept).
pub type Edit = Box<dyn FnOnce(&mut CameraConfig) -> Result<(), ControlError> + Send>;

type Reply<T> = oneshot::Sender<Result<T, ControlError>>;

enum Command {
    Cameras(Reply<Vec<CameraConfig>>),
    AddCamera(Box<CameraConfig>, Reply<CameraConfig>),
    ReplaceCamera(Box<CameraConfig>, Reply<CameraConfig>),
    RemoveCamera(String, Reply<()>),
    Edit(String, Edit, Reply<CameraConfig>),
    RuleStatus(String, Reply<Option<RuleStatus>>),
    Tokens(Reply<Vec<TokenInfo>>),
    AddToken(String, Role, Reply<(TokenInfo, String)>),
    DeleteToken(i64, Reply<()>),
    Acknowledge(i64, Reply<bool>),
    Shutdown(Reply<()>),
}

/// How handlers reach the control loop (cheap to clone, `Send`).
#[derive(Clone)]
pub struct ControlHandle {
    tx: mpsc::Sender<Command>,
}

impl ControlHandle {
    async fn call<T>(&self, make: impl FnOnce(Reply<T>) -> Command) -> Result<T, ControlError> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(make(tx)).await.map_err(|_| ControlError::Stopped)?;
        rx.await.map_err(|_| ControlError::Stopped)?
    }

    /// Every camera's config (credentials included: the HTTP layer strips them).
    pub async fn cameras(&self) -> Result<Vec<CameraConfig>, ControlError> {
        self.call(Command::Cameras).await
    }
    pub async fn add_camera(&self, cfg: CameraConfig) -> Result<CameraConfig, ControlError> {
        self.call(|r| Command::AddCamera(Box::new(cfg), r)).await
    }
    pub async fn replace_camera(&self, cfg: CameraConfig) -> Result<CameraConfig, ControlError> {
        self.call(|r| Command::ReplaceCamera(Box::new(cfg), r)).await
    }
    pub async fn remove_camera(&self, id: String) -> Result<(), ControlError> {
        self.call(|r| Command::RemoveCamera(id, r)).await
    }
    /// Change a camera's zones, lines or rules; applied to its running rules without a restart.
    pub async fn edit(&self, id: String, edit: Edit) -> Result<CameraConfig, ControlError> {
        self.call(|r| Command::Edit(id, edit, r)).await
    }
    /// The rules of a running camera (`None`: the camera is disabled).
    pub async fn rule_status(&self, id: String) -> Result<Option<RuleStatus>, ControlError> {
        self.call(|r| Command::RuleStatus(id, r)).await
    }
    pub async fn tokens(&self) -> Result<Vec<TokenInfo>, ControlError> {
        self.call(Command::Tokens).await
    }
    /// A new token and its secret (shown once).
    pub async fn add_token(&self, name: String, role: Role) -> Result<(TokenInfo, String), ControlError> {
        self.call(|r| Command::AddToken(name, role, r)).await
    }
    pub async fn delete_token(&self, id: i64) -> Result<(), ControlError> {
        self.call(|r| Command::DeleteToken(id, r)).await
    }
    /// Mark an event acknowledged; false when it does not exist.
    pub async fn acknowledge(&self, id: i64) -> Result<bool, ControlError> {
        self.call(|r| Command::Acknowledge(id, r)).await
    }
    /// Stop the cameras, drain the pipeline and flush the store; the loop ends.
    pub async fn shutdown(&self) -> Result<(), ControlError> {
        self.call(Command::Shutdown).await
    }
}

/// The loop's state.
pub struct Control {
    pipeline: Pipeline,
    store: AdminStore,
    /// Every stored camera (enabled or not), in store order.
    cameras: Vec<CameraConfig>,
    tokens: TokenCache,
}

/// Check a camera fully before it is stored: its id, its own fields, its zones' and lines' geometry, and
/// every rule (as if enabled) against the zones, lines and the model's `labels`. Errors name the field.
pub fn validate_camera(cfg: &CameraConfig, labels: &[String]) -> Result<(), ControlError> {
    cfg.validate()?;
    let field = |list: &str, id: &str| format!("cameras.{}.{list}.{id}", cfg.id);
    for zone in &cfg.zones {
        spec::compile_zone(&cfg.id, zone)
            .map_err(|e| ControlError::Invalid { field: field("zones", &zone.id), reason: e.to_string() })?;
    }
    for line in &cfg.lines {
        spec::compile_line(&cfg.id, line)
            .map_err(|e| ControlError::Invalid { field: field("lines", &line.id), reason: e.to_string() })?;
    }
    let mut rules = RulesConfig::of_camera(cfg);
    for r in &mut rules.rules {
        r.enabled = true;
    }
    let (_, disabled) = spec::compile(&cfg.id, &rules, labels);
    if let Some(d) = disabled.first() {
        return Err(ControlError::Invalid { field: field("rules", &d.rule), reason: d.reason.clone() });
    }
    Ok(())
}

impl Control {
    /// Start the loop on the current arbiter; it owns `pipeline` and `store` until [`ControlHandle::shutdown`].
    pub fn spawn(
        pipeline: Pipeline,
        store: AdminStore,
        cameras: Vec<CameraConfig>,
        tokens: TokenCache,
    ) -> ControlHandle {
        let (tx, mut rx) = mpsc::channel(64);
        let mut control = Control { pipeline, store, cameras, tokens };
        actix::spawn(async move {
            while let Some(cmd) = rx.recv().await {
                if control.handle(cmd).await {
                    break;
                }
            }
        });
        ControlHandle { tx }
    }

    /// Run one command; true when the loop must end.
    async fn handle(&mut self, cmd: Command) -> bool {
        match cmd {
            Command::Cameras(r) => {
                let _ = r.send(Ok(self.cameras.clone()));
            }
            Command::AddCamera(cfg, r) => {
                let _ = r.send(self.add_camera(*cfg).await);
            }
            Command::ReplaceCamera(cfg, r) => {
                let _ = r.send(self.replace_camera(*cfg).await);
            }
            Command::RemoveCamera(id, r) => {
                let _ = r.send(self.remove_camera(&id).await);
            }
            Command::Edit(id, edit, r) => {
                let _ = r.send(self.edit(&id, edit).await);
            }
            Command::RuleStatus(id, r) => {
                let _ = r.send(self.rule_status(&id).await);
            }
            Command::Tokens(r) => {
                let _ = r.send(self.store.tokens().map_err(Into::into));
            }
            Command::AddToken(name, role, r) => {
                let _ = r.send(self.add_token(&name, role));
            }
            Command::DeleteToken(id, r) => {
                let _ = r.send(self.delete_token(id));
            }
            Command::Acknowledge(id, r) => {
                let _ = r.send(self.store.acknowledge_event(id).map_err(Into::into));
            }
            Command::Shutdown(r) => {
                self.pipeline.shutdown().await;
                let _ = r.send(Ok(()));
                return true;
            }
        }
        false
    }

    fn position(&self, id: &str) -> Option<usize> {
        self.cameras.iter().position(|c| c.id == id)
    }

    async fn add_camera(&mut self, cfg: CameraConfig) -> Result<CameraConfig, ControlError> {
        if self.position(&cfg.id).is_some() {
            return Err(ControlError::Conflict(format!(
                "camera `{}` already exists; PUT /api/cameras/{} changes it",
                cfg.id, cfg.id
            )));
        }
        validate_camera(&cfg, self.pipeline.labels())?;
        let mut tx = self.store.begin()?;
        tx.put_camera(&cfg)?;
        if cfg.enabled {
            // On failure the transaction is dropped: rolled back.
            self.pipeline.add_camera(cfg.clone()).await?;
        }
        if let Err(e) = tx.commit() {
            if cfg.enabled {
                let _ = self.pipeline.remove_camera(&cfg.id).await;
            }
            return Err(e.into());
        }
        tracing::info!(camera = %cfg.id, enabled = cfg.enabled, "camera added over the API");
        self.cameras.push(cfg.clone());
        Ok(cfg)
    }

    async fn replace_camera(&mut self, cfg: CameraConfig) -> Result<CameraConfig, ControlError> {
        let pos = self.position(&cfg.id).ok_or_else(|| no_camera(&cfg.id))?;
        let old = self.cameras[pos].clone();
        let mut cfg = cfg;
        if cfg.password.is_none() && cfg.password_env.is_none() && cfg.username == old.username {
            // The API never shows the stored password, so a PUT of what GET returned keeps it.
            cfg.password = old.password.clone();
        }
        validate_camera(&cfg, self.pipeline.labels())?;
        let mut tx = self.store.begin()?;
        tx.put_camera(&cfg)?;
        if old.enabled {
            let _ = self.pipeline.remove_camera(&old.id).await;
        }
        let applied =
            if cfg.enabled { self.pipeline.add_camera(cfg.clone()).await.map_err(Into::into) } else { Ok(()) };
        let result = applied.and_then(|()| tx.commit().map_err(ControlError::from));
        if let Err(e) = result {
            // Put the old camera back as it was.
            if cfg.enabled {
                let _ = self.pipeline.remove_camera(&cfg.id).await;
            }
            if old.enabled
                && let Err(again) = self.pipeline.add_camera(old.clone()).await
            {
                tracing::error!(camera = %old.id, error = %again, "could not restart the camera's previous config");
            }
            return Err(e);
        }
        tracing::info!(camera = %cfg.id, "camera replaced over the API (restarted)");
        self.cameras[pos] = cfg.clone();
        Ok(cfg)
    }

    async fn remove_camera(&mut self, id: &str) -> Result<(), ControlError> {
        let pos = self.position(id).ok_or_else(|| no_camera(id))?;
        let mut tx = self.store.begin()?;
        tx.delete_camera(id)?;
        tx.commit()?;
        if self.cameras[pos].enabled {
            self.pipeline.remove_camera(id).await?;
        }
        self.cameras.remove(pos);
        tracing::info!(camera = %id, "camera removed over the API");
        Ok(())
    }

    async fn edit(&mut self, id: &str, edit: Edit) -> Result<CameraConfig, ControlError> {
        let pos = self.position(id).ok_or_else(|| no_camera(id))?;
        let mut cfg = self.cameras[pos].clone();
        edit(&mut cfg)?;
        validate_camera(&cfg, self.pipeline.labels())?;
        let mut tx = self.store.begin()?;
        tx.put_camera(&cfg)?;
        if cfg.enabled
            && let Some(rules) = self.pipeline.rules(id)
        {
            rules
                .send(UpdateRules(RulesConfig::of_camera(&cfg)))
                .await
                .map_err(|e| ControlError::Pipeline(format!("camera `{id}`: its rule actor is gone: {e}")))?;
        }
        if let Err(e) = tx.commit() {
            if let Some(rules) = self.pipeline.rules(id) {
                let _ = rules.send(UpdateRules(RulesConfig::of_camera(&self.cameras[pos]))).await;
            }
            return Err(e.into());
        }
        tracing::info!(camera = %id, "zones, lines or rules changed over the API");
        self.cameras[pos] = cfg.clone();
        Ok(cfg)
    }

    async fn rule_status(&mut self, id: &str) -> Result<Option<RuleStatus>, ControlError> {
        self.position(id).ok_or_else(|| no_camera(id))?;
        match self.pipeline.rules(id) {
            Some(rules) => rules.send(GetRuleStatus).await.map(Some).map_err(|e| ControlError::Pipeline(e.to_string())),
            None => Ok(None),
        }
    }

    fn add_token(&mut self, name: &str, role: Role) -> Result<(TokenInfo, String), ControlError> {
        let secret = tokens::generate();
        let hash = tokens::hash(&secret);
        let info = self.store.add_token(name, role, &hash)?;
        self.tokens.insert(hash, info.id, role);
        tracing::info!(token = info.id, name, role = role.as_str(), "API token created");
        Ok((info, secret))
    }

    fn delete_token(&mut self, id: i64) -> Result<(), ControlError> {
        let all = self.store.tokens()?;
        let Some(token) = all.iter().find(|t| t.id == id) else {
            return Err(ControlError::NotFound(format!("token {id} does not exist; GET /api/tokens lists them")));
        };
        if token.role == Role::Admin && all.iter().filter(|t| t.role == Role::Admin).count() == 1 {
            return Err(ControlError::Conflict(format!(
                "token {id} is the last admin token; create another admin token before deleting it"
            )));
        }
        self.store.delete_token(id)?;
        self.tokens.remove(id);
        tracing::info!(token = id, "API token deleted");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn camera(json: serde_json::Value) -> CameraConfig {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn validation_names_the_bad_field() {
        let labels = vec!["person".to_string(), "car".to_string()];
        let ok = camera(serde_json::json!({
            "id": "gate", "file": "x.mp4",
            "zones": [{ "id": "all", "polygon": [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]] }],
            "rules": [{ "id": "in", "kind": "intrusion", "zone": "all", "classes": ["person"], "enabled": false }],
        }));
        validate_camera(&ok, &labels).unwrap();

        let mut bad_zone = ok.clone();
        bad_zone.zones[0].polygon = vec![[0.0, 0.0], [1.0, 1.0], [1.0, 0.0], [0.0, 1.0]];
        let err = validate_camera(&bad_zone, &labels).unwrap_err();
        assert!(
            matches!(&err, ControlError::Invalid { field, reason } if field == "cameras.gate.zones.all" && reason.contains("crosses itself")),
            "{err}"
        );

        // A disabled rule is still checked: an unknown class is refused rather than stored.
        let mut bad_rule = ok.clone();
        bad_rule.rules[0].classes = vec!["unicorn".into()];
        let err = validate_camera(&bad_rule, &labels).unwrap_err();
        assert!(
            matches!(&err, ControlError::Invalid { field, reason } if field == "cameras.gate.rules.in" && reason.contains("unicorn")),
            "{err}"
        );

        let mut bad_fps = ok;
        bad_fps.detect_fps = -1.0;
        let err = validate_camera(&bad_fps, &labels).unwrap_err();
        assert!(matches!(&err, ControlError::Invalid { field, .. } if field == "cameras.gate.detect_fps"), "{err}");
    }
}
