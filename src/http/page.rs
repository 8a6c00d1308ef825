//! The web console (embedded in the binary, no build step): `GET /` serves its page and
//! `GET /console/{file}` its stylesheet and ES modules, all from `src/http/console/`. Public (no token): the
//! page asks for the token and sends it with every API call. What the console does is in the modules'
//! own headers (`app.js` is the entry point); `docs/api.md` lists the asset routes.

use super::ApiError;
use actix_web::{HttpResponse, web};

const INDEX_HTML: &str = include_str!("console/index.html");

const JS: &str = "text/javascript; charset=utf-8";

/// `(file name, content type, content)`: every file the page loads. The unit tests (`*.test.js`) stay out.
const ASSETS: &[(&str, &str, &str)] = &[
    ("style.css", "text/css; charset=utf-8", include_str!("console/style.css")),
    ("app.js", JS, include_str!("console/app.js")),
    ("cluster.js", JS, include_str!("console/cluster.js")),
    ("webhooks.js", JS, include_str!("console/webhooks.js")),
    ("api.js", JS, include_str!("console/api.js")),
    ("overlay.js", JS, include_str!("console/overlay.js")),
    ("frames.js", JS, include_str!("console/frames.js")),
    ("draw.js", JS, include_str!("console/draw.js")),
    ("tile.js", JS, include_str!("console/tile.js")),
    ("live.js", JS, include_str!("console/live.js")),
    ("livepolicy.js", JS, include_str!("console/livepolicy.js")),
    ("jpeg.js", JS, include_str!("console/jpeg.js")),
    ("alerts.js", JS, include_str!("console/alerts.js")),
    ("viewer.js", JS, include_str!("console/viewer.js")),
    ("zones.js", JS, include_str!("console/zones.js")),
    ("geometry.js", JS, include_str!("console/geometry.js")),
    ("cameras.js", JS, include_str!("console/cameras.js")),
];

/// Browsers revalidate every time (`no-cache`): the assets change with the binary, not with a file name.
const CACHE_CONTROL: (&str, &str) = ("Cache-Control", "no-cache");

pub async fn index() -> HttpResponse {
    HttpResponse::Ok().content_type("text/html; charset=utf-8").insert_header(CACHE_CONTROL).body(INDEX_HTML)
}

/// `GET /console/{file}`: one embedded asset; 404 naming the file for anything else.
pub async fn asset(file: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let (_, content_type, body) = lookup(&file).ok_or_else(|| {
        ApiError::NotFound(format!("console asset `{file}` does not exist; the page loads its assets from `/`"))
    })?;
    Ok(HttpResponse::Ok().content_type(*content_type).insert_header(CACHE_CONTROL).body(*body))
}

fn lookup(file: &str) -> Option<&'static (&'static str, &'static str, &'static str)> {
    ASSETS.iter().find(|(name, _, _)| *name == file)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every module the page and the modules import is served (a missing one breaks the page silently).
    #[test]
    fn every_imported_module_is_embedded() {
        let mut sources = vec![INDEX_HTML];
        sources.extend(ASSETS.iter().map(|(_, _, body)| *body));
        for source in sources {
            for quoted in source.split(['"', '\'']).filter(|s| s.starts_with("./") || s.starts_with("/console/")) {
                let name = quoted.trim_start_matches("./").trim_start_matches("/console/");
                assert!(lookup(name).is_some(), "`{quoted}` is loaded by the console but not in ASSETS");
            }
        }
    }

    /// And every file in the console folder except the unit tests is in the table (so a new module is not forgotten).
    #[test]
    fn every_console_file_is_listed() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http/console");
        for entry in std::fs::read_dir(&dir).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            if name == "index.html" || name.ends_with(".test.js") {
                continue;
            }
            assert!(lookup(&name).is_some(), "{name} is in {} but not served: add it to ASSETS", dir.display());
        }
    }
}
