//! Static assets compiled into the binary: the stylesheet, a small script that enhances the
//! pages (theme switch, math), and KaTeX 0.19.1 (MIT; `assets/katex/LICENSE`) with its fonts,
//! so math renders with no network.

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

macro_rules! assets {
    ($($path:literal),* $(,)?) => {
        &[$(($path, include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/", $path)) as &[u8])),*]
    };
}

/// (path under /assets/, bytes).
const ASSETS: &[(&str, &[u8])] = assets![
    "style.css",
    "app.js",
    "katex/katex.min.js",
    "katex/katex.min.css",
    "katex/contrib/auto-render.min.js",
    "katex/fonts/KaTeX_AMS-Regular.woff2",
    "katex/fonts/KaTeX_Caligraphic-Bold.woff2",
    "katex/fonts/KaTeX_Caligraphic-Regular.woff2",
    "katex/fonts/KaTeX_Fraktur-Bold.woff2",
    "katex/fonts/KaTeX_Fraktur-Regular.woff2",
    "katex/fonts/KaTeX_Main-Bold.woff2",
    "katex/fonts/KaTeX_Main-BoldItalic.woff2",
    "katex/fonts/KaTeX_Main-Italic.woff2",
    "katex/fonts/KaTeX_Main-Regular.woff2",
    "katex/fonts/KaTeX_Math-BoldItalic.woff2",
    "katex/fonts/KaTeX_Math-Italic.woff2",
    "katex/fonts/KaTeX_SansSerif-Bold.woff2",
    "katex/fonts/KaTeX_SansSerif-Italic.woff2",
    "katex/fonts/KaTeX_SansSerif-Regular.woff2",
    "katex/fonts/KaTeX_Script-Regular.woff2",
    "katex/fonts/KaTeX_Size1-Regular.woff2",
    "katex/fonts/KaTeX_Size2-Regular.woff2",
    "katex/fonts/KaTeX_Size3-Regular.woff2",
    "katex/fonts/KaTeX_Size4-Regular.woff2",
    "katex/fonts/KaTeX_Typewriter-Regular.woff2",
];

fn mime(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("woff2") => "font/woff2",
        _ => "application/octet-stream",
    }
}

/// `GET /assets/{*path}`.
pub async fn serve(Path(path): Path<String>) -> Response {
    match ASSETS.iter().find(|(p, _)| *p == path) {
        Some((p, bytes)) => ([(header::CONTENT_TYPE, mime(p)), (header::CACHE_CONTROL, "public, max-age=86400")], *bytes).into_response(),
        None => (StatusCode::NOT_FOUND, "no such asset").into_response(),
    }
}
