//! `[server] media_roots`: the directories a file camera may read from. A camera whose file lies elsewhere is
//! refused before anything touches the file system, so the answer never tells whether an outside path exists;
//! a path inside a root that is a link leading out of it is refused too.

use super::{ConfigError, invalid};
use std::path::{Component, Path, PathBuf};

/// The directories file cameras may read from, as configured (relative ones against the working directory,
/// like a camera's relative `file`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MediaRoots {
    roots: Vec<PathBuf>,
}

impl MediaRoots {
    pub fn new(roots: &[PathBuf]) -> Self {
        Self { roots: roots.to_vec() }
    }

    /// Whether camera `camera` may read `file`; the error names the field, the roots and the fix.
    pub fn admit(&self, camera: &str, file: &Path) -> Result<(), ConfigError> {
        let cwd = std::env::current_dir().unwrap_or_default();
        let path = lexical(&cwd.join(file));
        let roots: Vec<(PathBuf, Option<PathBuf>)> = self
            .roots
            .iter()
            .map(|r| {
                let root = lexical(&cwd.join(r));
                let real = root.canonicalize().ok();
                (root, real)
            })
            .collect();
        let inside = |p: &Path| {
            roots.iter().any(|(root, real)| p.starts_with(root) || real.as_ref().is_some_and(|r| p.starts_with(r)))
        };
        let outside = || {
            let listed: Vec<String> = self.roots.iter().map(|r| format!("{:?}", r.display().to_string())).collect();
            invalid(
                format!("cameras.{camera}.file"),
                format!(
                    "`{}` is outside the media roots (`[server] media_roots` = [{}]); move the file under one of them, or add its directory to `[server] media_roots`",
                    file.display(),
                    listed.join(", ")
                ),
            )
        };
        if !inside(&path) {
            return Err(outside());
        }
        // Inside by name; a link may still lead out. A missing file is admitted: the camera reports it.
        match path.canonicalize() {
            Ok(real) if !roots.iter().any(|(_, r)| r.as_ref().is_some_and(|r| real.starts_with(r))) => Err(outside()),
            _ => Ok(()),
        }
    }
}

/// `path` with `.` and `..` resolved by name (no file system access); `..` above the root stays at the root.
fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(roots: &MediaRoots, file: &Path) -> String {
        roots.admit("gate", file).unwrap_err().to_string()
    }

    #[test]
    fn files_under_a_root_are_admitted_and_others_refused_naming_the_setting() {
        let dir = tempfile::tempdir().unwrap();
        let media = dir.path().join("media");
        std::fs::create_dir_all(media.join("sub")).unwrap();
        std::fs::write(media.join("sub/a.mp4"), b"x").unwrap();
        let roots = MediaRoots::new(std::slice::from_ref(&media));
        roots.admit("gate", &media.join("sub/a.mp4")).unwrap();
        roots.admit("gate", &media.join("not-yet-there.mp4")).unwrap();
        let err = refused(&roots, Path::new("/etc/shadow"));
        assert!(err.contains("cameras.gate.file") && err.contains("[server] media_roots"), "{err}");
        assert!(err.contains(&media.display().to_string()), "the roots are listed: {err}");
        // `..` cannot climb out, and a sibling whose name starts like the root is not inside it.
        refused(&roots, &media.join("../../../../etc/passwd"));
        refused(&roots, &dir.path().join("media-other/a.mp4"));
        // An existing and a missing outside file get the same answer: it tells nothing of existence.
        let outside = dir.path().join("outside.mp4");
        let missing = refused(&roots, &outside);
        std::fs::write(&outside, b"x").unwrap();
        assert_eq!(refused(&roots, &outside), missing);
        // No roots: no file camera at all.
        refused(&MediaRoots::default(), &media.join("sub/a.mp4"));
    }

    #[cfg(unix)]
    #[test]
    fn a_link_inside_a_root_that_leads_out_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let media = dir.path().join("media");
        std::fs::create_dir_all(&media).unwrap();
        std::fs::write(dir.path().join("secret"), b"x").unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret"), media.join("clip.mp4")).unwrap();
        let err = refused(&MediaRoots::new(&[media]), &dir.path().join("media/clip.mp4"));
        assert!(err.contains("outside the media roots"), "{err}");
    }

    #[test]
    fn lexical_resolution() {
        assert_eq!(lexical(Path::new("/a/./b/../c")), PathBuf::from("/a/c"));
        assert_eq!(lexical(Path::new("/../../x")), PathBuf::from("/x"));
    }
}
