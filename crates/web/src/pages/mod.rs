//! The server-rendered pages, one room per job: [`papers`] (home, days, categories, a paper),
//! [`search`], [`subscription`] (subscribe, confirm, unsubscribe, preferences), [`account`]
//! (sign-in by emailed link, the account page) and [`library`] (marks, collections, export and
//! import, authors). Every page
//! works without JavaScript; errors render as pages through [`PageError`].

pub mod account;
pub mod alerts;
pub mod foryou;
pub mod library;
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

/// The page an emailed link opens: one button that posts the link's token. A mail scanner that
/// fetches the link uses nothing up; the person's click does.
pub fn token_button_page(state: &AppState, heading: &str, action: &str, token: &str, button: &str) -> PageResult {
    let main = html! {
        h1 { (heading) }
        form method="post" action=(action) {
            input type="hidden" name="token" value=(token);
            input type="hidden" name="csrf" value=(crate::security::csrf_token(&state.config().secret));
            button type="submit" { (button) }
        }
    };
    Ok(Html(page(state, heading, main).into_string()))
}
