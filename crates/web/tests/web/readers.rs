//! Readers, in process: sign-in by an emailed link (taken from a real SMTP server on loopback),
//! sessions, votes and marks with and without JavaScript, collections (private, shared, notes),
//! BibTeX and CSL-JSON export and import, authors, API tokens, and deleting an account.

use axum::http::{HeaderMap, StatusCode};
use chrono::{Duration, Utc};
use paperboy_core::EmailAddress;
use paperboy_digest::{deliver_due, SmtpMailer};
use paperboy_engine::readers::SignInRequest;
use paperboy_engine::store::transfer::TABLES;
use paperboy_testkit::SmtpSink;

use crate::common::*;

const GDPO: &str = "2601.05242";
const OTHER: &str = "2601.05241";

fn session_of(headers: &HeaderMap) -> String {
    let cookie = headers.get("set-cookie").unwrap_or_else(|| panic!("no Set-Cookie in {headers:?}")).to_str().unwrap();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Path=/"), "{cookie}");
    assert!(!cookie.contains("Secure"), "an http base URL: no Secure flag ({cookie})");
    let pair = cookie.split(';').next().unwrap();
    assert!(pair.starts_with("paperboy_session="), "{cookie}");
    pair.to_owned()
}

/// Signs `email` in through the link page (the token straight from the store); the cookie.
async fn sign_in(app: &TestApp, email: &str) -> String {
    let SignInRequest::Send { token, .. } = app.state.store().request_sign_in(&EmailAddress::parse(email).unwrap(), Utc::now()).unwrap() else { panic!("no link") };
    redeem(app, &token, &[]).await
}

async fn redeem(app: &TestApp, token: &str, headers: &[(&str, &str)]) -> String {
    let (_, _, page) = get(app, &format!("/sign-in/link?token={token}")).await;
    let mut h = vec![("content-type", "application/x-www-form-urlencoded")];
    h.extend_from_slice(headers);
    let (status, headers, body) = request(app, "POST", "/sign-in/link", &h, format!("csrf={}&token={token}", enc(&csrf_of(&page)))).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    assert_eq!(headers["location"], "/account");
    session_of(&headers)
}

async fn page_as(app: &TestApp, cookie: &str, uri: &str) -> (StatusCode, HeaderMap, String) {
    request(app, "GET", uri, &[("cookie", cookie)], "").await
}

async fn post_as(app: &TestApp, cookie: &str, uri: &str, form: &str) -> (StatusCode, HeaderMap, String) {
    request(app, "POST", uri, &[("cookie", cookie), ("content-type", "application/x-www-form-urlencoded")], form.to_owned()).await
}

async fn csrf(app: &TestApp, cookie: &str) -> String {
    let (_, _, page) = page_as(app, cookie, "/account").await;
    enc(&csrf_of(&page))
}


#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_by_emailed_link_sessions_and_signing_out() {
    let app = app();
    let sink = SmtpSink::start_local(&[]);
    let mailer = SmtpMailer::new(&sink.url, "paperboy <hello@paperboy.test>").unwrap();
    let (_, _, form) = get(app, "/sign-in?next=/account").await;
    assert!(form.contains("Email me a sign-in link"));
    let token = enc(&csrf_of(&form));
    // Known or not, the same answer.
    let (status, known) = post_form(app, "/sign-in", &format!("csrf={token}&email=reader1%40example.org"), &[]).await;
    assert_eq!(status, StatusCode::OK);
    let (_, unknown) = post_form(app, "/sign-in", &format!("csrf={token}&email=reader1%40example.org"), &[]).await;
    assert_eq!(known, unknown);
    assert!(known.contains("Check your inbox"));
    let (status, bad) = post_form(app, "/sign-in", &format!("csrf={token}&email=not-an-address"), &[]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(bad.contains("That address does not work"));
    let (status, _) = post_form(app, "/sign-in", "email=reader1%40example.org", &[]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "no CSRF token");

    let sent = deliver_due(&mut *app.state.store(), &mailer, Utc::now(), 100).unwrap();
    assert!(sent.sent >= 2);
    let mails: Vec<_> = sink.received().into_iter().filter(|m| m.to == ["reader1@example.org"]).collect();
    assert_eq!(mails.len(), 2);
    assert_eq!(mails[0].header("Subject").unwrap(), "Sign in to paperboy");
    let first = link_after(&mails[0].body_text(), "http://paperboy.test/sign-in/link?token=");
    let second = link_after(&mails[1].body_text(), "http://paperboy.test/sign-in/link?token=");
    let token_of = |url: &str| url.split("token=").nth(1).unwrap().to_owned();

    // The link shows a button; posting it signs in and sets the cookie.
    let cookie = redeem(app, &token_of(&first), &[]).await;
    let (status, _, account) = page_as(app, &cookie, "/account").await;
    assert_eq!(status, StatusCode::OK);
    assert!(account.contains("Signed in as") && account.contains("reader1@example.org"));
    // A link works once.
    let (_, _, page) = get(app, &format!("/sign-in/link?token={}", token_of(&first))).await;
    let (status, _, body) = request(app, "POST", "/sign-in/link", &[("content-type", "application/x-www-form-urlencoded")], format!("csrf={}&token={}", enc(&csrf_of(&page)), token_of(&first))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("This sign-in link does not work"));
    // An expired link is refused.
    let SignInRequest::Send { token: old, .. } = app.state.store().request_sign_in(&EmailAddress::parse("reader1@example.org").unwrap(), Utc::now() - Duration::minutes(16)).unwrap() else { panic!() };
    let (status, _, _) = request(app, "POST", "/sign-in/link", &[("content-type", "application/x-www-form-urlencoded")], format!("csrf={}&token={old}", enc(&csrf_of(&page)))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Signing in again from the same browser rotates the cookie: the old session ends.
    let rotated = redeem(app, &token_of(&second), &[("cookie", &cookie)]).await;
    assert_ne!(rotated, cookie);
    let (_, _, old_page) = page_as(app, &cookie, "/account").await;
    assert!(old_page.contains("Email me a sign-in link"), "the old session is over");
    // Signing out ends this session and clears the cookie.
    let (status, headers, _) = post_as(app, &rotated, "/sign-out", &format!("csrf={}", csrf(app, &rotated).await)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(headers["set-cookie"].to_str().unwrap().contains("Max-Age=0"));
    let (_, _, after) = page_as(app, &rotated, "/account").await;
    assert!(after.contains("Email me a sign-in link"));
    // Signing out everywhere ends every session of the reader.
    let (a, b) = (sign_in(app, "reader1@example.org").await, sign_in(app, "reader1@example.org").await);
    let (status, _, _) = post_as(app, &a, "/sign-out/everywhere", &format!("csrf={}", csrf(app, &a).await)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    for c in [a, b] {
        let (_, _, page) = page_as(app, &c, "/account").await;
        assert!(page.contains("Email me a sign-in link"));
    }
    // Signing in from a page comes back to it: the link carries the page.
    let (_, _, form) = get(app, &format!("/sign-in?next=/paper/{GDPO}")).await;
    let (status, _) = post_form(app, "/sign-in", &format!("csrf={}&email=reader2%40example.org&next=%2Fpaper%2F{GDPO}", enc(&csrf_of(&form))), &[]).await;
    assert_eq!(status, StatusCode::OK);
    deliver_due(&mut *app.state.store(), &mailer, Utc::now(), 100).unwrap();
    let mail = sink.received().into_iter().find(|m| m.to == ["reader2@example.org"]).expect("a sign-in mail");
    let url = link_after(&mail.body_text(), "http://paperboy.test/sign-in/link?token=");
    assert!(url.ends_with(&format!("&next=%2Fpaper%2F{GDPO}")), "{url}");
    let (_, _, page) = get(app, url.trim_start_matches("http://paperboy.test")).await;
    let action = format!("/sign-in/link?next=%2Fpaper%2F{GDPO}");
    assert!(page.contains(&format!("action=\"{action}\"")), "{page}");
    let token = url.split("token=").nth(1).unwrap().split('&').next().unwrap();
    let (status, headers, _) = request(app, "POST", &action, &[("content-type", "application/x-www-form-urlencoded")], format!("csrf={}&token={token}", enc(&csrf_of(&page)))).await;
    assert_eq!((status, headers["location"].to_str().unwrap()), (StatusCode::SEE_OTHER, format!("/paper/{GDPO}").as_str()));
    // A page that needs a reader sends the signed-out visitor to sign in, and back.
    let (status, headers, _) = get(app, "/collections/1").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers["location"], "/sign-in?next=%2Fcollections%2F1");
}

#[tokio::test]
async fn votes_and_marks_without_and_with_javascript() {
    let app = app();
    let cookie = sign_in(app, "voter@example.org").await;
    let (_, _, day) = page_as(app, &cookie, "/papers/2026-01-09").await;
    assert!(day.contains("action=\"/mark\"") && day.contains("data-kind=\"up\""), "buttons on every list item");
    let token = enc(&csrf_of(&day));
    let before = app.state.store().local_upvotes(&[GDPO.parse().unwrap()]).unwrap().get(&GDPO.parse().unwrap()).copied().unwrap_or(0);
    // Without JavaScript: the form posts and comes back to the page.
    let (status, headers, _) = post_as(app, &cookie, "/mark", &format!("csrf={token}&paper={GDPO}&action=up&next=%2Fpapers%2F2026-01-09")).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers["location"], "/papers/2026-01-09");
    let (_, _, page) = page_as(app, &cookie, &format!("/paper/{GDPO}")).await;
    assert!(page.contains("aria-pressed=\"true\" title=\"Upvote"), "shown as upvoted");
    assert!(page.contains(&format!("{} here", before + 1)), "the local vote counts");
    assert!(page.contains(&format!("{} local votes", before + 1)), "and is in the trending explanation");
    // With JavaScript: the same form, answered in JSON.
    let json_headers = [("cookie", cookie.as_str()), ("content-type", "application/x-www-form-urlencoded"), ("accept", "application/json")];
    let json_post = |form: String| request(app, "POST", "/mark", &json_headers, form);
    let (status, _, body) = json_post(format!("csrf={token}&paper={GDPO}&action=not_for_me")).await;
    assert_eq!(status, StatusCode::OK);
    let state: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(state["vote"], "not_for_me", "one vote per reader and paper");
    assert_eq!(state["upvotes"]["local"], before);
    let (_, _, body) = json_post(format!("csrf={token}&paper={GDPO}&action=read")).await;
    assert_eq!(serde_json::from_str::<serde_json::Value>(&body).unwrap()["read"], true);
    let (_, _, body) = json_post(format!("csrf={token}&paper={GDPO}&action=save")).await;
    assert_eq!(serde_json::from_str::<serde_json::Value>(&body).unwrap()["saved"], true);
    let (_, _, body) = json_post(format!("csrf={token}&paper={GDPO}&action=unsave")).await;
    assert_eq!(serde_json::from_str::<serde_json::Value>(&body).unwrap()["saved"], false);
    let (_, _, body) = json_post(format!("csrf={token}&paper={GDPO}&action=clear_vote")).await;
    assert!(serde_json::from_str::<serde_json::Value>(&body).unwrap()["vote"].is_null());
    // Refused: no CSRF token, another site, an unknown action or paper, nobody signed in.
    let (status, _, _) = post_as(app, &cookie, "/mark", &format!("paper={GDPO}&action=up")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = request(app, "POST", "/mark", &[("cookie", &cookie), ("content-type", "application/x-www-form-urlencoded"), ("sec-fetch-site", "cross-site")], format!("csrf={token}&paper={GDPO}&action=up")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = post_as(app, &cookie, "/mark", &format!("csrf={token}&paper={GDPO}&action=%3Cscript%3E")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _, _) = post_as(app, &cookie, "/mark", &format!("csrf={token}&paper=2601.00000&action=up")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, headers, _) = request(app, "POST", "/mark", &[("content-type", "application/x-www-form-urlencoded")], format!("csrf={token}&paper={GDPO}&action=up&next=%2F")).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(headers["location"].to_str().unwrap().starts_with("/sign-in"), "{headers:?}");
    // `next` never leaves the site.
    let (_, headers, _) = post_as(app, &cookie, "/mark", &format!("csrf={token}&paper={GDPO}&action=read&next=https%3A%2F%2Fevil.example%2F")).await;
    assert_eq!(headers["location"], format!("/paper/{GDPO}"));
    // Anonymous pages have no buttons.
    let (_, _, anonymous) = get(app, "/papers/2026-01-09").await;
    assert!(!anonymous.contains("action=\"/mark\""));
}

fn collection_id(location: &HeaderMap) -> i64 {
    location["location"].to_str().unwrap().trim_start_matches("/collections/").parse().unwrap()
}

#[tokio::test]
async fn collections_are_private_shareable_exportable_and_importable() {
    let app = app();
    let ada = sign_in(app, "ada@example.org").await;
    let eve = sign_in(app, "eve@example.org").await;
    let token = csrf(app, &ada).await;
    // Saving from a list goes to "Saved"; a named collection gets a note.
    let (status, _, _) = post_as(app, &ada, "/mark", &format!("csrf={token}&paper={GDPO}&action=save&next=%2F")).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, headers, _) = post_as(app, &ada, "/collections", &format!("csrf={token}&name=Thesis+%26+%3Cb%3Ereading%3C%2Fb%3E")).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let thesis = collection_id(&headers);
    for (paper, note) in [(GDPO, "Read+%C2%A73+first+%3Cscript%3E"), (OTHER, "")] {
        post_as(app, &ada, "/mark", &format!("csrf={token}&paper={paper}&action=save&collection={thesis}&note={note}&next=%2F")).await;
    }
    let (status, _, page) = page_as(app, &ada, &format!("/collections/{thesis}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Thesis &amp; &lt;b&gt;reading&lt;/b&gt;"), "names are escaped");
    assert!(page.contains("Read §3 first &lt;script&gt;"), "notes are kept and escaped");
    assert!(page.contains("Private: only you can see it."));
    // Another reader cannot see, change or export it; nor can anyone signed out.
    for uri in [format!("/collections/{thesis}"), format!("/collections/{thesis}/export.bib")] {
        let (status, _, _) = page_as(app, &eve, &uri).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
    }
    let eve_token = csrf(app, &eve).await;
    let (status, _, _) = post_as(app, &eve, &format!("/collections/{thesis}"), &format!("csrf={eve_token}&action=share")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = post_as(app, &eve, "/mark", &format!("csrf={eve_token}&paper={GDPO}&action=save&collection={thesis}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Shared by an unguessable link: a read-only page and an Atom feed, for anyone.
    post_as(app, &ada, &format!("/collections/{thesis}"), &format!("csrf={token}&action=share")).await;
    let (_, _, page) = page_as(app, &ada, &format!("/collections/{thesis}")).await;
    let link = link_after(&page, "/shared/");
    let key = link.trim_start_matches("/shared/").to_owned();
    assert_eq!(key.len(), 64);
    let (status, _, shared) = get(app, &link).await;
    assert_eq!(status, StatusCode::OK);
    assert!(shared.contains("GDPO: Group reward-Decoupled") && !shared.contains("Remove from"), "read-only");
    let (status, headers, feed) = get(app, &format!("{link}/feed.xml")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers["content-type"].to_str().unwrap().starts_with("application/atom+xml"));
    assert_eq!(feed.matches("<entry>").count(), 2, "{feed}");
    let (status, _, _) = get(app, &format!("/shared/{}", "0".repeat(64))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    post_as(app, &ada, &format!("/collections/{thesis}"), &format!("csrf={token}&action=unshare")).await;
    let (status, _, _) = get(app, &link).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "unshared: the link stops working");

    // Export: BibTeX a real parser reads, CSL-JSON; both import back to the same papers.
    let (status, headers, bib) = page_as(app, &ada, &format!("/collections/{thesis}/export.bib")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers["content-disposition"].to_str().unwrap().contains(".bib"));
    let parsed = biblatex::Bibliography::parse(&bib).unwrap_or_else(|e| panic!("{e:?}\n{bib}"));
    assert_eq!(parsed.len(), 2);
    let (_, _, csl) = page_as(app, &ada, &format!("/collections/{thesis}/export.json")).await;
    assert_eq!(serde_json::from_str::<serde_json::Value>(&csl).unwrap().as_array().unwrap().len(), 2);
    let (_, _, everything) = page_as(app, &ada, "/account/export.bib").await;
    assert_eq!(biblatex::Bibliography::parse(&everything).unwrap().len(), 2, "the whole account, each paper once");
    for (name, file) in [("From+BibTeX", bib), ("From+CSL", csl)] {
        let (_, headers, _) = post_as(app, &eve, "/collections", &format!("csrf={eve_token}&name={name}")).await;
        let id = collection_id(&headers);
        let boundary = "XpaperboyX";
        let body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"lib\"\r\nContent-Type: application/octet-stream\r\n\r\n{file}\r\n--{boundary}--\r\n",
            csrf_of(&page_as(app, &eve, "/account").await.2)
        );
        let (status, _, report) = request(app, "POST", &format!("/collections/{id}/import"), &[("cookie", &eve), ("content-type", &format!("multipart/form-data; boundary={boundary}"))], body).await;
        assert_eq!(status, StatusCode::OK, "{report}");
        assert!(report.contains("2 matched and saved"), "{report}");
        let saved: Vec<String> = app.state.store().saved_papers(id).unwrap().into_iter().map(|s| s.paper.to_string()).collect();
        let mut saved = saved;
        saved.sort();
        assert_eq!(saved, [OTHER, GDPO], "{name}");
    }
    // An arXiv id this paperboy lacks is fetched from the arXiv API when asked.
    let (_, headers, _) = post_as(app, &eve, "/collections", &format!("csrf={eve_token}&name=Fetched")).await;
    let id = collection_id(&headers);
    let boundary = "XpaperboyX";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"text\"\r\n\r\narXiv:2104.12255\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"fetch\"\r\n\r\non\r\n--{boundary}--\r\n",
        csrf_of(&page_as(app, &eve, "/account").await.2)
    );
    let (status, _, report) = request(app, "POST", &format!("/collections/{id}/import"), &[("cookie", &eve), ("content-type", &format!("multipart/form-data; boundary={boundary}"))], body).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert!(report.contains("Fetched 1 of 1 papers from arXiv") && report.contains("1 matched and saved"), "{report}");
    assert!(app.arxiv.requests().iter().any(|r| r.url.contains("id_list=2104.12255")));
    // Rename, remove, delete.
    post_as(app, &ada, &format!("/collections/{thesis}"), &format!("csrf={token}&action=remove&paper={OTHER}")).await;
    assert_eq!(app.state.store().saved_papers(thesis).unwrap().len(), 1);
    post_as(app, &ada, &format!("/collections/{thesis}"), &format!("csrf={token}&action=rename&name=Done")).await;
    assert_eq!(app.state.store().collection(thesis).unwrap().unwrap().name, "Done");
    let (status, headers, _) = post_as(app, &ada, &format!("/collections/{thesis}"), &format!("csrf={token}&action=delete")).await;
    assert_eq!((status, headers["location"].to_str().unwrap()), (StatusCode::SEE_OTHER, "/account"));
    assert!(app.state.store().collection(thesis).unwrap().is_none());
}

#[tokio::test]
async fn author_pages_feeds_and_following() {
    let app = app();
    let (status, _, page) = get(app, &format!("/paper/{GDPO}")).await;
    assert_eq!(status, StatusCode::OK);
    let author = link_after(&page, "/author/");
    assert_eq!(author, "/author/shih-yang-liu");
    let (status, _, page) = get(app, &author).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Papers by Shih-Yang Liu") && page.contains("GDPO"));
    let (_, headers, feed) = get(app, &format!("{author}/feed.xml")).await;
    assert!(headers["content-type"].to_str().unwrap().starts_with("application/atom+xml"));
    assert!(feed.contains("GDPO"));
    let (status, _, _) = get(app, "/author/nobody-at-all-here").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let cookie = sign_in(app, "follower@example.org").await;
    let token = csrf(app, &cookie).await;
    let (status, headers, _) = post_as(app, &cookie, "/follow", &format!("csrf={token}&name=Shih-Yang+Liu&action=follow&next=%2Fauthor%2Fshih-yang-liu")).await;
    assert_eq!((status, headers["location"].to_str().unwrap()), (StatusCode::SEE_OTHER, "/author/shih-yang-liu"));
    let (_, _, page) = page_as(app, &cookie, &author).await;
    assert!(page.contains("aria-pressed=\"true\">Following"));
    let (_, _, account) = page_as(app, &cookie, "/account").await;
    assert!(account.contains("href=\"/author/shih-yang-liu\""));
    post_as(app, &cookie, "/follow", &format!("csrf={token}&name=Shih-Yang+Liu&action=unfollow")).await;
    let (_, _, account) = page_as(app, &cookie, "/account").await;
    assert!(account.contains("None yet: follow authors"));
}

#[tokio::test]
async fn api_tokens_vote_and_collect_and_stop_when_revoked() {
    let app = app();
    let cookie = sign_in(app, "scripter@example.org").await;
    let token = csrf(app, &cookie).await;
    let (status, _, page) = post_as(app, &cookie, "/account/tokens", &format!("csrf={token}&name=my+script")).await;
    assert_eq!(status, StatusCode::OK);
    let secret = page.split("<code class=\"token\">").nth(1).unwrap().split('<').next().unwrap().to_owned();
    assert!(secret.starts_with("pb_"));
    let bearer = format!("Bearer {secret}");
    let api = |method: &'static str, uri: String, body: &'static str| {
        let bearer = bearer.clone();
        async move { request(app, method, &uri, &[("authorization", &bearer), ("content-type", "application/json")], body).await }
    };
    let (status, _, me) = api("GET", "/api/v1/me".into(), "").await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert!(me.contains("scripter@example.org"));
    let (status, _, marks) = api("POST", format!("/api/v1/marks/{GDPO}"), r#"{"vote": "up", "read": true}"#).await;
    assert_eq!(status, StatusCode::OK, "{marks}");
    let marks: serde_json::Value = serde_json::from_str(&marks).unwrap();
    assert_eq!((marks["vote"].as_str(), marks["read"].as_bool()), (Some("up"), Some(true)));
    let (_, _, marks) = api("POST", format!("/api/v1/marks/{GDPO}"), r#"{"vote": null}"#).await;
    assert!(serde_json::from_str::<serde_json::Value>(&marks).unwrap()["vote"].is_null());
    let (status, _, bad) = api("POST", format!("/api/v1/marks/{GDPO}"), r#"{"vote": "down"}"#).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    let (status, _, made) = api("POST", "/api/v1/collections".into(), r#"{"name": "From the API"}"#).await;
    assert_eq!(status, StatusCode::CREATED);
    let id = serde_json::from_str::<serde_json::Value>(&made).unwrap()["id"].as_i64().unwrap();
    let (status, _, _) = api("POST", format!("/api/v1/collections/{id}/papers"), r#"{"paper": "2601.05242", "note": "via API"}"#).await;
    assert_eq!(status, StatusCode::OK);
    let (_, _, one) = api("GET", format!("/api/v1/collections/{id}"), "").await;
    let one: serde_json::Value = serde_json::from_str(&one).unwrap();
    assert_eq!(one["items"][0]["note"], "via API");
    let (_, _, removed) = api("DELETE", format!("/api/v1/collections/{id}/papers/{GDPO}"), "").await;
    assert!(removed.contains("\"removed\":true"));
    // Another reader's collection does not exist for this token.
    let other = app.state.store().create_collection(app.state.store().subscriber_by_email(&EmailAddress::parse("ada@example.org").unwrap()).unwrap().map_or_else(|| 0, |r| r.id), "Ada's", Utc::now());
    if let Ok(c) = other {
        let (status, _, _) = api("GET", format!("/api/v1/collections/{}", c.id), "").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    // Revoked: the token stops working.
    let tokens = app.state.store().api_tokens(app.state.store().subscriber_by_email(&EmailAddress::parse("scripter@example.org").unwrap()).unwrap().unwrap().id).unwrap();
    let (status, _, _) = post_as(app, &cookie, &format!("/account/tokens/{}/revoke", tokens[0].id), &format!("csrf={token}")).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, _, body) = api("GET", "/api/v1/me".into(), "").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("\"unauthorized\""));
}

#[tokio::test]
async fn deleting_an_account_leaves_nothing_behind() {
    let app = app();
    let email = EmailAddress::parse("leaving@example.org").unwrap();
    // A digest subscriber who signs in is one person with the reader.
    app.state.store().import_subscriber(&email, paperboy_engine::subscriptions::Frequency::Weekly, &Default::default(), true, Utc::now()).unwrap();
    let cookie = sign_in(app, "Leaving@Example.org").await;
    let id = app.state.store().subscriber_by_email(&email).unwrap().unwrap().id;
    let token = csrf(app, &cookie).await;
    let (_, _, account) = page_as(app, &cookie, "/account").await;
    assert!(account.contains("You get the weekly digest"), "the subscription shows on the account page");
    post_as(app, &cookie, "/mark", &format!("csrf={token}&paper={GDPO}&action=up")).await;
    post_as(app, &cookie, "/mark", &format!("csrf={token}&paper={OTHER}&action=save&new_collection=Mine&note=n")).await;
    post_as(app, &cookie, "/follow", &format!("csrf={token}&name=Shih-Yang+Liu&action=follow")).await;
    post_as(app, &cookie, "/account/tokens", &format!("csrf={token}&name=t")).await;
    let mine = app.state.store().collections(id).unwrap()[0].id;
    let message = paperboy_engine::outbox::OutgoingMessage { message_id: "<leaving@t>".into(), recipient: email.to_string(), subject: "s".into(), html: "h".into(), text: "t".into(), unsubscribe_url: None };
    app.state.store().enqueue_digest(id, "weekly:2026-W01", "2026-01-04".parse().unwrap(), &[GDPO.parse().unwrap()], &message, Utc::now()).unwrap();
    // Download my data.
    let (status, headers, data) = page_as(app, &cookie, "/account/data.json").await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers["content-disposition"].to_str().unwrap().starts_with("attachment"));
    let data: serde_json::Value = serde_json::from_str(&data).unwrap();
    assert_eq!(data["reader"]["email"], "leaving@example.org");
    assert_eq!(data["votes"][0]["vote"], "up");
    assert_eq!(data["collections"][0][0]["name"], "Mine");
    assert_eq!(data["follows"][0]["name"], "Shih-Yang Liu");
    assert_eq!(data["api_tokens"].as_array().unwrap().len(), 1);
    // The wrong address deletes nothing; the right one deletes everything and says so.
    let (status, _, _) = post_as(app, &cookie, "/account/delete", &format!("csrf={token}&confirm=someone%40example.org")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(app.state.store().subscriber_by_email(&email).unwrap().is_some());
    let (status, headers, page) = post_as(app, &cookie, "/account/delete", &format!("csrf={token}&confirm=leaving%40example.org")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Your account is deleted") && page.contains("the record of what it sent you"));
    assert!(headers["set-cookie"].to_str().unwrap().contains("Max-Age=0"));
    assert!(app.state.store().subscriber_by_email(&email).unwrap().is_none());
    // Other tests run at once on this store (and SQLite may give the freed id to a new reader),
    // so rows are told apart by the address here; the store suite checks every row by id.
    for table in TABLES {
        let rows = format!("{:?}", app.state.store().export_rows(table, None, 1_000_000).unwrap());
        assert!(!rows.contains("leaving@example.org"), "{}: the address is gone", table.name);
    }
    // SQLite may give the freed collection id to another test's new collection at once.
    assert!(app.state.store().collection(mine).unwrap().is_none_or(|c| c.name != "Mine"), "the collection is gone");
    let (_, _, after) = page_as(app, &cookie, "/account").await;
    assert!(after.contains("Email me a sign-in link"), "the session went with the account");
}
