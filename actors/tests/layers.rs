//! The house in layers: every module may use only modules of its own layer or of layers below it, and the
//! module graph has no cycle. The tables below are the documented ones (`actors/src/lib.rs`,
//! `docs/design/layers.md`); this test reads every `crate::<module>` reference outside comments and test
//! modules, and fails on an edge the table forbids or on a cycle, naming the file.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// `panoptes-actors`, lowest layer first.
const ACTORS: &[(&str, &[&str])] = &[
    ("vocabulary", &["time", "geometry", "metric_names", "media", "messages"]),
    ("settings and boards", &["config", "status"]),
    ("storage and per-frame planning", &["store", "motion", "regions"]),
    ("detection", &["infer", "batcher"]),
    ("tracking, analysis, recording", &["tracker", "rules", "fire", "health", "plates", "record"]),
    ("delivery", &["hub", "alerts"]),
    ("cameras, analytics wiring, placement", &["camera", "analytics", "allocator", "cluster"]),
    ("wiring", &["pipeline"]),
];

/// The `panoptes` binary (above every module of `panoptes-actors`), lowest layer first.
const BINARY: &[(&str, &[&str])] = &[
    (
        "process services",
        &["settings", "telemetry", "metrics", "memory", "peers", "cluster", "webhooks", "mqtt", "evidence"],
    ),
    ("control", &["control"]),
    ("http", &["http"]),
    ("application", &["app"]),
    ("commands", &["cli"]),
];

/// A reference from one module to another, with the file it is in.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Edge {
    from: String,
    to: String,
    file: String,
}

/// Source text without comments and without `#[cfg(test)]` items (test modules may use anything).
fn production_code(source: &str) -> String {
    let mut out = String::new();
    let mut skip_depth: Option<i32> = None;
    let mut depth = 0i32;
    let mut pending_test = false;
    for line in source.lines() {
        let code = line.split("//").next().unwrap_or("");
        let trimmed = code.trim();
        if skip_depth.is_none() && trimmed.starts_with("#[cfg(test)]") {
            pending_test = true;
            continue;
        }
        let opens = code.matches('{').count() as i32;
        let closes = code.matches('}').count() as i32;
        if pending_test && !trimmed.is_empty() && !trimmed.starts_with("#[") {
            pending_test = false;
            if opens > closes {
                skip_depth = Some(depth);
            } else {
                // A one-line test item (`use`, a field): skipped on its own.
                depth += opens - closes;
                continue;
            }
        }
        depth += opens - closes;
        match skip_depth {
            Some(d) if depth <= d => skip_depth = None,
            Some(_) => {}
            None => {
                out.push_str(code);
                out.push('\n');
            }
        }
    }
    out
}

/// The `crate::<module>` references of one file's production code.
fn references(source: &str) -> BTreeSet<String> {
    let code = production_code(source);
    let mut found = BTreeSet::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().last();
        rest = &rest[at + "crate::".len()..];
        // `panoptes_actors::…`-style paths end in `_crate::`; only a bare `crate::` counts.
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        if !name.is_empty() {
            found.insert(name);
        }
    }
    found
}

/// The module a file belongs to: the first component of its path under `src/` (`camera/mod.rs` →
/// `camera`, `hub.rs` → `hub`); `None` for the crate root.
fn module_of(relative: &Path) -> Option<String> {
    let first = relative.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (!matches!(name, "lib" | "main")).then(|| name.to_owned())
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every edge between two modules in `files` (path relative to `src/`, source text).
fn edges(files: &[(PathBuf, String)]) -> Vec<Edge> {
    let mut out = BTreeSet::new();
    for (path, source) in files {
        let Some(from) = module_of(path) else { continue };
        for to in references(source) {
            if to != from {
                out.insert(Edge { from: from.clone(), to, file: path.display().to_string() });
            }
        }
    }
    out.into_iter().collect()
}

/// What is wrong with `edges` against `table` (lowest layer first): modules the table does not place, edges
/// to a higher layer, and cycles.
fn problems(table: &[(&str, &[&str])], modules: &BTreeSet<String>, edges: &[Edge]) -> Vec<String> {
    let layer: BTreeMap<&str, (usize, &str)> =
        table.iter().enumerate().flat_map(|(i, (name, mods))| mods.iter().map(move |m| (*m, (i, *name)))).collect();
    let mut out = Vec::new();
    for m in modules {
        if !layer.contains_key(m.as_str()) {
            out.push(format!(
                "module `{m}` is in no layer: add it to the table in this test and to docs/design/layers.md"
            ));
        }
    }
    for e in edges {
        let (Some(&(from, from_name)), Some(&(to, to_name))) = (layer.get(e.from.as_str()), layer.get(e.to.as_str()))
        else {
            continue;
        };
        if to > from {
            out.push(format!(
                "{}: `{}` ({from_name}) uses `{}` ({to_name}), a higher layer: move the shared type down or publish \
                 through a recipient",
                e.file, e.from, e.to
            ));
        }
    }
    // Cycles, also within a layer: depth-first search for a back edge.
    let mut graph: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for e in edges {
        graph.entry(e.from.as_str()).or_default().insert(e.to.as_str());
    }
    let mut state: BTreeMap<&str, u8> = BTreeMap::new();
    let mut stack: Vec<&str> = Vec::new();
    fn visit<'a>(
        node: &'a str,
        graph: &BTreeMap<&'a str, BTreeSet<&'a str>>,
        state: &mut BTreeMap<&'a str, u8>,
        stack: &mut Vec<&'a str>,
        out: &mut Vec<String>,
    ) {
        state.insert(node, 1);
        stack.push(node);
        for &next in graph.get(node).into_iter().flatten() {
            match state.get(next) {
                Some(1) => {
                    let start = stack.iter().position(|&n| n == next).unwrap_or(0);
                    let mut cycle: Vec<&str> = stack[start..].to_vec();
                    cycle.push(next);
                    out.push(format!("cycle: {}", cycle.join(" -> ")));
                }
                Some(_) => {}
                None => visit(next, graph, state, stack, out),
            }
        }
        stack.pop();
        state.insert(node, 2);
    }
    let nodes: Vec<&str> = graph.keys().copied().collect();
    for node in nodes {
        if !state.contains_key(node) {
            visit(node, &graph, &mut state, &mut stack, &mut out);
        }
    }
    out
}

fn check_tree(src: &Path, table: &[(&str, &[&str])]) -> Vec<String> {
    let mut paths = Vec::new();
    rust_files(src, &mut paths);
    let files: Vec<(PathBuf, String)> = paths
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()));
            (p.strip_prefix(src).unwrap().to_path_buf(), text)
        })
        .collect();
    let modules: BTreeSet<String> = files.iter().filter_map(|(p, _)| module_of(p)).collect();
    problems(table, &modules, &edges(&files))
}

#[test]
fn actors_modules_only_use_their_own_or_lower_layers_and_form_no_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let found = check_tree(&src, ACTORS);
    assert!(found.is_empty(), "panoptes-actors layers:\n{}", found.join("\n"));
}

#[test]
fn binary_modules_only_use_their_own_or_lower_layers_and_form_no_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../src");
    let found = check_tree(&src, BINARY);
    assert!(found.is_empty(), "panoptes layers:\n{}", found.join("\n"));
}

fn file(path: &str, text: &str) -> (PathBuf, String) {
    (PathBuf::from(path), text.to_owned())
}

#[test]
fn the_checker_fails_on_a_back_edge_and_on_a_cycle_and_ignores_comments_and_tests() {
    let table: &[(&str, &[&str])] = &[("low", &["time", "store"]), ("high", &["alerts"])];
    let modules: BTreeSet<String> = ["time", "store", "alerts"].map(String::from).into();
    let clean = [
        file("alerts.rs", "use crate::store::Stored;\n// crate::nothing in a comment\n"),
        file("store/actor.rs", "use crate::time::Pts;\n#[cfg(test)]\nmod tests {\n    use crate::alerts::Hub;\n}\n"),
        file("time/mod.rs", "pub struct Pts;\n"),
    ];
    assert_eq!(problems(table, &modules, &edges(&clean)), Vec::<String>::new());

    // The store announcing to the alert hub by naming it: a back edge, and with alerts → store a cycle.
    let mut back = clean.to_vec();
    back.push(file("store/writer.rs", "use crate::alerts::AlertHub;\nfn f() {}\n"));
    let found = problems(table, &modules, &edges(&back));
    assert!(found.iter().any(|p| p.starts_with("store/writer.rs: `store` (low) uses `alerts` (high)")), "{found:?}");
    assert!(found.iter().any(|p| p.starts_with("cycle: ")), "{found:?}");

    // A cycle inside one layer.
    let same = [file("time/mod.rs", "use crate::store::X;\n"), file("store/mod.rs", "use crate::time::Pts;\n")];
    let found = problems(table, &modules, &edges(&same));
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].starts_with("cycle: "), "{found:?}");

    // A module the table does not know.
    let unknown: BTreeSet<String> = ["time", "store", "alerts", "extra"].map(String::from).into();
    let found = problems(table, &unknown, &edges(&clean));
    assert!(found.iter().any(|p| p.contains("module `extra` is in no layer")), "{found:?}");
}

#[test]
fn test_items_are_cut_whole_and_code_after_them_is_kept() {
    let source = "use crate::a::X;\n#[cfg(test)]\nuse crate::b::Y;\n#[cfg(test)]\nmod tests {\n    fn f() { let _ = crate::c::Z; }\n}\nuse crate::d::W;\n";
    let found: Vec<String> = references(source).into_iter().collect();
    assert_eq!(found, vec!["a".to_owned(), "d".to_owned()]);
}
