//! Every route, in process, over the demo corpus.

use axum::http::StatusCode;
use paperboy_core::EmailAddress;
use quick_xml::events::Event;

use crate::common::*;

#[tokio::test]
async fn home_shows_the_latest_day_with_week_and_month_switches() {
    let (status, headers, html) = get(app(), "/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers["content-security-policy"].to_str().unwrap().contains("script-src 'self'"));
    assert!(html.contains("Papers of Friday, 21 August 2026"), "{html}");
    assert!(html.contains("EnvHarness: Awakening Static Worlds for Agent Learning"));
    assert!(html.contains("Trending this week"));
    assert!(html.contains("href=\"/papers/2026-08-20\""), "a link to the previous day");
    assert!(html.contains("Get trending papers in your email inbox once a day"));
    let (_, _, week) = get(app(), "/?period=week").await;
    assert!(week.contains("Trending in the week to Friday, 21 August 2026"));
    let (_, _, month) = get(app(), "/?period=month&page=2").await;
    assert!(month.contains("Page 2"));
    let (status, _, _) = get(app(), "/?period=year").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn day_pages_and_unknown_days() {
    let (status, _, html) = get(app(), "/papers/2026-01-09").await;
    assert_eq!(status, StatusCode::OK);
    let first = html.find("GDPO: Group reward-Decoupled").expect("GDPO listed");
    let second = html.find("2601.05241").expect("the second paper of the day");
    assert!(first < second, "most upvoted first");
    let (status, _, html) = get(app(), "/papers/2019-01-01").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("No papers on this day."));
    let (status, _, html) = get(app(), "/papers/2026-13-40").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(html.contains("is not a day"));
}

#[tokio::test]
async fn paper_page_has_everything_and_unknown_ids_are_404() {
    let (status, _, html) = get(app(), "/paper/2601.05242").await;
    assert_eq!(status, StatusCode::OK);
    for want in ["GDPO: Group reward-Decoupled", "https://arxiv.org/abs/2601.05242", "https://arxiv.org/pdf/2601.05242", "Why trending", "#1 of", "Similar papers", "Shih-Yang Liu"] {
        assert!(html.contains(want), "{want} missing");
    }
    let similar = &html[html.find("similar-title").unwrap()..];
    assert!(similar.matches("class=\"paper\"").count() >= 3, "similar papers listed");
    assert!(!similar.contains("href=\"/paper/2601.05242\""), "never the paper itself");
    let (_, _, math) = get(app(), &format!("/paper/{MATH_PAPER}")).await;
    assert!(math.contains("$H_8$"), "LaTeX is left for KaTeX in the browser");
    assert!(math.contains("href=\"/category/math.QA\""));
    for (uri, status) in [("/paper/2601.00000", 404), ("/paper/not-an-id", 404), ("/paper/hep-th/9901001", 404), ("/nowhere", 404)] {
        let (s, _, html) = get(app(), uri).await;
        assert_eq!(s.as_u16(), status, "{uri}");
        assert!(html.contains("Not found"), "{uri}: a proper page");
    }
}

#[tokio::test]
async fn everything_rendered_is_escaped() {
    let (status, _, html) = get(app(), &format!("/paper/{HOSTILE_PAPER}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!html.contains("<script>alert"), "title escaped");
    assert!(!html.contains("<img src=x"), "abstract escaped");
    assert!(!html.contains("<b>Bold</b>"), "author escaped");
    assert!(html.contains("&lt;script&gt;alert('title')&lt;/script&gt; &amp; $x&lt;y$"));
    assert!(html.contains("a &amp; b &lt; c"));
    assert!(!html.contains("javascript:"), "only http(s) links are rendered");
    // The day page lists it, escaped too.
    let (_, _, day) = get(app(), "/").await;
    assert!(!day.contains("<script>alert"));
    // So do search snippets and feeds.
    let (_, _, search) = get(app(), "/search?q=onerror+alert&mode=bm25").await;
    assert!(search.contains(HOSTILE_PAPER), "found");
    assert!(!search.contains("<img src=x"));
    let (_, _, feed) = get(app(), "/feeds/daily.xml").await;
    assert!(!feed.contains("<script>"));
    assert!(feed.contains("&lt;script&gt;"));
}

#[tokio::test]
async fn search_page_modes_filters_pagination_and_no_results() {
    let (status, _, html) = get(app(), "/search").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("<label for=\"q\">"), "labelled query box");
    assert!(html.contains("How to search") && html.contains("leaves out every paper with it"), "search tips");
    let (status, _, html) = get(app(), "/search?q=protein+structure+prediction").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Results 1–30"), "{html}");
    assert!(html.contains("<b>protein</b>") || html.contains("<b>Protein</b>"), "highlighted snippet");
    assert!(html.contains("rel=\"next\""), "pagination");
    let (_, _, page2) = get(app(), "/search?q=protein+structure+prediction&page=2").await;
    assert!(page2.contains("Results 31–"));
    let (_, _, sem) = get(app(), "/search?q=robots+that+learn+to+grasp+objects&mode=semantic").await;
    assert!(sem.contains("meaning #1"));
    let (_, _, none) = get(app(), "/search?q=zzqxjv+wvkpfh&mode=bm25").await;
    assert!(none.contains("No results for “zzqxjv wvkpfh”"));
    assert!(none.contains("Search by meaning too"));
    // A person's name: their papers first, and a pointer to their author page.
    for q in ["Yuxing+Shi", "Shi%2C+Yuxing", "Y.+Shi"] {
        let (_, _, by_name) = get(app(), &format!("/search?q={q}")).await;
        let first = by_name.split("<li class=\"paper\"").nth(1).unwrap_or_default();
        // "Y. Shi" may be another Y. Shi of the corpus.
        assert!(first.contains(">author</span>"), "{q}: the first paper is not by a person so named");
        if q != "Y.+Shi" {
            assert!(first.contains("href=\"/author/yuxing-shi\""), "{q}: the first paper is not by the author named");
            assert!(by_name.contains("Papers by <a href=\"/author/yuxing-shi\">Yuxing Shi</a> come first"), "{q}: {by_name}");
        }
    }
    let (_, _, filtered) = get(app(), "/search?q=Hopf+algebras&mode=bm25&category=math.QA&since=2000-01-01").await;
    assert!(filtered.contains(MATH_PAPER), "category filter keeps the math paper");
    let (status, _, _) = get(app(), &format!("/search?q={}", "a".repeat(1001))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _, _) = get(app(), "/search?q=x&since=yesterday").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _, _) = get(app(), &format!("/search?q={}", "a".repeat(17_000))).await;
    assert_eq!(status, StatusCode::URI_TOO_LONG);
}

#[tokio::test]
async fn category_pages() {
    let (status, _, html) = get(app(), "/category/math.QA").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Quantum Algebra (math.QA)"));
    assert!(html.contains(MATH_PAPER));
    let (status, _, _) = get(app(), "/category/no%20such").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn json_api_routes_and_error_shape() {
    let (status, v) = get_json(app(), "/api/v1/papers?date=2026-01-09&limit=2").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["papers"].as_array().unwrap().len(), 2);
    assert_eq!(v["papers"][0]["id"], "2601.05242");
    assert_eq!(v["papers"][0]["url"], "http://paperboy.test/paper/2601.05242");
    assert!(v["total"].as_u64().unwrap() > 2);
    let (_, v) = get_json(app(), "/api/v1/papers").await;
    assert_eq!(v["date"], "2026-08-21");
    let (status, v) = get_json(app(), "/api/v1/papers/2601.05242").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["paper"]["title"].as_str().unwrap().split(':').next(), Some("GDPO"));
    let (_, v) = get_json(app(), "/api/v1/papers/2601.05242/similar?limit=5").await;
    let hits = v["hits"].as_array().unwrap();
    assert_eq!(hits.len(), 5);
    assert!(hits.iter().all(|h| h["paper"]["id"] != "2601.05242"));
    let (_, v) = get_json(app(), "/api/v1/search?q=protein+folding&mode=hybrid&limit=3").await;
    assert_eq!(v["hits"].as_array().unwrap().len(), 3);
    assert!(v["hits"][0]["explain"]["vector_rank"].is_number() || v["hits"][0]["explain"]["bm25_rank"].is_number());
    let (_, v2) = get_json(app(), "/api/v1/search?q=protein+folding&mode=hybrid&limit=2&offset=1").await;
    assert_eq!(v2["hits"][0]["id"], v["hits"][1]["id"], "offset pages through the same ranking");
    let (_, v) = get_json(app(), "/api/v1/trending?window=week&date=2026-01-11&limit=3").await;
    let ids: Vec<&str> = v["papers"].as_array().unwrap().iter().map(|p| p["paper"]["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["2601.05242", "2601.02151", "2601.03252"]);
    assert_eq!(v["papers"][0]["why"]["upvotes"], 58);
    for (uri, status, code) in [
        ("/api/v1/papers/2601.00000", 404, "not_found"),
        ("/api/v1/papers/%3Cscript%3E", 404, "not_found"),
        ("/api/v1/papers/2601.00000/similar", 404, "not_found"),
        ("/api/v1/search", 400, "bad_request"),
        ("/api/v1/search?q=x&mode=fuzzy", 400, "bad_request"),
        ("/api/v1/search?q=x&limit=101", 400, "bad_request"),
        ("/api/v1/search?q=x&limit=-1", 400, "bad_request"),
        ("/api/v1/papers?date=2026-02-30", 400, "bad_request"),
        ("/api/v1/trending?window=year", 400, "bad_request"),
    ] {
        let (s, v) = get_json(app(), uri).await;
        assert_eq!(s.as_u16(), status, "{uri}");
        assert_eq!(v["error"]["code"], code, "{uri}");
        assert!(!v["error"]["message"].as_str().unwrap().is_empty());
    }
    let (s, v) = get_json(app(), &format!("/api/v1/search?q={}", "b".repeat(17_000))).await;
    assert_eq!((s.as_u16(), v["error"]["code"].as_str()), (414, Some("too_long")));
    let (s, v) = get_json(app(), "/healthz").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["search"]["ready"], true);
}

#[tokio::test]
async fn openapi_document_matches_the_routes() {
    let (status, doc) = get_json(app(), "/api/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let mut documented: Vec<String> = doc["paths"].as_object().unwrap().keys().cloned().collect();
    documented.sort();
    // The router's API routes, read from its source.
    let source = include_str!("../../src/lib.rs");
    let mut routed: Vec<String> = source
        .split(".route(\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap().to_owned())
        .filter(|p| p.starts_with("/api/") || p == "/healthz")
        // A path that takes old-style ids with their slash is a wildcard route, `{id}` to clients.
        .map(|p| p.replace("{*", "{"))
        .collect();
    routed.sort();
    assert_eq!(documented, routed);
    // Every documented operation answers (with its example parameters where needed); those
    // of a reader's own data want a token.
    for path in documented.iter().filter(|p| doc["paths"][p.as_str()].get("get").is_some()) {
        let uri = path.replace("{id}", if path.contains("collections") { "1" } else { "2601.05242" })
            + if path.ends_with("/search") { "?q=agents" } else { "" };
        let (status, _, body) = get(app(), &uri).await;
        if doc["paths"][path.as_str()]["get"].get("security").is_some() {
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{uri}: {body}");
            assert!(body.contains("\"unauthorized\""), "{uri}: {body}");
        } else {
            assert_eq!(status, StatusCode::OK, "{uri}");
        }
    }
}

fn items(xml: &str, item: &[u8]) -> usize {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut n = 0;
    loop {
        match reader.read_event().unwrap_or_else(|e| panic!("feed is not XML: {e}")) {
            Event::Start(e) if e.name().as_ref() == item => n += 1,
            Event::Eof => return n,
            _ => {}
        }
    }
}

#[tokio::test]
async fn feeds_in_rss_and_atom() {
    let (status, headers, rss) = get(app(), "/feeds/daily.xml").await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers["content-type"].to_str().unwrap().starts_with("application/rss+xml"));
    assert!(items(&rss, b"item") >= 10);
    assert!(rss.contains("<link>http://paperboy.test/paper/2608.19880</link>"));
    let (_, headers, atom) = get(app(), "/feeds/daily.xml?format=atom").await;
    assert!(headers["content-type"].to_str().unwrap().starts_with("application/atom+xml"));
    assert!(items(&atom, b"entry") >= 10);
    let (_, _, trending) = get(app(), "/feeds/trending.xml?window=month").await;
    assert_eq!(items(&trending, b"item"), 30);
    let (_, _, cat) = get(app(), "/feeds/category/math.QA.xml").await;
    assert!(cat.contains(MATH_PAPER));
    let (_, _, cat_atom) = get(app(), "/feeds/category/math.QA.atom").await;
    assert!(items(&cat_atom, b"entry") >= 1);
    let (_, _, search) = get(app(), "/feeds/search.xml?q=protein+folding").await;
    assert_eq!(items(&search, b"item"), 30);
    let (status, _, _) = get(app(), "/feeds/search.xml").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _, _) = get(app(), "/feeds/category/cs.LG.json").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn subscribe_needs_a_csrf_token_and_a_real_address() {
    let (_, _, home) = get(app(), "/").await;
    let token = csrf_of(&home);
    let (status, html) = post_form(app(), "/subscribe", "email=reader%40example.org&frequency=daily", &[]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "no token");
    assert!(html.contains("security token"));
    let form = format!("csrf={}&email=reader%40example.org&frequency=weekly&interests=graph+neural+networks", enc(&token));
    let (status, _) = post_form(app(), "/subscribe", &form, &[("origin", "https://evil.example"), ("host", "paperboy.test")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "cross-site post");
    let (status, html) = post_form(app(), "/subscribe", &form, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Check your inbox"));
    let sub = app().state.store().subscriber_by_email(&EmailAddress::parse("reader@example.org").unwrap()).unwrap().expect("stored");
    assert_eq!(sub.frequency.as_str(), "weekly");
    assert_eq!(sub.interests.text, "graph neural networks");
    // The same answer again for a known address.
    let (status, again) = post_form(app(), "/subscribe", &form, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(again.contains("Check your inbox"));
    let bad = format!("csrf={}&email=reader%40example.org%0D%0ABcc%3A+x%40example.org", enc(&token));
    let (status, html) = post_form(app(), "/subscribe", &bad, &[]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(html.contains("That address does not work"));
    let huge = format!("csrf={}&email={}", enc(&token), "a".repeat(20_000));
    let (status, _) = post_form(app(), "/subscribe", &huge, &[]).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn rate_limits_answer_429_with_retry_after() {
    let app = limited_app();
    let mut limited = None;
    for _ in 0..10 {
        let (status, headers, _) = get(app, "/api/v1/search?q=agents&mode=bm25").await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(headers);
            break;
        }
        assert_eq!(status, StatusCode::OK);
    }
    let headers = limited.expect("the sixth search in a burst is refused");
    assert!(headers["retry-after"].to_str().unwrap().parse::<u64>().unwrap() >= 1);
    let (_, v) = get_json(app, "/api/v1/search?q=agents&mode=bm25").await;
    assert_eq!(v["error"]["code"], "rate_limited");
    // A client cannot pick another bucket by naming itself: no proxy is trusted here.
    for spoofed in ["203.0.113.1", "203.0.113.2"] {
        let (status, _, _) = request(app, "GET", "/api/v1/search?q=agents&mode=bm25", &[("x-forwarded-for", spoofed), ("forwarded", "for=198.51.100.7")], "").await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "X-Forwarded-For from an untrusted peer is ignored");
    }
    // Pages that cost little are not limited.
    let (status, _, _) = get(app, "/").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn subscribe_api_takes_json_and_answers_the_same_for_known_addresses() {
    use axum::body::Body;
    use axum::http::Request;
    use http_body_util::BodyExt;
    async fn post(body: &str) -> (StatusCode, serde_json::Value) {
        let req = Request::post("/api/v1/subscriptions").header("content-type", "application/json").body(Body::from(body.to_owned())).unwrap();
        let res = send(app(), req).await;
        let status = res.status();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&bytes))))
    }
    let body = r#"{"email":"api@example.org","frequency":"weekly","interests":{"text":"sparse attention","categories":["cs.LG"],"include":["attention"],"exclude":["survey"]}}"#;
    let (status, first) = post(body).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (status, again) = post(body).await;
    assert_eq!((status, &again), (StatusCode::ACCEPTED, &first), "the same answer for a known address");
    let sub = app().state.store().subscriber_by_email(&EmailAddress::parse("api@example.org").unwrap()).unwrap().unwrap();
    assert_eq!(sub.interests.categories[0].as_str(), "cs.LG");
    assert_eq!(sub.interests.exclude, ["survey"]);
    for bad in [r#"{"email":"nope"}"#, r#"{"email":"a@example.org","frequency":"hourly"}"#, r#"{"email":"a@example.org","interests":{"categories":["xx"]}}"#, "not json", r#"{"email":"a@example.org","admin":true}"#] {
        let (status, v) = post(bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(v["error"]["code"], "bad_request");
    }
}

/// Heading levels in the order a page has them (`<h1`…`<h6`).
fn heading_levels(html: &str) -> Vec<u8> {
    html.match_indices("<h").filter_map(|(i, _)| html.as_bytes().get(i + 2).copied().filter(u8::is_ascii_digit).map(|b| b - b'0')).collect()
}

/// axe-core's `heading-order` and `landmark-unique`, for every kind of list page: one h1 first,
/// no level skipped on the way down, and the two search forms told apart by their labels.
#[tokio::test]
async fn headings_go_in_order_and_search_landmarks_are_named() {
    let pages = ["/".to_owned(), "/?period=week".into(), "/papers/2026-08-21".into(), "/category/math.QA".into(), "/search?q=diffusion".into(), format!("/paper/{MATH_PAPER}")];
    for page in &pages {
        let (status, _, html) = get(app(), page).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let levels = heading_levels(&html);
        assert_eq!(levels.first(), Some(&1), "{page}: {levels:?}");
        assert_eq!(levels.iter().filter(|l| **l == 1).count(), 1, "{page}: one h1");
        assert!(levels.windows(2).all(|w| w[1] <= w[0] + 1), "{page}: a level skipped in {levels:?}");
    }
    let (_, _, search) = get(app(), "/search?q=diffusion").await;
    assert!(search.contains(r#"role="search" aria-label="Quick search""#) && search.contains(r#"role="search" aria-label="Search papers""#));
}

#[tokio::test]
async fn feeds_and_api_answers_carry_etags_304_and_compression() {
    use std::io::Read;
    let (status, headers, plain) = get(app(), "/feeds/daily.xml").await;
    assert_eq!(status, StatusCode::OK);
    let tag = headers["etag"].to_str().unwrap().to_owned();
    assert!(tag.starts_with('"') && tag.ends_with('"') && !tag.starts_with("W/"), "a strong tag: {tag}");
    // The poll of an unchanged feed: 304, no body, the same tag.
    let (status, headers, body) = request(app(), "GET", "/feeds/daily.xml", &[("if-none-match", &tag)], "").await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert!(body.is_empty());
    assert_eq!(headers["etag"].to_str().unwrap(), tag);
    let (status, _, _) = request(app(), "GET", "/feeds/daily.xml", &[("if-none-match", "\"0000\"")], "").await;
    assert_eq!(status, StatusCode::OK, "another tag: the whole feed");
    // gzip and br when asked; the compressed body is the same feed, under its own tag.
    let res = send(app(), axum::http::Request::get("/feeds/daily.xml").header("accept-encoding", "gzip").body(axum::body::Body::empty()).unwrap()).await;
    assert_eq!(res.headers()["content-encoding"], "gzip");
    assert!(res.headers()["vary"].to_str().unwrap().to_lowercase().contains("accept-encoding"));
    let gz_tag = res.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(gz_tag, format!("{}-gzip\"", tag.trim_end_matches('"')));
    let bytes = http_body_util::BodyExt::collect(res.into_body()).await.unwrap().to_bytes();
    assert!(bytes.len() < plain.len() / 2, "{} of {} bytes", bytes.len(), plain.len());
    let mut unzipped = String::new();
    flate2::read::GzDecoder::new(&bytes[..]).read_to_string(&mut unzipped).unwrap();
    assert_eq!(unzipped, plain);
    let (status, _, _) = request(app(), "GET", "/feeds/daily.xml", &[("if-none-match", &gz_tag), ("accept-encoding", "gzip")], "").await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    let res = send(app(), axum::http::Request::get("/api/v1/papers").header("accept-encoding", "br").body(axum::body::Body::empty()).unwrap()).await;
    assert_eq!(res.headers()["content-encoding"], "br");
    // The JSON API too.
    let (_, headers, _) = get(app(), "/api/v1/trending?window=week").await;
    let tag = headers["etag"].to_str().unwrap().to_owned();
    let (status, _, _) = request(app(), "GET", "/api/v1/trending?window=week", &[("if-none-match", &tag)], "").await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    // Last-Modified, for clients that poll with If-Modified-Since alone (a feed no other test
    // changes: local votes move trending).
    let (_, headers, _) = get(app(), "/feeds/category/math.QA.xml").await;
    let modified = headers["last-modified"].to_str().unwrap().to_owned();
    assert!(modified.ends_with(" GMT"), "{modified}");
    // A copy from the second the body was first served may predate it (another body in that
    // second); one from a later second is this body.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let later = (chrono::DateTime::parse_from_rfc2822(&modified).unwrap() + chrono::Duration::seconds(1)).format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    let (status, headers, body) = request(app(), "GET", "/feeds/category/math.QA.xml", &[("if-modified-since", &later)], "").await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert!(body.is_empty());
    assert_eq!(headers["last-modified"].to_str().unwrap(), modified);
    let (status, _, _) = request(app(), "GET", "/feeds/category/math.QA.xml", &[("if-modified-since", "Sat, 01 Jan 2000 00:00:00 GMT")], "").await;
    assert_eq!(status, StatusCode::OK, "an older copy gets the feed");
    let (status, _, _) = request(app(), "GET", "/feeds/category/math.QA.xml", &[("if-modified-since", &later), ("if-none-match", "\"0000\"")], "").await;
    assert_eq!(status, StatusCode::OK, "If-None-Match, when sent, decides");
}

#[tokio::test]
async fn every_api_error_is_the_json_envelope() {
    let envelope = |body: &str| -> serde_json::Value { serde_json::from_str(body).unwrap_or_else(|e| panic!("not the JSON envelope ({e}): {body}")) };
    let (status, headers, body) = request(app(), "DELETE", "/api/v1/papers", &[], "").await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(headers["allow"].to_str().unwrap().contains("GET"), "{headers:?}");
    assert_eq!(envelope(&body)["error"]["code"], "method_not_allowed");
    let (status, _, body) = request(app(), "GET", "/api/v1/nothing-here", &[], "").await;
    assert_eq!((status, envelope(&body)["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
    let (status, _, body) = request(app(), "POST", "/api/v1/subscriptions", &[("content-type", "text/plain")], r#"{"email":"x@example.org"}"#).await;
    assert_eq!((status, envelope(&body)["error"]["code"].as_str()), (StatusCode::UNSUPPORTED_MEDIA_TYPE, Some("unsupported_media_type")));
    let huge = format!(r#"{{"email":"x@example.org","interests":{{"text":"{}"}}}}"#, "a".repeat(40_000));
    let (status, _, body) = request(app(), "POST", "/api/v1/subscriptions", &[("content-type", "application/json")], huge).await;
    assert_eq!((status, envelope(&body)["error"]["code"].as_str()), (StatusCode::PAYLOAD_TOO_LARGE, Some("too_large")));
    // Pages keep their HTML.
    let (status, headers, _) = request(app(), "DELETE", "/", &[], "").await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(!headers.get("content-type").is_some_and(|v| v.to_str().unwrap().starts_with("application/json")));
}

/// A store whose papers carry no categories (Hugging Face's lists alone) says why its category
/// pages are empty, instead of showing a bare list.
#[tokio::test]
async fn a_store_without_categories_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = paperboy_engine::SqliteStore::open(&dir.path().join("p.db")).unwrap();
    let mut paper = paperboy_core::Paper::new("2608.00001".parse().unwrap(), "A paper from a daily list", paperboy_core::Source::HfDaily);
    paper.listed_on = Some("2026-08-21".parse().unwrap());
    paperboy_engine::PaperStore::upsert_papers(&mut store, vec![paper]).unwrap();
    let stores: Vec<Box<dyn paperboy_engine::Store>> = vec![Box::new(store)];
    let bare = TestApp { state: paperboy_web::AppState::new(stores, None, paperboy_web::WebConfig::new("http://paperboy.test")), arxiv: paperboy_testkit::ReplayServer::start(|_, _| paperboy_testkit::Reply::ok(Vec::new())), _dir: dir };
    let (status, _, page) = get(&bare, "/category/cs.LG").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("No paper here has arXiv categories yet") && page.contains("paperboy harvest"), "{page}");
    // With categories (the demo corpus has arXiv's), an empty category is just empty.
    let (_, _, page) = get(app(), "/category/q-bio.XX").await;
    assert!(page.contains("No papers in this category yet.") && !page.contains("No paper here has arXiv categories"));
}

#[tokio::test]
async fn a_pasted_paper_reference_opens_the_paper() {
    for q in [format!("https://arxiv.org/abs/{MATH_PAPER}v1"), format!("arXiv:{MATH_PAPER}"), format!("  {MATH_PAPER}  "), format!("https://arxiv.org/pdf/{MATH_PAPER}v2.pdf"), "https://huggingface.co/papers/2608.19880".into(), "https://www.alphaxiv.org/abs/2608.19880?x=1".into()] {
        let (status, headers, _) = get(app(), &format!("/search?q={}", enc(&q))).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{q}");
        let to = headers["location"].to_str().unwrap();
        assert!(to == format!("/paper/{MATH_PAPER}") || to == "/paper/2608.19880", "{q} → {to}");
    }
    let (status, _, page) = get(app(), "/search?q=2401.99999").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("arXiv 2401.99999 is not in this instance yet") && page.contains("https://arxiv.org/abs/2401.99999"), "{page}");
    let (status, _, page) = get(app(), "/search?q=https%3A%2F%2Fdoi.org%2F10.9999%2Fnothing").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("No paper here has the DOI <code>10.9999/nothing</code>"), "{page}");
    // Words are searched as words, and other addresses are not followed.
    let (status, _, _) = get(app(), "/search?q=https%3A%2F%2Fevil.example%2Fabs%2F2401.00001").await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = get(app(), &format!("/search?q={MATH_PAPER}+quantum")).await;
    assert_eq!(status, StatusCode::OK);
}
