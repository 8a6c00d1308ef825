//! `/api/openapi.json` documents every route the server registers: the route table in src/http/mod.rs is
//! read independently here, and every row must appear with its method.

mod common;

use common::{Server, config_with_cameras, root};

#[actix_web::test]
async fn the_openapi_document_covers_every_route() {
    let server = Server::start(&config_with_cameras(""));
    let (status, doc) = server.get_json("/api/openapi.json").await;
    assert_eq!(status, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."), "{doc}");
    let source = std::fs::read_to_string(root().join("src/http/mod.rs")).unwrap();
    let table = &source[source.find("route_table! {").expect("the route table")..];
    let mut rows = 0;
    for line in table.lines().skip(1).take_while(|l| !l.starts_with('}')) {
        let line = line.trim();
        let Some((method, rest)) = line.split_once(' ') else { continue };
        let Some(path) = rest.strip_prefix('"').and_then(|r| r.split('"').next()) else { continue };
        rows += 1;
        let op = &doc["paths"][path][method.to_ascii_lowercase()];
        assert!(op.is_object(), "{method} {path} is registered but missing from /api/openapi.json");
    }
    assert!(rows >= 25, "read {rows} routes from the table");
    let served: usize = doc["paths"].as_object().unwrap().values().map(|p| p.as_object().unwrap().len()).sum();
    assert_eq!(served, rows, "the document has no route the table lacks");
}
