//! The web console: a plain-JS single page app served at `/`, its files embedded into the
//! binary at compile time so `cargo build` makes a self-contained server. It is not part of
//! the API (nor of the OpenAPI document); it is one more client of `/api/v1`.

use std::{collections::HashMap, sync::OnceLock};

use axum::{
    Router,
    extract::Path,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use sha2::{Digest, Sha256};

use crate::{error::ApiError, state::AppState};

/// Where the page may load things from: only this origin (scripts, styles, the AudioWorklet
/// module), WebSockets to this server, and audio from `blob:` URLs (call recordings).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data: blob:; font-src 'self'; \
     connect-src 'self' ws: wss:; media-src 'self' blob:; worker-src 'self'; \
     object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

macro_rules! assets {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_bytes!(concat!("assets/", $name)) as &[u8])),*]
    };
}

/// Every file under `assets/` (a unit test checks that none is missing from this list).
static FILES: &[(&str, &[u8])] = assets![
    "index.html",
    "app.css",
    "favicon.svg",
    "app.js",
    "api.js",
    "events.js",
    "ui.js",
    "blocks.js",
    "pcm-capture-worklet.js",
    "playback.js",
    "views/auth.js",
    "views/home.js",
    "views/profile.js",
    "views/phone.js",
    "views/notes.js",
    "views/tasks.js",
    "views/notifications.js",
    "notify.js",
    "sw.js",
    "views/day.js",
    "views/goals.js",
    "views/reflections.js",
    "views/memories.js",
    "views/chat.js",
    "views/agents.js",
    "views/calls.js",
    "views/wallet.js",
    "views/talk.js",
];

struct Asset {
    body: &'static [u8],
    content_type: &'static str,
    etag: HeaderValue,
}

fn assets() -> &'static HashMap<&'static str, Asset> {
    static ASSETS: OnceLock<HashMap<&'static str, Asset>> = OnceLock::new();
    ASSETS.get_or_init(|| {
        FILES
            .iter()
            .map(|&(name, body)| {
                let digest = Sha256::digest(body);
                let etag = format!("\"{}\"", hex::encode(&digest[..12]));
                let asset = Asset {
                    body,
                    content_type: content_type(name),
                    etag: HeaderValue::from_str(&etag).expect("hex etag is a valid header"),
                };
                (name, asset)
            })
            .collect()
    })
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/assets/{*path}", get(asset))
}

async fn index(headers: HeaderMap) -> Response {
    serve("index.html", &headers)
}

async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Response {
    if path == "index.html" {
        return ApiError::NotFound.into_response();
    }
    serve(&path, &headers)
}

/// Answer with the embedded file. Names are not content-hashed (ES modules import each
/// other by plain name), so every response is `no-cache` with a strong ETag: the browser
/// keeps its copy and revalidates it with `If-None-Match`, getting an empty 304 until the
/// binary changes.
fn serve(name: &str, headers: &HeaderMap) -> Response {
    let Some(asset) = assets().get(name) else {
        return ApiError::NotFound.into_response();
    };
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim() == "*" || t.trim().trim_start_matches("W/") == asset.etag)
        });
    let mut resp = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static(asset.content_type),
            )],
            asset.body,
        )
            .into_response()
    };
    let h = resp.headers_mut();
    h.insert(header::ETAG, asset.etag.clone());
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if name == "index.html" {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        );
        h.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        h.insert(
            "permissions-policy",
            HeaderValue::from_static("microphone=(self), camera=(), geolocation=()"),
        );
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files_on_disk(dir: &std::path::Path, prefix: &str, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).expect("assets dir") {
            let entry = entry.unwrap();
            let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
            if entry.file_type().unwrap().is_dir() {
                files_on_disk(&entry.path(), &format!("{name}/"), out);
            } else {
                out.push(name);
            }
        }
    }

    #[test]
    fn every_asset_file_is_embedded() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/web/assets");
        let mut on_disk = Vec::new();
        files_on_disk(&dir, "", &mut on_disk);
        let embedded: Vec<&str> = FILES.iter().map(|(n, _)| *n).collect();
        for f in &on_disk {
            assert!(
                embedded.contains(&f.as_str()),
                "{f} is in src/web/assets but not in FILES"
            );
        }
        assert_eq!(on_disk.len(), embedded.len(), "FILES lists a file twice");
    }

    #[test]
    fn content_types_follow_extensions() {
        assert_eq!(content_type("a/b.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("app.css"), "text/css; charset=utf-8");
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("x.bin"), "application/octet-stream");
    }
}
