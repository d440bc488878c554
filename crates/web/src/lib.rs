//! paperboy's web layer: server-rendered pages (working without JavaScript), the JSON API under
//! `/api/v1` with its OpenAPI document, RSS and Atom feeds, and the safety around them (CSP,
//! CSRF tokens, body and query limits, per-client rate limits).
//!
//! [`router`] builds the whole application over an [`AppState`]; [`serve`] runs it until
//! Ctrl-C or SIGTERM, finishing the requests in flight.

mod api;
mod assets;
mod caching;
pub mod error;
mod feeds;
mod limits;
mod pages;
pub mod params;
pub mod proxy;
mod render;
mod security;
pub mod session;
mod state;

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::routing::{get, post};
use axum::Router;

pub use error::WebError;
pub use limits::RateLimits;
pub use state::{AppState, WebConfig, SEARCH_QUEUE};

/// Largest request body accepted (forms are small).
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// Longest request target (path and query) accepted.
pub const MAX_URI_BYTES: usize = 16 * 1024;

/// The whole application.
pub fn router(state: AppState) -> Router {
    let limited = Router::new()
        .route("/search", get(pages::search::search))
        .route("/subscribe", post(pages::subscription::subscribe))
        .route("/sign-in", get(pages::account::sign_in_page).post(pages::account::sign_in))
        .route("/api/v1/search", get(api::search))
        .route("/api/v1/subscriptions", post(api::subscribe))
        .route("/feeds/search.xml", get(feeds::search))
        .route_layer(middleware::from_fn_with_state(state.clone(), security::rate_limit));
    Router::new()
        .route("/", get(pages::papers::home))
        .route("/papers/{date}", get(pages::papers::day))
        .route("/category/{category}", get(pages::papers::category))
        .route("/paper/{*id}", get(pages::papers::paper))
        .route("/confirm", get(pages::subscription::confirm).post(pages::subscription::confirm_post))
        .route("/unsubscribe/{key}", get(pages::subscription::unsubscribe_page).post(pages::subscription::unsubscribe))
        .route("/preferences/{key}", get(pages::subscription::preferences_page).post(pages::subscription::preferences))
        .route("/api/v1/papers", get(api::papers))
        .route("/api/v1/papers/{id}", get(api::paper))
        .route("/api/v1/papers/{id}/similar", get(api::similar))
        .route("/api/v1/trending", get(api::trending))
        .route("/api/openapi.json", get(api::openapi))
        .route("/feeds/daily.xml", get(feeds::daily))
        .route("/feeds/trending.xml", get(feeds::trending))
        .route("/feeds/category/{file}", get(feeds::category))
        .route("/healthz", get(api::healthz))
        .route("/sign-in/link", get(pages::account::link_page).post(pages::account::link))
        .route("/sign-out", post(pages::account::sign_out))
        .route("/sign-out/everywhere", post(pages::account::sign_out_everywhere))
        .route("/account", get(pages::account::account))
        .route("/account/tokens", post(pages::account::create_token))
        .route("/account/tokens/{id}/revoke", post(pages::account::revoke_token))
        .route("/account/data.json", get(pages::account::data))
        .route("/account/delete", post(pages::account::delete))
        .route("/account/{file}", get(pages::library::export_account))
        .route("/alerts", get(pages::alerts::alerts_page).post(pages::alerts::create))
        .route("/alerts/{id}/delete", post(pages::alerts::delete))
        .route("/alerts/{id}/resume", post(pages::alerts::resume))
        .route("/feeds/alerts/{file}", get(pages::alerts::feed))
        .route("/watch", post(pages::alerts::watch))
        .route("/for-you", get(pages::foryou::for_you))
        .route("/for-you/learned", get(pages::foryou::learned))
        .route("/for-you/interests", post(pages::foryou::interests))
        .route("/feeds/for-you/{file}", get(pages::foryou::feed))
        .route("/mark", post(pages::library::mark))
        .route("/follow", post(pages::library::follow))
        .route("/collections", post(pages::library::create_collection))
        .route("/collections/{id}", get(pages::library::collection).post(pages::library::manage_collection))
        .route("/collections/{id}/{file}", get(pages::library::export_collection))
        .route(
            "/collections/{id}/import",
            post(pages::library::import).layer(DefaultBodyLimit::max(paperboy_engine::library::MAX_IMPORT_BYTES + 64 * 1024)),
        )
        .route("/shared/{key}", get(pages::library::shared))
        .route("/shared/{key}/feed.xml", get(pages::library::shared_feed))
        .route("/author/{slug}", get(pages::library::author))
        .route("/author/{slug}/feed.xml", get(pages::library::author_feed))
        .route("/api/v1/me", get(api::me))
        .route("/api/v1/alerts", get(api::alerts).post(api::save_alert))
        .route("/api/v1/alerts/{id}", axum::routing::delete(api::delete_alert))
        .route("/api/v1/me/votes", get(api::my_votes))
        .route("/api/v1/marks/{*id}", get(api::marks).post(api::set_marks))
        .route("/api/v1/collections", get(api::collections).post(api::create_collection))
        .route("/api/v1/collections/{id}", get(api::collection))
        .route("/api/v1/collections/{id}/papers", post(api::save_paper))
        .route("/api/v1/collections/{id}/papers/{*paper}", axum::routing::delete(api::unsave_paper))
        .route("/assets/{*path}", get(assets::serve))
        .merge(limited)
        .fallback(pages::not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn(security::api_errors))
        .layer(middleware::from_fn(caching::etag))
        .layer(tower_http::compression::CompressionLayer::new())
        .layer(middleware::from_fn(caching::tag_encoding))
        .layer(middleware::from_fn(security::headers))
        .with_state(state)
}

/// Serves `state` on `listener` until Ctrl-C or SIGTERM; requests in flight are finished.
pub async fn serve(listener: tokio::net::TcpListener, state: AppState) -> std::io::Result<()> {
    serve_until(listener, state, shutdown_signal()).await
}

/// Serves `state` on `listener` until `shutdown` resolves; requests in flight are finished.
pub async fn serve_until(listener: tokio::net::TcpListener, state: AppState, shutdown: impl std::future::Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
    // A bound on how long slow clients may hold the process.
    tokio::spawn(async {
        tokio::time::sleep(Duration::from_secs(10)).await;
        std::process::exit(0);
    });
}
