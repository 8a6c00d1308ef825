//! The control loop: the one owner of the running [`Pipeline`] and of the [`AdminStore`], reached by the HTTP
//! handlers through a [`ControlHandle`]. It runs on the actix system's arbiter (where the pipeline's actors
//! live) and takes one command at a time, so changes never interleave.
//!
//! Every change is validated fully, written in one store transaction, applied to the pipeline, and only then
//! committed: a change the pipeline refuses is rolled back, and nothing is half-stored.
//!
//! In cluster mode the cameras are the cluster's ([`DesiredCameras`]): a change is validated and written
//! there (compare-and-set), not applied here; the node the leader places the camera on applies it when its
//! share of the plan arrives ([`ControlHandle::assign`]). The local store keeps events, recordings and tokens.

use crate::cluster::desired::{DesiredCameras, DesiredError};
use crate::cluster::tokens::{ClusterTokens, TokenError};
use crate::cluster::units::UnitLink;
use panoptes_actors::cluster::leader::Part;
use panoptes_actors::config::media_roots::MediaRoots;
use panoptes_actors::config::{CameraConfig, ConfigError, Source};
use panoptes_actors::pipeline::{CameraRole, Pipeline, PipelineError};
use panoptes_actors::rules::spec::{self, RulesConfig};
use panoptes_actors::rules::{GetRuleStatus, RuleStatus, UpdateRules};
use panoptes_actors::store::StoreError;
use panoptes_actors::store::admin::AdminStore;
use panoptes_actors::store::tokens::TokenCache;
use panoptes_actors::store::tokens::{self, Access, TokenInfo};
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
    /// The cluster's camera bucket cannot be reached.
    #[error("{0}")]
    Cluster(String),
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

impl From<TokenError> for ControlError {
    fn from(e: TokenError) -> Self {
        match e {
            e @ TokenError::Missing(_) => ControlError::NotFound(e.to_string()),
            e @ TokenError::LastAdmin(_) => ControlError::Conflict(e.to_string()),
            e @ TokenError::Nats(_) => ControlError::Cluster(e.to_string()),
        }
    }
}

impl From<DesiredError> for ControlError {
    fn from(e: DesiredError) -> Self {
        match e {
            DesiredError::Exists(id) => {
                ControlError::Conflict(format!("camera `{id}` already exists; PUT /api/cameras/{id} changes it"))
            }
            DesiredError::Missing(id) => no_camera(&id),
            e @ DesiredError::Changed(_) => ControlError::Conflict(e.to_string()),
            e @ DesiredError::Nats(_) => ControlError::Cluster(e.to_string()),
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
    AddToken(String, Access, Reply<(TokenInfo, String)>),
    DeleteToken(i64, Reply<()>),
    Acknowledge(i64, Reply<bool>),
    Assign(Vec<(CameraConfig, Part)>, Reply<()>),
    Joined(Box<InCluster>, Reply<()>),
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
    pub async fn add_token(&self, name: String, access: Access) -> Result<(TokenInfo, String), ControlError> {
        self.call(|r| Command::AddToken(name, access, r)).await
    }
    pub async fn delete_token(&self, id: i64) -> Result<(), ControlError> {
        self.call(|r| Command::DeleteToken(id, r)).await
    }
    /// Mark an event acknowledged; false when it does not exist.
    pub async fn acknowledge(&self, id: i64) -> Result<bool, ControlError> {
        self.call(|r| Command::Acknowledge(id, r)).await
    }
    /// Cluster mode: run exactly these cameras, each the part given, here (this node's share of the plan);
    /// the others stop.
    pub async fn assign(&self, cameras: Vec<(CameraConfig, Part)>) -> Result<(), ControlError> {
        self.call(|r| Command::Assign(cameras, r)).await
    }
    /// Cluster mode: the node has joined the cluster late (its NATS server was unreachable at start); camera
    /// changes now go to the cluster.
    pub async fn joined(&self, cluster: InCluster) -> Result<(), ControlError> {
        self.call(|r| Command::Joined(Box::new(cluster), r)).await
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
    /// Every stored camera (enabled or not), in store order; in cluster mode, the cameras running here.
    cameras: Vec<CameraConfig>,
    tokens: TokenCache,
    /// Cluster mode: where the cameras live, and the part of each placed camera this node runs.
    cluster: ClusterLink,
    placed: Vec<(CameraConfig, Part)>,
}

/// Whether this node is in a cluster.
pub enum ClusterLink {
    /// No `[cluster]`: the cameras are in the local store.
    Alone,
    /// `[cluster]`, but the NATS server has not been reached yet: camera changes wait (503).
    Waiting,
    Joined(Box<InCluster>),
}

/// What the control loop uses in cluster mode.
pub struct InCluster {
    /// The cluster's cameras.
    pub desired: DesiredCameras,
    /// The cluster's API tokens.
    pub tokens: ClusterTokens,
    /// Runs halves of cameras (video from or to another node).
    pub units: UnitLink,
}

/// Check a camera fully before it is stored: its id, its own fields, its zones' and lines' geometry, and
/// every rule (as if enabled) against the zones, lines and the model's `labels`, and a file camera's file
/// against the media roots. Errors name the field.
pub fn validate_camera(cfg: &CameraConfig, labels: &[String], media_roots: &MediaRoots) -> Result<(), ControlError> {
    cfg.validate()?;
    if let Source::File { path, .. } = &cfg.source {
        media_roots.admit(&cfg.id, path)?;
    }
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
    /// In cluster mode the pipeline starts empty and runs what [`ControlHandle::assign`] says.
    pub fn spawn(
        pipeline: Pipeline,
        store: AdminStore,
        cameras: Vec<CameraConfig>,
        tokens: TokenCache,
        cluster: ClusterLink,
    ) -> ControlHandle {
        let (tx, mut rx) = mpsc::channel(64);
        let mut control = Control { pipeline, store, cameras, tokens, cluster, placed: vec![] };
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
                let all = self.in_cluster().map(|d| d.map_or_else(|| self.cameras.clone(), DesiredCameras::list));
                let _ = r.send(all);
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
                let all = match &self.cluster {
                    ClusterLink::Joined(c) => Ok(c.tokens.list()),
                    _ => self.store.tokens().map_err(Into::into),
                };
                let _ = r.send(all);
            }
            Command::AddToken(name, access, r) => {
                let _ = r.send(self.add_token(&name, &access).await);
            }
            Command::DeleteToken(id, r) => {
                let _ = r.send(self.delete_token(id).await);
            }
            Command::Acknowledge(id, r) => {
                let _ = r.send(self.store.acknowledge_event(id).map_err(Into::into));
            }
            Command::Assign(cameras, r) => {
                self.assign(cameras).await;
                let _ = r.send(Ok(()));
            }
            Command::Joined(cluster, r) => {
                self.cluster = ClusterLink::Joined(cluster);
                let _ = r.send(Ok(()));
            }
            Command::Shutdown(r) => {
                self.pipeline.shutdown().await;
                let _ = r.send(Ok(()));
                return true;
            }
        }
        false
    }

    /// The cluster's cameras in cluster mode, `None` alone; an error while the cluster is out of reach.
    fn in_cluster(&self) -> Result<Option<&DesiredCameras>, ControlError> {
        match &self.cluster {
            ClusterLink::Alone => Ok(None),
            ClusterLink::Waiting => Err(ControlError::Cluster(
                "this node has not reached its cluster's NATS server yet ([cluster] nats_url; GET /api/cluster \
                 says why); the cameras are the cluster's: retry once it has joined"
                    .into(),
            )),
            ClusterLink::Joined(c) => Ok(Some(&c.desired)),
        }
    }

    fn position(&self, id: &str) -> Option<usize> {
        self.cameras.iter().position(|c| c.id == id)
    }

    async fn add_camera(&mut self, cfg: CameraConfig) -> Result<CameraConfig, ControlError> {
        if let Some(desired) = self.in_cluster()? {
            validate_camera(&cfg, self.pipeline.labels(), self.pipeline.media_roots())?;
            desired.create(&cfg).await?;
            tracing::info!(camera = %cfg.id, "camera added to the cluster over the API");
            return Ok(cfg);
        }
        if self.position(&cfg.id).is_some() {
            return Err(ControlError::Conflict(format!(
                "camera `{}` already exists; PUT /api/cameras/{} changes it",
                cfg.id, cfg.id
            )));
        }
        validate_camera(&cfg, self.pipeline.labels(), self.pipeline.media_roots())?;
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
        if let Some(desired) = self.in_cluster()? {
            let (old, revision) = desired.get(&cfg.id).await?;
            let cfg = keep_password(cfg, &old);
            validate_camera(&cfg, self.pipeline.labels(), self.pipeline.media_roots())?;
            desired.update(&cfg, revision).await?;
            tracing::info!(camera = %cfg.id, "camera replaced in the cluster over the API");
            return Ok(cfg);
        }
        let pos = self.position(&cfg.id).ok_or_else(|| no_camera(&cfg.id))?;
        let old = self.cameras[pos].clone();
        let cfg = keep_password(cfg, &old);
        validate_camera(&cfg, self.pipeline.labels(), self.pipeline.media_roots())?;
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
        if let Some(desired) = self.in_cluster()? {
            let (_, revision) = desired.get(id).await?;
            desired.delete(id, revision).await?;
            tracing::info!(camera = %id, "camera removed from the cluster over the API");
            return Ok(());
        }
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
        if let Some(desired) = self.in_cluster()? {
            let (mut cfg, revision) = desired.get(id).await?;
            edit(&mut cfg)?;
            validate_camera(&cfg, self.pipeline.labels(), self.pipeline.media_roots())?;
            desired.update(&cfg, revision).await?;
            tracing::info!(camera = %id, "zones, lines or rules changed in the cluster over the API");
            return Ok(cfg);
        }
        let pos = self.position(id).ok_or_else(|| no_camera(id))?;
        let mut cfg = self.cameras[pos].clone();
        edit(&mut cfg)?;
        validate_camera(&cfg, self.pipeline.labels(), self.pipeline.media_roots())?;
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
        if self.position(id).is_none() {
            return Err(match self.in_cluster()? {
                Some(_) => ControlError::Conflict(format!(
                    "camera `{id}` does not run on this node; GET /api/cluster says which node runs it"
                )),
                None => no_camera(id),
            });
        }
        match self.pipeline.rules(id) {
            Some(rules) => rules.send(GetRuleStatus).await.map(Some).map_err(|e| ControlError::Pipeline(e.to_string())),
            None => Ok(None),
        }
    }

    /// Run exactly `wanted` here, each camera the part given: cameras no longer wanted (or changed, or now
    /// another part) stop, new ones start. A camera that fails to start is logged and left out (its node
    /// record then does not list it).
    async fn assign(&mut self, wanted: Vec<(CameraConfig, Part)>) {
        let ClusterLink::Joined(cluster) = &self.cluster else { return };
        let units = cluster.units.clone();
        let running = std::mem::take(&mut self.placed);
        for old in &running {
            if !wanted.contains(old)
                && let Err(e) = self.pipeline.remove_camera(&old.0.id).await
            {
                tracing::warn!(camera = %old.0.id, error = %e, "stopping a camera placed elsewhere");
            }
        }
        for (cfg, part) in wanted {
            if running.iter().any(|(c, p)| *c == cfg && *p == part) {
                self.placed.push((cfg, part));
                continue;
            }
            let role = match part {
                Part::Whole => CameraRole::Whole,
                Part::Infer => CameraRole::Infer { opener: units.opener() },
                Part::Ingest => match units.publisher(&cfg.id) {
                    Ok(forward) => CameraRole::Ingest { forward },
                    Err(e) => {
                        tracing::error!(camera = %cfg.id, error = %e, "cannot start the thread that publishes the camera's video");
                        continue;
                    }
                },
            };
            match self.pipeline.add_camera_as(cfg.clone(), role).await {
                Ok(()) => {
                    tracing::info!(camera = %cfg.id, part = ?part, "camera placed on this node: started");
                    self.placed.push((cfg, part));
                }
                Err(e) => tracing::error!(camera = %cfg.id, error = %e, "cannot start a camera placed on this node"),
            }
        }
        self.cameras = self.placed.iter().map(|(c, _)| c.clone()).collect();
    }

    async fn add_token(&mut self, name: &str, access: &Access) -> Result<(TokenInfo, String), ControlError> {
        let secret = tokens::generate();
        let hash = tokens::hash(&secret);
        let (role, cameras) = (access.role.as_str(), access.cameras.as_ref().map(|c| c.join(",")));
        if let ClusterLink::Joined(c) = &self.cluster {
            let info = c.tokens.add(name, access, &hash).await?;
            tracing::info!(token = info.id, name, role, ?cameras, "API token created in the cluster");
            return Ok((info, secret));
        }
        let info = self.store.add_token(name, access, &hash)?;
        self.tokens.insert(hash, &info);
        tracing::info!(token = info.id, name, role, ?cameras, "API token created");
        Ok((info, secret))
    }

    async fn delete_token(&mut self, id: i64) -> Result<(), ControlError> {
        if let ClusterLink::Joined(c) = &self.cluster {
            c.tokens.delete(id).await?;
            tracing::info!(token = id, "API token deleted from the cluster");
            return Ok(());
        }
        let all = self.store.tokens()?;
        let Some(token) = all.iter().find(|t| t.id == id) else {
            return Err(ControlError::NotFound(format!("token {id} does not exist; GET /api/tokens lists them")));
        };
        if token.access.is_full_admin() && all.iter().filter(|t| t.access.is_full_admin()).count() == 1 {
            return Err(ControlError::Conflict(format!(
                "token {id} is the last admin token for every camera; create another before deleting it"
            )));
        }
        self.store.delete_token(id)?;
        self.tokens.remove(id);
        tracing::info!(token = id, "API token deleted");
        Ok(())
    }
}

/// The API never shows a stored password, so a PUT of what GET returned (same user, no password) keeps it.
fn keep_password(mut cfg: CameraConfig, old: &CameraConfig) -> CameraConfig {
    if cfg.password.is_none() && cfg.password_env.is_none() && cfg.username == old.username {
        cfg.password = old.password.clone();
    }
    cfg
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
        let roots = MediaRoots::new(&[".".into()]);
        validate_camera(&ok, &labels, &roots).unwrap();
        let err = validate_camera(&ok, &labels, &MediaRoots::default()).unwrap_err();
        assert!(matches!(&err, ControlError::Invalid { field, .. } if field == "cameras.gate.file"), "{err}");

        let mut bad_zone = ok.clone();
        bad_zone.zones[0].polygon = vec![[0.0, 0.0], [1.0, 1.0], [1.0, 0.0], [0.0, 1.0]];
        let err = validate_camera(&bad_zone, &labels, &roots).unwrap_err();
        assert!(
            matches!(&err, ControlError::Invalid { field, reason } if field == "cameras.gate.zones.all" && reason.contains("crosses itself")),
            "{err}"
        );

        // A disabled rule is still checked: an unknown class is refused rather than stored.
        let mut bad_rule = ok.clone();
        bad_rule.rules[0].classes = vec!["unicorn".into()];
        let err = validate_camera(&bad_rule, &labels, &roots).unwrap_err();
        assert!(
            matches!(&err, ControlError::Invalid { field, reason } if field == "cameras.gate.rules.in" && reason.contains("unicorn")),
            "{err}"
        );

        let mut bad_fps = ok;
        bad_fps.detect_fps = -1.0;
        let err = validate_camera(&bad_fps, &labels, &roots).unwrap_err();
        assert!(matches!(&err, ControlError::Invalid { field, .. } if field == "cameras.gate.detect_fps"), "{err}");
    }
}
