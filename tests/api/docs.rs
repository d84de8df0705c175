//! The docs stand alone and keep up with the server: every relative link in the repository's
//! Markdown resolves inside it, and `docs/API.md` lists every route the OpenAPI document has,
//! and only routes that are served.
//!
//! A route in `docs/API.md` is a Markdown bullet that starts with its method and full path in
//! backticks: ``- `GET /api/v1/tasks/{id}` — …``. Adding a route to the server means adding
//! such a bullet to the section of its domain. Routes the server has outside the OpenAPI
//! document (the document itself, its viewer, the console's files) are listed in
//! [`NOT_IN_OPENAPI`].

use std::{
    collections::BTreeSet,
    fs,
    path::{Path, PathBuf},
};

use serde_json::Value;

/// Served, documented in `docs/API.md`, but not part of the OpenAPI document.
const NOT_IN_OPENAPI: &[(&str, &str)] = &[
    ("GET", "/"),
    ("GET", "/assets/{*path}"),
    ("GET", "/docs"),
    ("GET", "/api/v1/openapi.json"),
];

const METHODS: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

/// `(METHOD, path)` of every route bullet in a Markdown text.
fn documented_routes(markdown: &str) -> Vec<(String, String)> {
    let mut routes = Vec::new();
    for line in markdown.lines() {
        let Some(rest) = line.trim_start().strip_prefix("- `") else {
            continue;
        };
        let Some((route, _)) = rest.split_once('`') else {
            continue;
        };
        let Some((method, path)) = route.split_once(' ') else {
            continue;
        };
        if METHODS.contains(&method) && path.starts_with('/') && !path.contains(' ') {
            routes.push((method.to_string(), path.to_string()));
        }
    }
    routes
}

fn openapi_routes() -> BTreeSet<(String, String)> {
    let (_, doc) = cadence::app::api_router().split_for_parts();
    let doc = serde_json::to_value(&doc).unwrap();
    let mut routes = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in METHODS {
            if item
                .get(method.to_lowercase())
                .is_some_and(Value::is_object)
            {
                routes.insert((method.to_string(), path.clone()));
            }
        }
    }
    routes
}

#[test]
fn api_md_lists_every_route() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/API.md");
    let text = std::fs::read_to_string(path).expect("docs/API.md exists");
    let listed = documented_routes(&text);
    let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
    let duplicates: Vec<_> = listed
        .iter()
        .filter(|r| !seen.insert((*r).clone()))
        .collect();
    assert!(
        duplicates.is_empty(),
        "listed twice in docs/API.md: {duplicates:?}"
    );

    let served = openapi_routes();
    assert!(served.len() > 50, "OpenAPI routes found: {}", served.len());
    let extra: BTreeSet<(String, String)> = NOT_IN_OPENAPI
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    for route in &extra {
        assert!(
            !served.contains(route),
            "{route:?} is in the OpenAPI document now: take it out of NOT_IN_OPENAPI"
        );
    }
    let expected: BTreeSet<_> = served.union(&extra).cloned().collect();

    let show = |routes: Vec<&(String, String)>| {
        routes
            .iter()
            .map(|(m, p)| format!("  - `{m} {p}`"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let missing: Vec<_> = expected.difference(&seen).collect();
    let unknown: Vec<_> = seen.difference(&expected).collect();
    assert!(
        missing.is_empty() && unknown.is_empty(),
        "docs/API.md and the server disagree.\nServed but not described in docs/API.md (add a \
         bullet in its section):\n{}\nDescribed in docs/API.md but not served (remove or fix \
         it; routes outside the OpenAPI document go in NOT_IN_OPENAPI in tests/api/docs.rs):\n{}",
        show(missing),
        show(unknown)
    );
}

#[test]
fn route_bullets_are_recognized() {
    let md = "- `GET /api/v1/tasks` — list\n  - `PUT /api/v1/tasks/{id}/status` — x\n\
              - `timeframe` is daily\n- `GET /chat/v1/{agent_id}` — WebSocket\nGET /not-a-bullet\n";
    let routes = documented_routes(md);
    assert_eq!(
        routes,
        [
            ("GET".to_string(), "/api/v1/tasks".to_string()),
            ("PUT".into(), "/api/v1/tasks/{id}/status".into()),
            ("GET".into(), "/chat/v1/{agent_id}".into()),
        ]
    );
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn files_under(dir: &Path, ext: &str, skip: &[&str], out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            if !name.starts_with('.') && !skip.contains(&name.as_str()) {
                files_under(&path, ext, skip, out);
            }
        } else if name.ends_with(ext) {
            out.push(path);
        }
    }
}

/// Relative link targets in a Markdown text: `[text](target)` and `[label]: target`,
/// outside fenced code blocks and inline code.
fn link_targets(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut fenced = false;
    for (n, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        // Drop inline code spans.
        let mut plain = String::new();
        for (i, part) in line.split('`').enumerate() {
            if i % 2 == 0 {
                plain.push_str(part);
            }
        }
        let mut rest = plain.as_str();
        while let Some(p) = rest.find("](") {
            let after = &rest[p + 2..];
            let end = after.find(')').unwrap_or(after.len());
            let target = after[..end].split_whitespace().next().unwrap_or("");
            out.push((n + 1, target.to_string()));
            rest = &after[end..];
        }
        let t = plain.trim_start();
        if t.starts_with('[')
            && let Some(p) = t.find("]: ")
        {
            out.push((n + 1, t[p + 3..].trim().to_string()));
        }
    }
    out
}

fn markdown_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    files_under(
        &root(),
        ".md",
        &["target", "node_modules", "test-artifacts", "fuzz"],
        &mut files,
    );
    files.sort();
    files
}

#[test]
fn markdown_links_resolve_inside_the_repository() {
    let root = root().canonicalize().unwrap();
    let files = markdown_files();
    assert!(
        files.iter().any(|f| f.ends_with("README.md")),
        "no README.md found under {}",
        root.display()
    );
    let mut broken = Vec::new();
    let mut checked = 0;
    for file in &files {
        let text = fs::read_to_string(file).unwrap();
        let rel = file
            .strip_prefix(&root)
            .unwrap_or(file)
            .display()
            .to_string();
        if text.contains("../shared/") {
            broken.push(format!(
                "{rel}: mentions ../shared/, which a clone does not have"
            ));
        }
        for (line, target) in link_targets(&text) {
            if target.is_empty()
                || target.starts_with('#')
                || target.contains("://")
                || target.starts_with("mailto:")
            {
                continue;
            }
            let path = target.split('#').next().unwrap();
            let resolved = if let Some(abs) = path.strip_prefix('/') {
                root.join(abs)
            } else {
                file.parent().unwrap().join(path)
            };
            checked += 1;
            match resolved.canonicalize() {
                Ok(p) if p.starts_with(&root) => {}
                Ok(_) => broken.push(format!("{rel}:{line}: {target} leaves the repository")),
                Err(_) => broken.push(format!("{rel}:{line}: {target} does not exist")),
            }
        }
    }
    assert!(checked > 0, "no relative links found in {files:?}");
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn the_link_check_sees_links() {
    let md = "see [a](docs/A.md#x) and `[b](no.md)`\n```\n[c](nope.md)\n```\n[d]: ./e.md\n";
    let targets: Vec<_> = link_targets(md).into_iter().map(|(_, t)| t).collect();
    assert_eq!(targets, ["docs/A.md#x", "./e.md"]);
}
