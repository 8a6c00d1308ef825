//! Finding and loading the ONNX Runtime shared library, once per process.
//!
//! `ort` is built with `load-dynamic`: the library is opened at run time, and `ort` panics when it is
//! missing. [`init`] looks for it first, in this order, and returns [`InferError::RuntimeMissing`]
//! listing every place it looked:
//! 1. the configured path (`runtime.onnxruntime_library`);
//! 2. the `ORT_DYLIB_PATH` environment variable;
//! 3. the project's venv: `.venv/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so*` under the
//!    current directory and its ancestors, then under the executable's ancestors (so `target/debug/panoptes`
//!    finds the repository's `.venv` from any directory).
//!
//! A configured path or `ORT_DYLIB_PATH` is taken as the operator's choice: when it is missing, the search
//! stops there with an error instead of silently loading another library.

use super::InferError;
use ort::environment::Environment;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// The loaded library and the process-wide ONNX Runtime environment that sessions are created in.
pub struct Runtime {
    environment: Environment,
    library: PathBuf,
}

impl Runtime {
    pub fn environment(&self) -> &Environment {
        &self.environment
    }

    /// The library file that was loaded.
    pub fn library(&self) -> &Path {
        &self.library
    }
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime").field("library", &self.library).finish_non_exhaustive()
    }
}

static RUNTIME: OnceLock<Runtime> = OnceLock::new();
static INIT: Mutex<()> = Mutex::new(());

/// Load ONNX Runtime (first call) or return the already loaded one. `explicit` is the configured library
/// path; once a library is loaded, later calls return it whatever they pass (a different path is logged).
/// A failed attempt loads nothing, so a later call may try again.
pub fn init(explicit: Option<&Path>) -> Result<&'static Runtime, InferError> {
    if let Some(rt) = RUNTIME.get() {
        warn_if_other(rt, explicit);
        return Ok(rt);
    }
    let _guard = INIT.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(rt) = RUNTIME.get() {
        warn_if_other(rt, explicit);
        return Ok(rt);
    }
    let library = locate(&SearchContext::from_process(explicit))?;
    let environment = load(&library)?;
    tracing::debug!(library = %library.display(), "ONNX Runtime loaded");
    Ok(RUNTIME.get_or_init(|| Runtime { environment, library }))
}

fn warn_if_other(rt: &Runtime, explicit: Option<&Path>) {
    if let Some(p) = explicit
        && p != rt.library
    {
        tracing::warn!(
            requested = %p.display(),
            loaded = %rt.library.display(),
            "ONNX Runtime is already loaded in this process; keeping the loaded library"
        );
    }
}

/// Open the library and build the environment, turning `ort`'s errors (and any panic inside it) into
/// [`InferError::RuntimeLoad`].
fn load(library: &Path) -> Result<Environment, InferError> {
    let err = |reason: String| InferError::RuntimeLoad { path: library.to_path_buf(), reason };
    let attempt = std::panic::catch_unwind(|| -> Result<Environment, String> {
        let builder = ort::init_from(library).map_err(|e| e.to_string())?;
        builder.with_name("panoptes").with_telemetry(false).build().map_err(|e| e.to_string())
    });
    match attempt {
        Ok(Ok(env)) => Ok(env),
        Ok(Err(reason)) => Err(err(reason)),
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_else(|| "panic while loading".into());
            Err(err(msg))
        }
    }
}

/// What the search looks at, captured from the process (or given by tests).
#[derive(Clone, Debug, Default)]
pub struct SearchContext {
    /// `runtime.onnxruntime_library`.
    pub explicit: Option<PathBuf>,
    /// `ORT_DYLIB_PATH`, when set and not empty.
    pub env_path: Option<PathBuf>,
    pub current_dir: Option<PathBuf>,
    pub executable: Option<PathBuf>,
}

impl SearchContext {
    pub fn from_process(explicit: Option<&Path>) -> Self {
        Self {
            explicit: explicit.map(Path::to_path_buf),
            env_path: std::env::var_os("ORT_DYLIB_PATH").filter(|v| !v.is_empty()).map(PathBuf::from),
            current_dir: std::env::current_dir().ok(),
            executable: std::env::current_exe().ok(),
        }
    }
}

/// Find the library file without loading it; see the module docs for the order.
pub fn locate(ctx: &SearchContext) -> Result<PathBuf, InferError> {
    let missing = |what: String| InferError::RuntimeMissing { looked: what };
    if let Some(p) = &ctx.explicit {
        return if p.is_file() {
            Ok(p.clone())
        } else {
            Err(missing(format!("runtime.onnxruntime_library = {} (no such file)", p.display())))
        };
    }
    if let Some(p) = &ctx.env_path {
        return if p.is_file() {
            Ok(p.clone())
        } else {
            Err(missing(format!("ORT_DYLIB_PATH = {} (no such file)", p.display())))
        };
    }
    let mut looked = vec!["runtime.onnxruntime_library (not set)".to_owned(), "ORT_DYLIB_PATH (not set)".to_owned()];
    let mut bases: Vec<&Path> = Vec::new();
    let cwd_ancestors = ctx.current_dir.iter().flat_map(|d| d.ancestors());
    let exe_ancestors = ctx.executable.iter().flat_map(|e| e.ancestors().skip(1));
    for base in cwd_ancestors.chain(exe_ancestors) {
        if !bases.contains(&base) {
            bases.push(base);
        }
    }
    for base in bases {
        if let Some(found) = venv_library(base) {
            return Ok(found);
        }
        looked.push(format!("{}/.venv/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so*", base.display()));
    }
    Err(missing(looked.join(", ")))
}

/// `base/.venv/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so*`: the newest Python
/// directory, then the most specific library name (`libonnxruntime.so.1.31.1` over `libonnxruntime.so`).
fn venv_library(base: &Path) -> Option<PathBuf> {
    let lib = base.join(".venv").join("lib");
    let mut pythons = sorted_entries(&lib, |n| n.starts_with("python3"));
    pythons.reverse();
    pythons.into_iter().find_map(|py| {
        let capi = lib.join(py).join("site-packages").join("onnxruntime").join("capi");
        let libs = sorted_entries(&capi, |n| n == "libonnxruntime.so" || n.starts_with("libonnxruntime.so."));
        libs.into_iter().rev().map(|n| capi.join(n)).find(|p| p.is_file())
    })
}

/// Names in `dir` accepted by `keep`, sorted (an unreadable directory has none).
fn sorted_entries(dir: &Path, keep: impl Fn(&str) -> bool) -> Vec<OsString> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut names: Vec<OsString> =
        entries.filter_map(Result::ok).map(|e| e.file_name()).filter(|n| n.to_str().is_some_and(&keep)).collect();
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A fresh empty directory under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new() -> Self {
            static N: AtomicUsize = AtomicUsize::new(0);
            let n = N.fetch_add(1, Ordering::Relaxed);
            let p = std::env::temp_dir().join(format!("panoptes-runtime-test-{}-{n}", std::process::id()));
            let _ = std::fs::remove_dir_all(&p);
            std::fs::create_dir_all(&p).unwrap();
            Self(p)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn touch(p: &Path) -> PathBuf {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, b"not really a library").unwrap();
        p.to_path_buf()
    }

    fn venv_lib(base: &Path, python: &str, name: &str) -> PathBuf {
        touch(&base.join(".venv/lib").join(python).join("site-packages/onnxruntime/capi").join(name))
    }

    #[test]
    fn explicit_path_wins_over_everything() {
        let t = TempDir::new();
        let explicit = touch(&t.0.join("custom/libonnxruntime.so"));
        let env = touch(&t.0.join("env/libonnxruntime.so"));
        venv_lib(&t.0, "python3.11", "libonnxruntime.so.1.31.1");
        let ctx = SearchContext {
            explicit: Some(explicit.clone()),
            env_path: Some(env),
            current_dir: Some(t.0.clone()),
            executable: None,
        };
        assert_eq!(locate(&ctx).unwrap(), explicit);
    }

    #[test]
    fn env_var_wins_over_the_venv() {
        let t = TempDir::new();
        let env = touch(&t.0.join("env/libonnxruntime.so"));
        venv_lib(&t.0, "python3.11", "libonnxruntime.so.1.31.1");
        let ctx = SearchContext { env_path: Some(env.clone()), current_dir: Some(t.0.clone()), ..Default::default() };
        assert_eq!(locate(&ctx).unwrap(), env);
    }

    #[test]
    fn a_missing_explicit_or_env_path_is_an_error_naming_it() {
        let t = TempDir::new();
        venv_lib(&t.0, "python3.11", "libonnxruntime.so.1.31.1");
        let gone = t.0.join("nope.so");
        let ctx = SearchContext { explicit: Some(gone.clone()), current_dir: Some(t.0.clone()), ..Default::default() };
        let err = locate(&ctx).unwrap_err().to_string();
        assert!(err.contains("runtime.onnxruntime_library") && err.contains(&*gone.to_string_lossy()), "{err}");
        let ctx = SearchContext { env_path: Some(gone.clone()), current_dir: Some(t.0.clone()), ..Default::default() };
        let err = locate(&ctx).unwrap_err().to_string();
        assert!(err.contains("ORT_DYLIB_PATH") && err.contains("nope.so"), "{err}");
    }

    #[test]
    fn venv_in_current_dir_ancestors_then_executable_ancestors() {
        let t = TempDir::new();
        let repo = t.0.join("repo");
        let other = t.0.join("elsewhere/deep");
        std::fs::create_dir_all(repo.join("actors")).unwrap();
        std::fs::create_dir_all(&other).unwrap();
        let in_repo = venv_lib(&repo, "python3.11", "libonnxruntime.so.1.31.1");
        let exe = repo.join("target/debug/panoptes");
        // From a sub-directory of the repository: found through the current directory's ancestors.
        let ctx = SearchContext { current_dir: Some(repo.join("actors")), ..Default::default() };
        assert_eq!(locate(&ctx).unwrap(), in_repo);
        // From an unrelated directory: found through the executable's ancestors.
        let ctx =
            SearchContext { current_dir: Some(other.clone()), executable: Some(exe.clone()), ..Default::default() };
        assert_eq!(locate(&ctx).unwrap(), in_repo);
        // A venv next to the current directory comes before the executable's.
        let near = venv_lib(&other, "python3.12", "libonnxruntime.so");
        let ctx = SearchContext { current_dir: Some(other), executable: Some(exe), ..Default::default() };
        assert_eq!(locate(&ctx).unwrap(), near);
    }

    #[test]
    fn picks_the_versioned_library_and_ignores_provider_libraries() {
        let t = TempDir::new();
        venv_lib(&t.0, "python3.11", "libonnxruntime_providers_shared.so");
        let err = locate(&SearchContext { current_dir: Some(t.0.clone()), ..Default::default() }).unwrap_err();
        assert!(matches!(err, InferError::RuntimeMissing { .. }));
        venv_lib(&t.0, "python3.11", "libonnxruntime.so");
        let versioned = venv_lib(&t.0, "python3.11", "libonnxruntime.so.1.31.1");
        assert_eq!(locate(&SearchContext { current_dir: Some(t.0.clone()), ..Default::default() }).unwrap(), versioned);
    }

    #[test]
    fn nothing_found_lists_every_place() {
        let t = TempDir::new();
        let cwd = t.0.join("a/b");
        std::fs::create_dir_all(&cwd).unwrap();
        let err = locate(&SearchContext { current_dir: Some(cwd.clone()), ..Default::default() }).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("ORT_DYLIB_PATH (not set)"), "{msg}");
        assert!(msg.contains(&format!("{}/.venv/lib/python3*", cwd.display())), "{msg}");
        assert!(msg.contains(&format!("{}/.venv/lib/python3*", t.0.join("a").display())), "{msg}");
        assert!(msg.contains("make setup"), "{msg}");
    }

    #[test]
    fn loading_a_file_that_is_not_a_library_is_an_error_not_a_panic() {
        let t = TempDir::new();
        let fake = touch(&t.0.join("libonnxruntime.so"));
        // Hold the init lock so that no other test loads the real library half-way through this one; once one
        // is loaded, `ort` keeps it and refuses a second environment, which is an error too.
        let _guard = INIT.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let err = load(&fake).unwrap_err();
        assert!(matches!(&err, InferError::RuntimeLoad { path, .. } if path == &fake), "{err}");
    }
}
