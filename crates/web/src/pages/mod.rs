//! The server-rendered pages, one room per job: [`papers`] (home, days, categories, a paper),
//! [`search`] and [`subscription`] (subscribe, confirm, unsubscribe, preferences). Every page
//! works without JavaScript; errors render as pages through [`PageError`].

pub mod papers;
pub mod search;
pub mod subscription;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use maud::html;

use crate::error::PageError;
use crate::render::page;
use crate::state::AppState;

/// Papers per page in lists and search results.
pub const PER_PAGE: usize = 30;
/// Deepest page of search results (the engine ranks at most this many hits).
const MAX_HITS: usize = 1_000;

type PageResult = Result<Html<String>, PageError>;

/// 404 for every path without a route.
pub async fn not_found(State(state): State<AppState>) -> Response {
    let main = html! {
        h1 { "Not found" }
        p { "There is no page at this address." }
        p { a href="/" { "The daily papers" } " · " a href="/search" { "Search" } }
    };
    (StatusCode::NOT_FOUND, Html(page(&state, "Not found", main).into_string())).into_response()
}
