//! Subscribing: the one use case behind the web form, the JSON API and `subscribers import`.
//!
//! A request records the subscription (double opt-in, the rules are in
//! `paperboy_engine::subscriptions`) and, when a confirmation email is due, queues it in the
//! outbox; the delivery worker sends it. The caller learns nothing about whether the address
//! was already known, so neither can the person at the form.

use chrono::{DateTime, Utc};
use paperboy_core::EmailAddress;
use paperboy_engine::outbox::Kind;
use paperboy_engine::readers::SignInRequest;
use paperboy_engine::subscriptions::{Frequency, Interests, SubscribeOutcome};
use paperboy_engine::Store;

use crate::render::{confirmation_message, sign_in_message};
use crate::error::DigestError;

/// Records a subscription request for `email` and queues the confirmation email when one is
/// due (a new address, or a pending one whose last email is older than the resend interval).
/// `base_url` makes the confirmation link absolute. Returns whether an email was queued (for
/// logs and counts, never for the person asking).
pub fn request_subscription(
    store: &mut dyn Store,
    base_url: &str,
    email: &EmailAddress,
    frequency: Frequency,
    interests: &Interests,
    now: DateTime<Utc>,
) -> Result<bool, DigestError> {
    let SubscribeOutcome::SendConfirmation { subscriber, token } = store.subscribe(email, frequency, interests, now)? else { return Ok(false) };
    let message = confirmation_message(subscriber, email.as_str(), &token, &now.to_rfc3339(), base_url);
    store.enqueue_mail(subscriber, Kind::Confirm, &message, now)?;
    tracing::info!(subscriber, "confirmation queued");
    Ok(true)
}

/// Issues a sign-in link for `email` (coming back to the local path `next` once signed in) and
/// queues the email that carries it, unless the address had its hourly share of links (see
/// `paperboy_engine::readers`). Returns whether an email was queued (for logs, never for the
/// person asking: the page says the same either way).
pub fn request_sign_in(store: &mut dyn Store, base_url: &str, email: &EmailAddress, next: Option<&str>, now: DateTime<Utc>) -> Result<bool, DigestError> {
    let SignInRequest::Send { reader, token } = store.request_sign_in(email, now)? else {
        tracing::info!("sign-in link not sent: the address had its links for this hour");
        return Ok(false);
    };
    let message = sign_in_message(reader, email.as_str(), &token, next, &now.to_rfc3339(), base_url);
    store.enqueue_mail(reader, Kind::SignIn, &message, now)?;
    tracing::info!(reader, "sign-in link queued");
    Ok(true)
}
