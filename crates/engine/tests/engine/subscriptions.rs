//! Subscriptions: double opt-in, single-use expiring tokens, the 10-minute resend rule.

use chrono::{Duration, TimeZone, Utc};
use paperboy_core::EmailAddress;
use paperboy_engine::subscriptions::{Frequency, Interests, Status, SubscribeOutcome};

use crate::helpers::memory_store;

fn token(outcome: SubscribeOutcome) -> String {
    match outcome {
        SubscribeOutcome::SendConfirmation { token, .. } => token,
        SubscribeOutcome::Nothing => panic!("expected a confirmation to send"),
    }
}

#[test]
fn double_opt_in_with_single_use_expiring_tokens() {
    let mut store = memory_store();
    let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 8, 0, 0).unwrap();
    let ada = EmailAddress::parse("Ada@Example.org").unwrap();
    let interests = Interests::from_fields("protein folding", "q-bio.BM, cs.LG", "diffusion", "survey").unwrap();
    let first = token(store.subscribe(&ada, Frequency::Weekly, &interests, t0).unwrap());
    assert_eq!(store.subscriber_by_email(&ada).unwrap().unwrap().status, Status::Pending);

    // Again within 10 minutes (any case): nothing new is sent.
    let again = EmailAddress::parse("ada@example.ORG").unwrap();
    assert_eq!(store.subscribe(&again, Frequency::Daily, &Interests::default(), t0 + Duration::minutes(9)).unwrap(), SubscribeOutcome::Nothing);
    // After 10 minutes: a new token, and the old one no longer works.
    let second = token(store.subscribe(&again, Frequency::Weekly, &interests, t0 + Duration::minutes(11)).unwrap());
    assert_ne!(first, second);
    assert!(store.confirm(&first, t0 + Duration::minutes(12)).unwrap().is_none());

    // Expired after 72 hours.
    assert!(store.confirm(&second, t0 + Duration::hours(73)).unwrap().is_none());
    let third = token(store.subscribe(&ada, Frequency::Weekly, &interests, t0 + Duration::hours(73)).unwrap());
    let sub = store.confirm(&third, t0 + Duration::hours(74)).unwrap().expect("confirmed");
    assert_eq!(sub.status, Status::Confirmed);
    assert_eq!(sub.frequency, Frequency::Weekly);
    assert_eq!(sub.interests, interests);
    assert_eq!(sub.email.as_str(), "Ada@example.org");
    // Single use.
    assert!(store.confirm(&third, t0 + Duration::hours(74)).unwrap().is_none());
    // Confirmed: subscribing again sends nothing and changes nothing.
    assert_eq!(store.subscribe(&ada, Frequency::Daily, &Interests::default(), t0 + Duration::hours(80)).unwrap(), SubscribeOutcome::Nothing);
    assert_eq!(store.subscribers(10).unwrap().len(), 1);
    assert_eq!(store.subscribers(10).unwrap()[0].frequency, Frequency::Weekly);
}

#[test]
fn interests_from_form_fields_are_checked() {
    let i = Interests::from_fields("  graph neural networks ", " cs.LG ,, math.CO", "GNN, ", "").unwrap();
    assert_eq!(i.text, "graph neural networks");
    assert_eq!(i.categories.len(), 2);
    assert_eq!(i.include, ["gnn"]);
    assert!(Interests::from_fields("", "not-a-category", "", "").is_err());
    assert!(Interests::from_fields(&"x".repeat(501), "", "", "").is_err());
    assert!(Interests::default().is_empty());
}
