//! "For you" over the demo corpus with the real model: the ranking follows the votes (a "not
//! for me" paper and its near neighbours drop), explanations name the reader's own rated
//! papers, nothing voted on or already emailed appears, cold start from the interests, the
//! private feed, and the page that shows what the model learned from.

use std::collections::HashSet;

use axum::http::StatusCode;
use chrono::{Days, Utc};
use paperboy_core::{EmailAddress, PaperId};
use paperboy_engine::readers::{SignInRequest, Vote};
use paperboy_engine::recommend::{self, Because};

use crate::common::*;

async fn sign_in(app: &TestApp, email: &str) -> (String, i64) {
    let SignInRequest::Send { token, reader } = app.state.store().request_sign_in(&EmailAddress::parse(email).unwrap(), Utc::now()).unwrap() else { panic!() };
    let (_, _, page) = get(app, &format!("/sign-in/link?token={token}")).await;
    let (_, headers, _) = request(app, "POST", "/sign-in/link", &[("content-type", "application/x-www-form-urlencoded")], format!("csrf={}&token={token}", enc(&csrf_of(&page)))).await;
    (headers["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned(), reader)
}

/// The reader's full ranking of the latest week.
fn ranking(app: &TestApp, reader: i64) -> Vec<PaperId> {
    let service = app.state.search().unwrap();
    let store = app.state.store();
    let sub = store.subscriber_by_email(&store.subscribers(10_000).unwrap().into_iter().find(|s| s.id == reader).unwrap().email).unwrap().unwrap();
    let model = recommend::model(&*store, &service, &sub).unwrap();
    let latest = store.latest_day().unwrap().unwrap();
    recommend::recommend(&service, &model, latest.checked_sub_days(Days::new(6)).unwrap(), latest, &HashSet::new(), 0, 1000).into_iter().map(|(id, _)| id).collect()
}

#[tokio::test]
async fn for_you_learns_from_votes_and_explains_itself() {
    let app = app();
    let (cookie, reader) = sign_in(app, "fy@example.org").await;
    let (_, _, empty) = request(app, "GET", "/for-you", &[("cookie", &cookie)], "").await;
    assert!(empty.contains("Nothing to go on yet"), "{empty}");
    // Upvote a few papers about video generation, from before the latest week.
    let service = app.state.search().unwrap();
    let query = paperboy_engine::search::SearchQuery::parse("video generation diffusion").unwrap();
    let latest = app.state.store().latest_day().unwrap().unwrap();
    let before = paperboy_engine::search::Filters { until: latest.checked_sub_days(Days::new(7)), ..Default::default() };
    let liked: Vec<PaperId> = service.rank(&query, paperboy_engine::search::Mode::Hybrid, &before, 3).unwrap().into_iter().map(|h| h.id).collect();
    assert_eq!(liked.len(), 3);
    for id in &liked {
        app.state.store().set_vote(reader, id, Some(Vote::Up), Utc::now()).unwrap();
    }
    let first = ranking(app, reader);
    assert!(first.len() >= 10, "a week of picks: {}", first.len());
    assert!(first.iter().all(|id| !liked.contains(id)));
    // The page shows the picks with why, naming the reader's own upvoted papers.
    let (status, _, page) = request(app, "GET", "/for-you?period=week", &[("cookie", &cookie)], "").await;
    assert_eq!(status, StatusCode::OK);
    let titles: Vec<String> = app.state.store().papers(&liked).unwrap().into_iter().map(|p| p.title).collect();
    assert!(page.contains("Why: "), "{page}");
    assert!(titles.iter().any(|t| page.contains(&format!("close to “{}”", maud::html! { (t) }.into_string()))), "explanations name rated papers");
    assert!(page.contains("which you upvoted"));
    let model = {
        let store = app.state.store();
        let sub = store.subscriber_by_email(&EmailAddress::parse("fy@example.org").unwrap()).unwrap().unwrap();
        recommend::model(&*store, &service, &sub).unwrap()
    };
    let top = app.state.store().papers(&first[..5]).unwrap();
    // Words as the lexicon reads them: two or more letters, digits or '_', lower case.
    let words = |text: &str| -> Vec<String> { text.split(|c: char| !(c.is_alphanumeric() || c == '_')).filter(|w| w.chars().count() >= 2).map(str::to_lowercase).collect() };
    let carries = |text: &str, term: &str| format!(" {} ", words(text).join(" ")).contains(&format!(" {term} "));
    let liked_texts: Vec<String> = app.state.store().papers(&liked).unwrap().into_iter().map(|p| format!("{} {}", p.title, p.abstract_text)).collect();
    let mut with_terms = 0;
    for (because, pick) in recommend::explain_all(&service, &model, &top).into_iter().zip(&top) {
        let close: Vec<&PaperId> = because.iter().filter_map(|b| if let Because::CloseTo { paper, .. } = b { Some(paper) } else { None }).collect();
        assert!(!close.is_empty() && close.iter().all(|p| liked.contains(p)), "{because:?}");
        // Shared terms are in the pick and in as many of the rated papers as it says, and are
        // no stop words.
        for b in &because {
            if let Because::Terms { terms } = b {
                with_terms += 1;
                eprintln!("TERMS {}: {}", pick.title, b.words());
                assert!((1..=3).contains(&terms.len()), "{terms:?}");
                for (term, n) in terms {
                    assert!(carries(&format!("{} {}", pick.title, pick.abstract_text), term), "{term:?} is not in {}", pick.title);
                    assert_eq!(liked_texts.iter().filter(|t| carries(t, term)).count(), *n, "{term:?}");
                    assert!(term.split(' ').all(|w| !["the", "of", "and", "a", "in", "for", "to", "with", "on", "is"].contains(&w)), "{term:?}");
                }
            }
        }
    }
    assert!(with_terms > 0, "the lexical half explains some of the top picks");
    assert!(page.contains("shares terms with papers you rated: “"), "the page shows them");

    // "Not for me" on the top pick: it goes, and its nearest neighbour in the week drops.
    let top = first[0].clone();
    let neighbour = service
        .similar(&top, 300)
        .unwrap()
        .into_iter()
        .map(|h| h.id)
        .find(|id| first.contains(id))
        .expect("a neighbour in the week");
    app.state.store().set_vote(reader, &top, Some(Vote::NotForMe), Utc::now()).unwrap();
    let second = ranking(app, reader);
    assert!(!second.contains(&top), "a paper marked not for me never shows");
    let rank = |list: &[PaperId], id: &PaperId| list.iter().position(|x| x == id).unwrap_or(usize::MAX);
    assert!(rank(&second, &neighbour) > rank(&first, &neighbour), "its near neighbour drops: {} -> {}", rank(&first, &neighbour), rank(&second, &neighbour));

    // Already emailed: never again.
    let sent = second[0].clone();
    let message = paperboy_engine::outbox::OutgoingMessage { message_id: "<fy@t>".into(), recipient: "fy@example.org".into(), subject: "s".into(), html: "h".into(), text: "t".into(), unsubscribe_url: None };
    app.state.store().import_subscriber(&EmailAddress::parse("fy@example.org").unwrap(), paperboy_engine::subscriptions::Frequency::Daily, &Default::default(), true, Utc::now()).unwrap();
    app.state.store().enqueue_digest(reader, "daily:2020-01-01", "2020-01-01".parse().unwrap(), std::slice::from_ref(&sent), &message, Utc::now()).unwrap();
    let (_, _, page) = request(app, "GET", "/for-you?period=week", &[("cookie", &cookie)], "").await;
    assert!(!page.contains(&format!("href=\"/paper/{sent}\"")), "a paper already emailed is not picked");
    assert!(!page.contains(&format!("href=\"/paper/{top}\"")));

    // The private feed.
    let key = app.state.store().feed_key(reader).unwrap();
    assert!(page.contains(&format!("/feeds/for-you/{key}.xml")));
    let (status, headers, feed) = get(app, &format!("/feeds/for-you/{key}.xml")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers["content-type"].to_str().unwrap().starts_with("application/atom+xml"));
    assert!(feed.matches("<entry>").count() >= 10, "{feed}");
    let (status, _, _) = get(app, &format!("/feeds/for-you/{}.xml", "a".repeat(64))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // What it learned from: every vote, each removable.
    let (_, _, learned) = request(app, "GET", "/for-you/learned", &[("cookie", &cookie)], "").await;
    assert!(learned.contains("✕ not for me") && learned.matches("▲ upvoted").count() == 3, "{learned}");
    let token = enc(&csrf_of(&learned));
    let (status, headers, _) = request(app, "POST", "/mark", &[("cookie", &cookie), ("content-type", "application/x-www-form-urlencoded")], format!("csrf={token}&paper={top}&action=clear_vote&next=%2Ffor-you%2Flearned")).await;
    assert_eq!((status, headers["location"].to_str().unwrap()), (StatusCode::SEE_OTHER, "/for-you/learned"));
    assert!(ranking(app, reader).contains(&top), "forgotten: the paper may come back");
}

#[tokio::test]
async fn interests_alone_start_a_new_reader() {
    let app = app();
    let (cookie, _) = sign_in(app, "cold@example.org").await;
    let (_, _, learned) = request(app, "GET", "/for-you/learned", &[("cookie", &cookie)], "").await;
    let token = enc(&csrf_of(&learned));
    let (status, _, _) = request(app, "POST", "/for-you/interests", &[("cookie", &cookie), ("content-type", "application/x-www-form-urlencoded")], format!("csrf={token}&interests=robot+manipulation+and+grasping")).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, _, page) = request(app, "GET", "/for-you?period=week", &[("cookie", &cookie)], "").await;
    assert!(page.contains("close to your interests “robot manipulation and grasping”"), "{page}");
    let first_title = page.split("<h3 class=\"title math\">").nth(1).unwrap().split("</a>").next().unwrap().to_lowercase();
    assert!(first_title.contains("robot") || first_title.contains("manipulat") || first_title.contains("grasp") || first_title.contains("embodied"), "{first_title}");
    // Signed out: sent to sign in.
    let (status, headers, _) = get(app, "/for-you").await;
    assert_eq!((status, headers["location"].to_str().unwrap()), (StatusCode::SEE_OTHER, "/sign-in?next=%2Ffor-you"));
}

#[tokio::test]
async fn the_digest_gets_a_for_you_section_without_repeats() {
    let app = app();
    let email = EmailAddress::parse("fydigest@example.org").unwrap();
    app.state.store().import_subscriber(&email, paperboy_engine::subscriptions::Frequency::Weekly, &Default::default(), true, Utc::now()).unwrap();
    let (_, reader) = sign_in(app, "fydigest@example.org").await;
    let service = app.state.search().unwrap();
    let latest = app.state.store().latest_day().unwrap().unwrap();
    let before = paperboy_engine::search::Filters { until: latest.checked_sub_days(Days::new(7)), ..Default::default() };
    let query = paperboy_engine::search::SearchQuery::parse("reinforcement learning reward").unwrap();
    for h in service.rank(&query, paperboy_engine::search::Mode::Hybrid, &before, 3).unwrap() {
        app.state.store().set_vote(reader, &h.id, Some(Vote::Up), Utc::now()).unwrap();
    }
    let voted: HashSet<PaperId> = app.state.store().votes(reader).unwrap().into_iter().map(|v| v.paper).collect();
    let sub = app.state.store().subscriber_by_email(&email).unwrap().unwrap();
    let period = paperboy_digest::Period { frequency: paperboy_engine::subscriptions::Frequency::Weekly, day: latest };
    let digest = paperboy_digest::compose(&*app.state.store(), Some(&service), &sub, &period).unwrap().expect("a digest");
    assert!(!digest.for_you.is_empty() && digest.for_you.len() <= paperboy_digest::compose::FOR_YOU);
    assert!(digest.for_you.iter().all(|(p, why)| !voted.contains(&p.id) && why.contains("which you upvoted")), "{:?}", digest.for_you);
    let ids: Vec<&PaperId> = digest.papers().map(|p| &p.id).collect();
    assert_eq!(ids.len(), ids.iter().collect::<HashSet<_>>().len(), "no paper twice in one digest");
    let cfg = paperboy_digest::MailConfig { base_url: "http://paperboy.test".into(), from: "p <p@paperboy.test>".into() };
    let message = paperboy_digest::digest_message(&digest, &sub, &cfg);
    assert!(message.html.contains("For you") && message.text.contains("Why: close to"));
    // Sent: the next digest leaves its picks out.
    let picked: Vec<PaperId> = digest.for_you.iter().map(|(p, _)| p.id.clone()).collect();
    let all: Vec<PaperId> = digest.papers().map(|p| p.id.clone()).collect();
    app.state.store().enqueue_digest(sub.id, &period.key(), latest, &all, &message, Utc::now()).unwrap();
    let again = paperboy_digest::compose(&*app.state.store(), Some(&service), &sub, &period).unwrap();
    assert!(again.is_none_or(|d| d.papers().all(|p| !picked.contains(&p.id))));
}

#[tokio::test]
async fn an_author_of_most_of_what_a_reader_rated_comes_first_and_is_named() {
    let app = app();
    let (cookie, reader) = sign_in(app, "fyauthor@example.org").await;
    let mut store = app.state.store();
    let latest = store.latest_day().unwrap().unwrap();
    let week_start = latest.checked_sub_days(Days::new(6)).unwrap();
    let week = store.papers_between(week_start, latest, 100_000).unwrap();
    let earlier = store.papers_between("1990-01-01".parse().unwrap(), week_start.pred_opt().unwrap(), 100_000).unwrap();
    // An author with papers this week and three or more earlier: the one with the most earlier.
    let mut by_author: std::collections::HashMap<String, Vec<&paperboy_core::Paper>> = std::collections::HashMap::new();
    for p in &earlier {
        for key in recommend::paper_author_keys(p) {
            by_author.entry(key).or_default().push(p);
        }
    }
    let (key, papers) = week
        .iter()
        .flat_map(recommend::paper_author_keys)
        .filter_map(|k| by_author.get(&k).filter(|ps| ps.len() >= 3).map(|ps| (k, ps)))
        .max_by_key(|(k, ps)| (ps.len(), k.clone()))
        .expect("an author of the demo corpus with papers this week and three earlier");
    let liked: Vec<PaperId> = papers.iter().take(3).map(|p| p.id.clone()).collect();
    for id in &liked {
        store.set_vote(reader, id, Some(Vote::Up), Utc::now()).unwrap();
    }
    drop(store);
    // Every author on all three rated papers counts; this week's papers by any of them come first.
    let rated = app.state.store().papers(&liked).unwrap();
    let common: HashSet<String> = recommend::paper_author_keys(&rated[0]).into_iter().filter(|k| rated.iter().all(|p| recommend::paper_author_keys(p).contains(k))).collect();
    assert!(common.contains(&key), "{key} is on all three");
    let boosted: HashSet<PaperId> = week.iter().filter(|p| recommend::paper_author_keys(p).iter().any(|k| common.contains(k)) && !liked.contains(&p.id)).map(|p| p.id.clone()).collect();
    assert!(!boosted.is_empty());
    let ranked = ranking(app, reader);
    let top: HashSet<PaperId> = ranked.iter().take(boosted.len()).cloned().collect();
    assert_eq!(top, boosted, "this week's papers by the rated papers' common authors lead the week");
    // The page says so, naming one of those authors, with the number.
    let (_, _, page) = request(app, "GET", "/for-you?period=week", &[("cookie", &cookie)], "").await;
    let (before, _) = page.split_once(", an author of 3 papers you rated").expect("the explanation");
    let named = before.rsplit("by ").next().unwrap();
    let names: Vec<String> = week.iter().flat_map(|p| p.authors.iter()).filter(|a| common.contains(&paperboy_engine::readers::author_key(&a.name))).map(|a| maud::html! { (a.name) }.into_string()).collect();
    assert!(names.iter().any(|n| n == named), "{named:?} is one of {names:?}");
    // What the model learned from lists them.
    let (_, _, learned) = request(app, "GET", "/for-you/learned", &[("cookie", &cookie)], "").await;
    let section = learned.split("Authors of several papers you rated").nth(1).unwrap().split("</section>").next().unwrap();
    assert!(section.contains(&format!("{named}</a> · 3 of your rated papers")), "{section}");
}

#[tokio::test]
async fn a_first_vote_has_the_for_you_lexicon_fitted_before_the_page_is_asked_for() {
    let app = unfitted_app();
    let service = app.state.search().unwrap();
    assert!(service.current_lexical().is_none(), "nothing has needed it yet");
    let (cookie, _) = sign_in(app, "firstvote@example.org").await;
    let (_, _, learned) = request(app, "GET", "/for-you/learned", &[("cookie", &cookie)], "").await;
    assert!(service.current_lexical().is_none(), "what the model learns from is read without it");
    let paper = app.state.store().papers_on(app.state.store().latest_day().unwrap().unwrap()).unwrap()[0].id.clone();
    let token = enc(&csrf_of(&learned));
    let (status, _, _) = request(app, "POST", "/mark", &[("cookie", &cookie), ("content-type", "application/x-www-form-urlencoded")], format!("csrf={token}&paper={paper}&action=up&next=%2F")).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    // Fitted on a thread of its own: no For-you page is asked for meanwhile.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    while service.current_lexical().is_none() {
        assert!(std::time::Instant::now() < deadline, "the lexicon was not fitted after the first vote");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(service.current_lexical().unwrap().papers() > 7_000, "on the demo corpus");
}
