//! The subscribe flow: the form's post, confirming (double opt-in), unsubscribing (one click,
//! RFC 8058) and changing preferences. The use case itself is the digest crate's.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Form;
use chrono::Utc;
use maud::{html, Markup};
use paperboy_core::{urls, EmailAddress};
use paperboy_engine::subscriptions::{Frequency, Interests, CONFIRM_TTL};

use super::PageResult;
use crate::error::{PageError, WebError};
use crate::params::Params;
use crate::render::page;
use crate::security::check_csrf;
use crate::state::AppState;

/// The subscribe form's fields.
#[derive(serde::Deserialize)]
pub struct SubscribeForm {
    csrf: Option<String>,
    email: Option<String>,
    frequency: Option<String>,
    interests: Option<String>,
}

/// `POST /subscribe`: always "check your inbox" for a well-formed address, known or not.
pub async fn subscribe(State(state): State<AppState>, headers: HeaderMap, Form(form): Form<SubscribeForm>) -> Result<Response, PageError> {
    check_csrf(&state.config().secret, form.csrf.as_deref().unwrap_or(""), &headers)?;
    let email = form.email.as_deref().unwrap_or("");
    let email = match EmailAddress::parse(email) {
        Ok(e) => e,
        Err(e) => return Ok(subscribe_problem(&state, &format!("That address does not work: {}.", e.reason))),
    };
    let frequency: Frequency = match form.frequency.as_deref().unwrap_or("daily").parse() {
        Ok(f) => f,
        Err(e) => return Ok(subscribe_problem(&state, &e)),
    };
    let interests = match Interests::from_fields(form.interests.as_deref().unwrap_or(""), "", "", "") {
        Ok(i) => i,
        Err(e) => return Ok(subscribe_problem(&state, &e)),
    };
    state
        .blocking(move |s| {
            request_subscription(s, &email, frequency, &interests)?;
            let main = html! {
                section.notice role="status" {
                    h1 { "Check your inbox" }
                    p { "If " strong { (email) } " can receive mail, a message with a confirmation link is on its way. "
                        "Nothing else is sent until you confirm; the link works for " (CONFIRM_TTL.num_hours()) " hours." }
                    p { a href="/" { "Back to the papers" } }
                }
            };
            Ok::<_, PageError>(Html(page(s, "Check your inbox", main).into_string()).into_response())
        })
        .await
}

/// Records a subscription request and queues the confirmation email when one is due (the
/// digest crate's use case, with this instance's base URL for the link).
fn request_subscription(s: &AppState, email: &EmailAddress, frequency: Frequency, interests: &Interests) -> Result<(), WebError> {
    paperboy_digest::request_subscription(&mut *s.store(), &s.config().base_url, email, frequency, interests, Utc::now())?;
    Ok(())
}

fn subscribe_problem(state: &AppState, message: &str) -> Response {
    let main = html! {
        section.notice.problem role="alert" {
            h1 { "Not subscribed yet" }
            p { (message) }
            p { "Correct it in the form below and send it again." }
        }
    };
    (StatusCode::BAD_REQUEST, Html(page(state, "Not subscribed yet", main).into_string())).into_response()
}

/// `GET /confirm?token=…`: a button that confirms (a link scanner's GET confirms nothing).
pub async fn confirm(State(state): State<AppState>, params: Params) -> PageResult {
    super::token_button_page(&state, "Confirm your subscription", "/confirm", params.text("token").unwrap_or(""), "Yes, send me the digest")
}

/// The confirmation form's fields.
#[derive(serde::Deserialize)]
pub struct ConfirmForm {
    csrf: Option<String>,
    token: Option<String>,
}

/// `POST /confirm`: confirms the address if the token is current.
pub async fn confirm_post(State(state): State<AppState>, headers: HeaderMap, Form(form): Form<ConfirmForm>) -> PageResult {
    check_csrf(&state.config().secret, form.csrf.as_deref().unwrap_or(""), &headers)?;
    let token = form.token.unwrap_or_default();
    state
        .blocking(move |s| {
            let confirmed = if token.is_empty() || token.len() > 100 { None } else { s.store().confirm(&token, Utc::now())? };
            let main = match confirmed {
                Some(sub) => html! {
                    section.notice role="status" {
                        h1 { "You are subscribed" }
                        p { "The " (sub.frequency) " digest will come to " strong { (sub.email) } ". Every email has a link to change or stop it." }
                    }
                },
                None => html! {
                    section.notice.problem role="alert" {
                        h1 { "This link does not work any more" }
                        p { "Confirmation links work once, for " (CONFIRM_TTL.num_hours()) " hours. Subscribe again below to get a new one." }
                    }
                },
            };
            Ok(Html(page(s, "Subscription", main).into_string()))
        })
        .await
}

fn unknown_link() -> WebError {
    WebError::NotFound("this link is not (or no longer) valid; links in older emails keep working only while the address is subscribed".into())
}

/// `GET /unsubscribe/{key}`: asks before unsubscribing (a link scanner's GET changes nothing).
pub async fn unsubscribe_page(State(state): State<AppState>, Path(key): Path<String>) -> PageResult {
    state
        .blocking(move |s| {
            let sub = s.store().subscriber_by_key(&key)?.ok_or_else(unknown_link)?;
            let main = html! {
                h1 { "Unsubscribe" }
                p { "Stop the " (sub.frequency) " paperboy digest to " strong { (sub.email) } "?" }
                form method="post" action=(urls::unsubscribe("", &key)) {
                    button type="submit" { "Unsubscribe" }
                }
                p { "Or " a href=(urls::preferences("", &key)) { "change what you get" } " instead." }
            };
            Ok(Html(page(s, "Unsubscribe", main).into_string()))
        })
        .await
}

/// `POST /unsubscribe/{key}`: unsubscribes at once. Mail clients post here with
/// `List-Unsubscribe=One-Click` (RFC 8058), without cookies or tokens: the key is the proof.
pub async fn unsubscribe(State(state): State<AppState>, Path(key): Path<String>) -> PageResult {
    state
        .blocking(move |s| {
            let sub = s.store().unsubscribe(&key, Utc::now())?.ok_or_else(unknown_link)?;
            tracing::info!(subscriber = sub.id, "unsubscribed");
            let main = html! {
                section.notice role="status" {
                    h1 { "You are unsubscribed" }
                    p { "No more digests will go to " strong { (sub.email) } ". Subscribe again any time with the form below." }
                }
            };
            Ok(Html(page(s, "Unsubscribed", main).into_string()))
        })
        .await
}

/// `GET /preferences/{key}`: frequency and interests.
pub async fn preferences_page(State(state): State<AppState>, Path(key): Path<String>) -> PageResult {
    state
        .blocking(move |s| {
            let sub = s.store().subscriber_by_key(&key)?.ok_or_else(unknown_link)?;
            Ok(Html(page(s, "Your digest", preferences_form(s, &key, &sub, None)).into_string()))
        })
        .await
}

fn preferences_form(s: &AppState, key: &str, sub: &paperboy_engine::subscriptions::Subscriber, notice: Option<Markup>) -> Markup {
    let i = &sub.interests;
    let cats: Vec<String> = i.categories.iter().map(|c| c.to_string()).collect();
    html! {
        h1 { "Your digest" }
        @if let Some(n) = notice { (n) }
        p { "For " strong { (sub.email) } "." }
        form.search method="post" action=(urls::preferences("", key)) {
            input type="hidden" name="csrf" value=(crate::security::csrf_token(&s.config().secret));
            div.field {
                label for="pref-frequency" { "How often" }
                select #pref-frequency name="frequency" {
                    option value="daily" selected[sub.frequency == Frequency::Daily] { "Daily" }
                    option value="weekly" selected[sub.frequency == Frequency::Weekly] { "Weekly (Sundays)" }
                }
            }
            div.field.wide {
                label for="pref-interests" { "Interests (searched by meaning and keywords)" }
                input #pref-interests type="text" name="interests" value=(i.text) maxlength="500";
            }
            div.field {
                label for="pref-categories" { "Categories (comma-separated, e.g. cs.LG)" }
                input #pref-categories type="text" name="categories" value=(cats.join(", ")) maxlength="500";
                @if s.category_counts().is_ok_and(|c| c.is_empty()) { (crate::render::no_categories_note()) }
            }
            div.field {
                label for="pref-include" { "Must mention" }
                input #pref-include type="text" name="include" value=(i.include.join(", ")) maxlength="500";
            }
            div.field {
                label for="pref-exclude" { "Leave out papers mentioning" }
                input #pref-exclude type="text" name="exclude" value=(i.exclude.join(", ")) maxlength="500";
            }
            button type="submit" { "Save" }
        }
        p { a href=(urls::unsubscribe("", key)) { "Unsubscribe" } }
    }
}

/// The preferences form's fields.
#[derive(serde::Deserialize)]
pub struct PreferencesForm {
    csrf: Option<String>,
    frequency: Option<String>,
    interests: Option<String>,
    categories: Option<String>,
    include: Option<String>,
    exclude: Option<String>,
}

/// `POST /preferences/{key}`.
pub async fn preferences(State(state): State<AppState>, Path(key): Path<String>, headers: HeaderMap, Form(form): Form<PreferencesForm>) -> Result<Response, PageError> {
    check_csrf(&state.config().secret, form.csrf.as_deref().unwrap_or(""), &headers)?;
    let frequency: Result<Frequency, String> = form.frequency.as_deref().unwrap_or("daily").parse();
    let interests = Interests::from_fields(
        form.interests.as_deref().unwrap_or(""),
        form.categories.as_deref().unwrap_or(""),
        form.include.as_deref().unwrap_or(""),
        form.exclude.as_deref().unwrap_or(""),
    );
    state
        .blocking(move |s| {
            let (frequency, interests) = match (frequency, interests) {
                (Ok(f), Ok(i)) => (f, i),
                (Err(e), _) | (_, Err(e)) => {
                    let sub = s.store().subscriber_by_key(&key)?.ok_or_else(unknown_link)?;
                    let notice = html! { section.notice.problem role="alert" { p { "Not saved: " (e) } } };
                    return Ok((StatusCode::BAD_REQUEST, Html(page(s, "Your digest", preferences_form(s, &key, &sub, Some(notice))).into_string())).into_response());
                }
            };
            let sub = s.store().update_preferences(&key, frequency, &interests)?.ok_or_else(unknown_link)?;
            let notice = html! { section.notice role="status" { p { "Saved." } } };
            Ok(Html(page(s, "Your digest", preferences_form(s, &key, &sub, Some(notice))).into_string()).into_response())
        })
        .await
}
