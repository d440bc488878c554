//! Per-client rate limits on the routes that cost the most (search) or send email
//! (subscribe): a keyed token bucket per client address; a client over its limit gets 429 with
//! `Retry-After`. The middleware that applies them is `security::rate_limit`.

use std::net::IpAddr;
use std::num::NonZeroU32;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::error::WebError;

/// Requests per client (by IP address) on the routes that cost the most or send email.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// Searches (pages, API, search feeds) per minute; 0 = no limit.
    pub search_per_minute: u32,
    /// Subscribe and sign-in form posts per hour; 0 = no limit.
    pub subscribe_per_hour: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits { search_per_minute: 300, subscribe_per_hour: 20 }
    }
}

pub(crate) struct Limiter {
    search: Option<DefaultKeyedRateLimiter<IpAddr>>,
    subscribe: Option<DefaultKeyedRateLimiter<IpAddr>>,
}

impl Limiter {
    pub(crate) fn new(limits: &RateLimits) -> Self {
        // Bursts of a tenth of the rate (at least 5) are let through at once.
        let keyed = |quota: fn(NonZeroU32) -> Quota, n: u32| {
            NonZeroU32::new(n).map(|n| {
                let burst = NonZeroU32::new((n.get() / 10).max(5).min(n.get())).expect("non-zero");
                RateLimiter::keyed(quota(n).allow_burst(burst))
            })
        };
        Limiter { search: keyed(Quota::per_minute, limits.search_per_minute), subscribe: keyed(Quota::per_hour, limits.subscribe_per_hour) }
    }
}

/// Which limit a route counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bucket {
    /// Searches (pages, API, search feeds).
    Search,
    /// Subscription and sign-in requests (forms and API): each may send an email.
    Subscribe,
}

impl Bucket {
    /// The bucket of a rate-limited route's path.
    pub(crate) fn of(path: &str) -> Bucket {
        if matches!(path, "/subscribe" | "/api/v1/subscriptions" | "/sign-in") {
            Bucket::Subscribe
        } else {
            Bucket::Search
        }
    }
}

impl Limiter {
    /// Counts one request of `client` against `bucket`; over the limit, how many seconds to
    /// wait (429 with `Retry-After`).
    pub(crate) fn check(&self, bucket: Bucket, client: IpAddr) -> Result<(), WebError> {
        let which = match bucket {
            Bucket::Search => &self.search,
            Bucket::Subscribe => &self.subscribe,
        };
        let Some(limiter) = which else { return Ok(()) };
        // Clients seen long ago are forgotten once many are remembered.
        if limiter.len() > 100_000 {
            limiter.retain_recent();
        }
        limiter.check_key(&client).map_err(|not_until| WebError::TooMany(not_until.wait_time_from(DefaultClock::default().now()).as_secs() + 1))
    }
}
