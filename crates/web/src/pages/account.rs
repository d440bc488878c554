//! Signing in and the account: the sign-in form and its emailed link (single use, 15 minutes),
//! signing out (here, or everywhere), and the account page: what is stored, the digest
//! subscription, API tokens, collections, followed authors, "download my data" and "delete my
//! account".

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use chrono::Utc;
use maud::{html, Markup};
use paperboy_core::{urls, EmailAddress};
use paperboy_engine::readers::{ApiToken, SIGN_IN_TTL};
use paperboy_engine::store::account_data;
use paperboy_engine::subscriptions::{Status, Subscriber};

use super::PageResult;
use crate::error::{PageError, WebError};
use crate::params::Params;
use crate::render::{count, followed_author, page, url_encode};
use crate::security::{check_csrf, csrf_token};
use crate::session::{clear_cookie, local_path, set_cookie, Visit};
use crate::state::AppState;

fn sign_in_form(s: &AppState, next: &str, problem: Option<&str>) -> Markup {
    html! {
        h1 { "Sign in" }
        @if let Some(p) = problem { section.notice.problem role="alert" { p { (p) } } }
        p { "No password: we email you a link that signs you in. It works once, for " (SIGN_IN_TTL.num_minutes()) " minutes." }
        form.search method="post" action="/sign-in" {
            input type="hidden" name="csrf" value=(csrf_token(&s.config().secret));
            input type="hidden" name="next" value=(next);
            div.field {
                label for="sign-in-email" { "Email address" }
                input #sign-in-email type="email" name="email" required autocomplete="email" maxlength="254" placeholder="you@example.org";
            }
            button type="submit" { "Email me a sign-in link" }
        }
        p.hint { "Signed in, you can upvote papers, mark them read or “not for me”, save them to collections, export them to BibTeX or Zotero, and follow authors. "
            "Your digest subscription, if you have one, is on your account page." }
    }
}

/// `GET /sign-in?next=…`.
pub async fn sign_in_page(State(state): State<AppState>, params: Params) -> PageResult {
    let next = local_path(params.text("next"), "/account");
    Ok(Html(page(&state, "Sign in", sign_in_form(&state, &next, None)).into_string()))
}

/// The sign-in form's fields.
#[derive(serde::Deserialize)]
pub struct SignInForm {
    csrf: Option<String>,
    email: Option<String>,
    next: Option<String>,
}

/// `POST /sign-in`: "check your inbox" for every well-formed address, known or not.
pub async fn sign_in(State(state): State<AppState>, headers: HeaderMap, Form(form): Form<SignInForm>) -> Result<Response, PageError> {
    check_csrf(&state.config().secret, form.csrf.as_deref().unwrap_or(""), &headers)?;
    let next = local_path(form.next.as_deref(), "/account");
    let email = match EmailAddress::parse(form.email.as_deref().unwrap_or("")) {
        Ok(e) => e,
        Err(e) => {
            let main = sign_in_form(&state, &next, Some(&format!("That address does not work: {}.", e.reason)));
            return Ok((StatusCode::BAD_REQUEST, Html(page(&state, "Sign in", main).into_string())).into_response());
        }
    };
    state
        .blocking(move |s| {
            let base = s.config().base_url.clone();
            let back = (next != "/account").then_some(next.as_str());
            paperboy_digest::request_sign_in(&mut *s.store(), &base, &email, back, Utc::now())?;
            let main = html! {
                section.notice role="status" {
                    h1 { "Check your inbox" }
                    p { "If " strong { (email) } " can receive mail, a sign-in link is on its way. It works once, for " (SIGN_IN_TTL.num_minutes()) " minutes." }
                    p { "Nothing arriving? Look in the spam folder, or " a href=(format!("/sign-in?next={}", url_encode(&next))) { "ask for another link" } "." }
                }
            };
            Ok::<_, PageError>(Html(page(s, "Check your inbox", main).into_string()).into_response())
        })
        .await
}

/// `GET /sign-in/link?token=…`: a button that signs in (a mail scanner's GET uses nothing up).
pub async fn link_page(State(state): State<AppState>, params: Params) -> PageResult {
    let action = format!("/sign-in/link?next={}", url_encode(&local_path(params.text("next"), "/account")));
    super::token_button_page(&state, "Sign in to paperboy", &action, params.text("token").unwrap_or(""), "Sign in")
}

/// The sign-in link's form.
#[derive(serde::Deserialize)]
pub struct LinkForm {
    csrf: Option<String>,
    token: Option<String>,
}

/// `POST /sign-in/link?next=…`: a current, unused link starts a new session (any session the
/// browser had is ended: the cookie is rotated) and goes back to `next` (the account page by
/// default).
pub async fn link(State(state): State<AppState>, headers: HeaderMap, visit: Visit, params: Params, Form(form): Form<LinkForm>) -> Result<Response, PageError> {
    let next = local_path(params.text("next"), "/account");
    check_csrf(&state.config().secret, form.csrf.as_deref().unwrap_or(""), &headers)?;
    let token = form.token.unwrap_or_default();
    state
        .blocking(move |s| {
            let now = Utc::now();
            let reader = if token.is_empty() || token.len() > 100 { None } else { s.store().redeem_sign_in(&token, now)? };
            let Some(reader) = reader else {
                let main = html! {
                    section.notice.problem role="alert" {
                        h1 { "This sign-in link does not work" }
                        p { "Sign-in links work once, for " (SIGN_IN_TTL.num_minutes()) " minutes. Ask for a new one below." }
                    }
                    (sign_in_form(s, "/account", None))
                };
                return Ok((StatusCode::BAD_REQUEST, Html(page(s, "Sign in", main).into_string())).into_response());
            };
            let mut store = s.store();
            if let Some(old) = &visit.session {
                store.end_session(old)?;
            }
            let secret = store.start_session(reader.id, now)?;
            drop(store);
            tracing::info!(reader = reader.id, "signed in");
            let mut res = Redirect::to(&next).into_response();
            res.headers_mut().insert(header::SET_COOKIE, set_cookie(s, &secret));
            Ok(res)
        })
        .await
}

/// A form with only a CSRF token (the buttons that change one thing).
#[derive(serde::Deserialize)]
pub struct CsrfForm {
    pub(crate) csrf: Option<String>,
}

/// `POST /sign-out`: ends this session.
pub async fn sign_out(State(state): State<AppState>, headers: HeaderMap, visit: Visit, Form(form): Form<CsrfForm>) -> Result<Response, PageError> {
    check_csrf(&state.config().secret, form.csrf.as_deref().unwrap_or(""), &headers)?;
    state
        .blocking(move |s| {
            if let Some(secret) = &visit.session {
                s.store().end_session(secret)?;
            }
            let mut res = Redirect::to("/").into_response();
            res.headers_mut().insert(header::SET_COOKIE, clear_cookie(s));
            Ok(res)
        })
        .await
}

/// `POST /sign-out/everywhere`: ends every session of the reader, on every device.
pub async fn sign_out_everywhere(State(state): State<AppState>, headers: HeaderMap, visit: Visit, Form(form): Form<CsrfForm>) -> Result<Response, PageError> {
    check_csrf(&state.config().secret, form.csrf.as_deref().unwrap_or(""), &headers)?;
    state
        .blocking(move |s| {
            let reader = s.signed_in(&visit)?;
            let n = s.store().end_all_sessions(reader.id)?;
            tracing::info!(reader = reader.id, sessions = n, "signed out everywhere");
            let mut res = Redirect::to("/sign-in").into_response();
            res.headers_mut().insert(header::SET_COOKIE, clear_cookie(s));
            Ok(res)
        })
        .await
}

fn subscription(s: &AppState, r: &Subscriber) -> Markup {
    let csrf = csrf_token(&s.config().secret);
    html! {
        @match r.status {
            Status::Confirmed => p { "You get the " (r.frequency) " digest. " a href=(urls::preferences("", &r.manage_key)) { "Change it or unsubscribe" } "." },
            Status::Pending => p { "Your digest subscription waits for you to open the confirmation link we emailed." },
            Status::Bouncing => p { "Mail to this address bounced, so the digest stopped. Subscribe again once it works." },
            Status::Unsubscribed | Status::NotSubscribed => {
                p { "You get no digest. Subscribe to trending papers and papers matching your interests:" }
                form.inline method="post" action="/subscribe" {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="email" value=(r.email);
                    label for="acct-frequency" { "How often" }
                    select #acct-frequency name="frequency" { option value="daily" { "Daily" } option value="weekly" { "Weekly" } }
                    label for="acct-interests" { "Interests" }
                    input #acct-interests type="text" name="interests" maxlength="500" value=(r.interests.text);
                    button type="submit" { "Subscribe" }
                }
            },
        }
        @if !r.interests.is_empty() { p { "Your interests: " (r.interests.text) } }
    }
}

fn tokens(csrf: &str, tokens: &[ApiToken], fresh: Option<(&ApiToken, &str)>) -> Markup {
    html! {
        @if let Some((t, secret)) = fresh {
            section.notice role="status" {
                p { "Your new API token “" (t.name) "” (shown once; keep it safe):" }
                p { code.token { (secret) } }
                p { "Use it as " code { "Authorization: Bearer " (secret) } " with the JSON API." }
            }
        }
        @if tokens.is_empty() { p { "No API tokens." } } @else {
            ul.tokens {
                @for t in tokens {
                    li {
                        strong { (t.name) } " · made " (t.created_at.format("%-d %b %Y"))
                        " · " @if let Some(u) = t.last_used_at { "last used " (u.format("%-d %b %Y %H:%M UTC")) } @else { "never used" }
                        form.inline method="post" action=(format!("/account/tokens/{}/revoke", t.id)) {
                            input type="hidden" name="csrf" value=(csrf);
                            button type="submit" { "Revoke" }
                        }
                    }
                }
            }
        }
        form.inline method="post" action="/account/tokens" {
            input type="hidden" name="csrf" value=(csrf);
            label for="token-name" { "New token for" }
            input #token-name type="text" name="name" required maxlength="60" placeholder="e.g. my script";
            button type="submit" { "Make an API token" }
        }
    }
}

fn account_page(s: &AppState, reader: &Subscriber, fresh: Option<(&ApiToken, &str)>) -> Result<Markup, WebError> {
    let data = account_data(&*s.store(), reader)?;
    let csrf = csrf_token(&s.config().secret);
    let ups = data.votes.iter().filter(|v| v.vote == paperboy_engine::readers::Vote::Up).count();
    Ok(html! {
        h1 { "Your account" }
        p { "Signed in as " strong { (reader.email) } "." }
        section aria-labelledby="acct-digest" {
            h2 #acct-digest { "Digest" }
            (subscription(s, reader))
        }
        section aria-labelledby="acct-collections" {
            h2 #acct-collections { "Collections" }
            @if data.collections.is_empty() { p { "No collections yet: save a paper from any list." } } @else {
                ul.collections {
                    @for (c, _) in &data.collections {
                        li { a href=(format!("/collections/{}", c.id)) { (c.name) } " · " (count(c.papers as usize, "paper")) @if c.share_key.is_some() { " · shared" } }
                    }
                }
            }
            form.inline method="post" action="/collections" {
                input type="hidden" name="csrf" value=(csrf);
                label for="new-collection" { "New collection" }
                input #new-collection type="text" name="name" required maxlength="100";
                button type="submit" { "Make" }
            }
            p { "Export everything you saved: " a href="/account/export.bib" { "BibTeX" } " · " a href="/account/export.json" { "CSL-JSON (Zotero, Mendeley, pandoc)" } }
        }
        section aria-labelledby="acct-alerts" {
            h2 #acct-alerts { "Alerts" }
            p { a href="/alerts" { (count(data.alerts.len(), "alert")) } " (saved searches) · " a href="/alerts#watched" { (count(data.watched.len(), "watched paper")) } }
            @for a in data.alerts.iter().filter(|a| a.webhook_disabled.is_some()) {
                section.notice.problem role="alert" {
                    p { "The webhook of your alert “" (a.name) "” was disabled after " (a.webhook_failures) " failed calls"
                        @if let Some((_, error)) = &a.webhook_disabled { " (last: " (error) ")" }
                        ". " a href="/alerts" { "Resume it on the alerts page" } "." }
                }
            }
        }
        section aria-labelledby="acct-authors" {
            h2 #acct-authors { "Authors you follow" }
            @if data.follows.is_empty() { p { "None yet: follow authors from a paper's page." } } @else {
                ul.follows {
                    @for f in &data.follows {
                        li { (followed_author(&csrf, f, "/account")) }
                    }
                }
            }
        }
        section aria-labelledby="acct-stored" {
            h2 #acct-stored { "What is stored about you" }
            ul {
                li { "Your address, " (reader.email) ", since " (reader.created_at.format("%-d %B %Y")) "." }
                li { (count(ups, "upvote")) " (counted in trending, without your name) and " (count(data.votes.len() - ups, "“not for me” mark")) " (seen by you alone)." }
                li { (count(data.read.len(), "paper")) " marked read." }
                li { (count(data.collections.len(), "collection")) " with " (count(data.collections.iter().map(|(_, p)| p.len()).sum::<usize>(), "saved paper")) "; no one else sees them unless you share one." }
                li { (count(data.follows.len(), "followed author")) "." }
                li { (count(data.sessions as usize, "signed-in session")) " and " (count(data.api_tokens.len(), "API token")) "." }
            }
            p { a.button href="/account/data.json" download="paperboy-account.json" { "Download my data (JSON)" } }
        }
        section aria-labelledby="acct-api" {
            h2 #acct-api { "API tokens" }
            (tokens(&csrf, &data.api_tokens, fresh))
        }
        section aria-labelledby="acct-sessions" {
            h2 #acct-sessions { "Signing out" }
            form.inline method="post" action="/sign-out" {
                input type="hidden" name="csrf" value=(csrf);
                button type="submit" { "Sign out" }
            }
            form.inline method="post" action="/sign-out/everywhere" {
                input type="hidden" name="csrf" value=(csrf);
                button type="submit" { "Sign out everywhere (" (count(data.sessions as usize, "session")) ")" }
            }
        }
        section.danger aria-labelledby="acct-delete" {
            h2 #acct-delete { "Delete my account" }
            p { "Deletes your votes, read marks, collections, followed authors, API tokens, sessions, your digest subscription and the record of what it sent you. It cannot be undone." }
            form method="post" action="/account/delete" {
                input type="hidden" name="csrf" value=(csrf);
                div.field {
                    label for="delete-confirm" { "Type your email address to confirm" }
                    input #delete-confirm type="email" name="confirm" required autocomplete="off" maxlength="254";
                }
                button.danger type="submit" { "Delete my account" }
            }
        }
    })
}

/// `GET /account`: signed out, the sign-in form.
pub async fn account(State(state): State<AppState>, visit: Visit) -> PageResult {
    state
        .blocking(move |s| match s.reader(&visit)? {
            Some(reader) => Ok(Html(page(s, "Your account", account_page(s, &reader, None)?).into_string())),
            None => Ok(Html(page(s, "Sign in", sign_in_form(s, "/account", None)).into_string())),
        })
        .await
}

/// The new-token form.
#[derive(serde::Deserialize)]
pub struct TokenForm {
    csrf: Option<String>,
    name: Option<String>,
}

/// `POST /account/tokens`: makes an API token and shows it once.
pub async fn create_token(State(state): State<AppState>, headers: HeaderMap, visit: Visit, Form(form): Form<TokenForm>) -> PageResult {
    check_csrf(&state.config().secret, form.csrf.as_deref().unwrap_or(""), &headers)?;
    let name: String = form.name.unwrap_or_default().trim().chars().filter(|c| !c.is_control()).take(60).collect();
    state
        .blocking(move |s| {
            let reader = s.signed_in(&visit)?;
            let name = if name.is_empty() { "API token".to_owned() } else { name };
            let (token, secret) = s.store().create_api_token(reader.id, &name, Utc::now())?;
            Ok(Html(page(s, "Your account", account_page(s, &reader, Some((&token, &secret)))?).into_string()))
        })
        .await
}

/// `POST /account/tokens/{id}/revoke`.
pub async fn revoke_token(State(state): State<AppState>, axum::extract::Path(id): axum::extract::Path<i64>, headers: HeaderMap, visit: Visit, Form(form): Form<CsrfForm>) -> Result<Response, PageError> {
    check_csrf(&state.config().secret, form.csrf.as_deref().unwrap_or(""), &headers)?;
    state
        .blocking(move |s| {
            let reader = s.signed_in(&visit)?;
            if !s.store().revoke_api_token(reader.id, id)? {
                return Err(WebError::NotFound(format!("you have no API token {id}")).into());
            }
            Ok(Redirect::to("/account#acct-api").into_response())
        })
        .await
}

/// `GET /account/data.json`: everything stored about the reader.
pub async fn data(State(state): State<AppState>, visit: Visit) -> Result<Response, PageError> {
    state
        .blocking(move |s| {
            let reader = s.signed_in(&visit)?;
            let data = account_data(&*s.store(), &reader)?;
            let body = serde_json::to_string_pretty(&data).map_err(|e| WebError::Internal(format!("account data: {e}")))?;
            Ok((
                [
                    (header::CONTENT_TYPE, "application/json; charset=utf-8"),
                    (header::CONTENT_DISPOSITION, "attachment; filename=\"paperboy-account.json\""),
                    (header::CACHE_CONTROL, "private, no-store"),
                ],
                body,
            )
                .into_response())
        })
        .await
}

/// The delete form.
#[derive(serde::Deserialize)]
pub struct DeleteForm {
    csrf: Option<String>,
    confirm: Option<String>,
}

/// `POST /account/delete`: deletes the reader and everything tied to the address, once the
/// address is typed again.
pub async fn delete(State(state): State<AppState>, headers: HeaderMap, visit: Visit, Form(form): Form<DeleteForm>) -> Result<Response, PageError> {
    check_csrf(&state.config().secret, form.csrf.as_deref().unwrap_or(""), &headers)?;
    state
        .blocking(move |s| {
            let reader = s.signed_in(&visit)?;
            let typed = form.confirm.as_deref().map(str::trim).unwrap_or("");
            if !typed.eq_ignore_ascii_case(reader.email.as_str()) {
                return Err(WebError::BadRequest("type your own email address to confirm; nothing was deleted".into()).into());
            }
            s.store().delete_reader(reader.id)?;
            s.papers_changed();
            tracing::info!(reader = reader.id, "account deleted");
            let main = html! {
                section.notice role="status" {
                    h1 { "Your account is deleted" }
                    p { "Everything paperboy stored about " strong { (reader.email) } " is gone: votes, read marks, collections, followed authors, API tokens, sessions, the digest subscription and the record of what it sent you." }
                    p { a href="/" { "Back to the papers" } }
                }
            };
            let mut res = Html(page(s, "Account deleted", main).into_string()).into_response();
            res.headers_mut().insert(header::SET_COOKIE, clear_cookie(s));
            Ok(res)
        })
        .await
}
